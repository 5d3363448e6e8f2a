"""A CI gate on MT-bench results: thresholds that fail a build only on evidence, not on noise.

Three checks, each optional (`mtbench-show` flags):

* `--fail-under SCORE`: a model fails when its score is below SCORE beyond doubt: the upper end
  of its question-bootstrap interval is below SCORE. Without an interval (`--bootstrap 0`, or a
  model judged on too few questions to resample, `coverage.MIN_INTERVAL_QUESTIONS`) its score
  itself is compared. In pairwise modes the score is the adjusted win rate (0 to 1).
* `--compare A B --fail-if-worse [MARGIN]`: fails when B is worse than A by more than MARGIN
  beyond doubt: the upper end of the paired-bootstrap interval of B - A (over the items both
  runs scored) is below -MARGIN; without intervals, B - A itself.
* `--max-missing SHARE`: a model (or a compared pair of runs) fails when more than SHARE (0 to 1)
  of the bench's expected judgments are missing or without a parsable verdict (`coverage`).

A gate that fails makes `mtbench-show` exit with `EXIT_GATE` (3), distinct from an error (1) and
a usage error (2); the verdict is printed under the report and carried in `--format json` as
`gate`. Noise alone never fails the first two checks: an interval that reaches the threshold
passes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from mtbench.analysis.compare import Comparison
from mtbench.analysis.coverage import Coverage
from mtbench.analysis.pooling import PooledReport
from mtbench.analysis.scores import ScoreReport
from mtbench.errors import ConfigError

EXIT_GATE = 3
"""The exit status of `mtbench-show` when a gate check fails (1 is an error, 2 a usage error)."""


@dataclass(frozen=True)
class GateCheck:
    """One check of one model or comparison.

    Attributes:
        check: `fail-under`, `fail-if-worse` or `max-missing`.
        subject: The model, or `B vs A` for a comparison.
        value: What was measured: the score, B - A, or the missing share (0 to 1).
        bound: The interval end the check used (upper end), None when it used `value`.
        threshold: The limit: SCORE, -MARGIN, or SHARE.
        passed: Whether the check passed.
        reason: One line saying why it passed or failed.
    """

    check: str
    subject: str
    value: float
    bound: float | None
    threshold: float
    passed: bool
    reason: str


@dataclass(frozen=True)
class GateVerdict:
    """All checks of one `mtbench-show` run."""

    checks: tuple[GateCheck, ...]

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    @property
    def exit_status(self) -> int:
        """0 when every check passed, else `EXIT_GATE`."""
        return 0 if self.passed else EXIT_GATE

    def lines(self) -> list[str]:
        """`gate: passed (3 checks)` or `gate: FAILED ...`, then one line per failed check."""
        failed = [check for check in self.checks if not check.passed]
        if not failed:
            return [f"gate: passed ({len(self.checks)} check(s))"]
        head = f"gate: FAILED ({len(failed)} of {len(self.checks)} check(s); exit {EXIT_GATE})"
        return [head, *(f"gate: {check.reason}" for check in failed)]

    def as_json(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "exit_status": self.exit_status,
            "checks": [
                {k: _json_value(v) for k, v in asdict(check).items()} for check in self.checks
            ],
        }


def _json_value(value: Any) -> Any:
    return None if isinstance(value, float) and math.isnan(value) else value


def fail_under_checks(
    scores: Mapping[str, tuple[float, float | None]], threshold: float, unit: str = "score"
) -> list[GateCheck]:
    """`--fail-under`: each model's score against `threshold`.

    Args:
        scores: Per model, its score and the upper end of its interval (None or NaN: none).
        threshold: SCORE.
        unit: What the score is, for the reason line (`score`, `adjusted win rate`).
    """
    checks = []
    for model, (score, upper) in scores.items():
        has_interval = upper is not None and not math.isnan(upper)
        measured = upper if has_interval else score
        assert measured is not None
        passed = not measured < threshold
        if has_interval:
            why = (
                f"its interval reaches {threshold:g} (upper end {upper:.4f})"
                if passed
                else f"its whole interval is below {threshold:g} (upper end {upper:.4f})"
            )
        else:
            why = f"{'not ' if passed else ''}below {threshold:g} (no interval to allow for noise)"
        reason = f"fail-under {threshold:g}: {model} {unit} {score:.4f}, {why}"
        checks.append(
            GateCheck(
                "fail-under",
                model,
                score,
                upper if has_interval else None,
                threshold,
                passed,
                reason,
            )
        )
    return checks


def fail_if_worse_check(diff: float, upper: float | None, margin: float) -> GateCheck:
    """`--fail-if-worse MARGIN`: B - A (and the upper end of its paired interval) vs -MARGIN.

    Raises:
        ConfigError: for a negative or non-finite margin.
    """
    check_margin(margin)
    has_interval = upper is not None and not math.isnan(upper)
    measured = upper if has_interval else diff
    assert measured is not None
    passed = not measured < -margin
    limit = f"-{margin:g}" if margin else "0"
    if has_interval:
        why = (
            f"the interval's upper end {upper:+.4f} is below {limit}: B is worse"
            if not passed
            else f"the interval reaches {limit} (upper end {upper:+.4f}): not shown worse"
        )
    else:
        why = f"{'below' if not passed else 'not below'} {limit} (no interval to allow for noise)"
    reason = f"fail-if-worse {margin:g}: B - A = {diff:+.4f}; {why}"
    return GateCheck(
        "fail-if-worse", "B vs A", diff, upper if has_interval else None, -margin, passed, reason
    )


def max_missing_checks(coverage: Mapping[str, Coverage], share: float) -> list[GateCheck]:
    """`--max-missing SHARE`: each model's missing share (`Coverage.missing_share`).

    Raises:
        ConfigError: for a share outside 0 to 1.
    """
    check_share(share)
    checks = []  # NaN shares cannot pass: `check_share` refuses them
    for model, entry in coverage.items():
        missing = entry.missing_share
        passed = missing <= share
        reason = (
            f"max-missing {share:g}: {model} misses {entry.expected - entry.judged} of "
            f"{entry.expected} judgments ({missing:.1%}), {'within' if passed else 'over'} the cap"
        )
        checks.append(GateCheck("max-missing", model, missing, None, share, passed, reason))
    return checks


def max_missing_pair_check(compared: int, expected: int, share: float) -> GateCheck:
    """`--max-missing SHARE` for `--compare`: the expected items not scored by both runs.

    Raises:
        ConfigError: for a share outside 0 to 1.
    """
    check_share(share)
    missing = 1 - compared / expected if expected else 0.0
    passed = missing <= share
    reason = (
        f"max-missing {share:g}: {expected - compared} of {expected} items not scored by both "
        f"runs ({missing:.1%}), {'within' if passed else 'over'} the cap"
    )
    return GateCheck("max-missing", "B vs A", missing, None, share, passed, reason)


def check_threshold(score: float, single: bool = True) -> None:
    """Raises ConfigError unless `score` is a finite `--fail-under` on the mode's scale: the
    judge's 1-10 scores (single), or an adjusted win rate from 0 to 1 (pairwise)."""
    if not math.isfinite(score):
        raise ConfigError(f"--fail-under takes a finite score, got {score}")
    if not single and not 0 <= score <= 1:
        raise ConfigError(
            f"--fail-under {score:g}: pairwise modes gate the adjusted win rate, from 0 to 1"
        )


def check_margin(margin: float) -> None:
    """Raises ConfigError unless `margin` is a finite number of 0 or more (`--fail-if-worse`)."""
    if not margin >= 0 or math.isinf(margin):
        raise ConfigError(f"--fail-if-worse takes a margin of 0 or more, got {margin}")


def check_share(share: float) -> None:
    """Raises ConfigError unless `share` is a number from 0 to 1 (`--max-missing`)."""
    if not 0 <= share <= 1:
        raise ConfigError(f"--max-missing is a share from 0 to 1 (e.g. 0.05), got {share}")


def _upper(row: Mapping[Any, Any]) -> float | None:
    value = row.get("upper")
    return None if value is None or pd.isna(value) else float(value)


def report_gate(
    report: ScoreReport, fail_under: float | None = None, max_missing: float | None = None
) -> GateVerdict | None:
    """The gate of `mtbench-show` on one judge's report (None when no check is asked for).

    Raises:
        ConfigError: for `max_missing` outside 0 to 1, or without a question file to count
            the expected judgments from.
    """
    checks: list[GateCheck] = []
    if fail_under is not None:
        single = report.mode == "single"
        check_threshold(fail_under, single)
        column = "score" if single else "win_rate_adjusted"
        unit = "score" if single else "adjusted win rate"
        rows = report.summary.to_dict(orient="index")
        scores = {str(m): (float(row[column]), _upper(row)) for m, row in rows.items()}
        checks += fail_under_checks(scores, fail_under, unit)
        # A model the bench expects but nothing scored (listed, or all its rows stale) fails.
        for model, entry in (report.coverage or {}).items():
            if model not in scores and not entry.judged:
                reason = f"fail-under {fail_under:g}: {model} has no {unit} (no judgment used)"
                checks.append(
                    GateCheck("fail-under", model, math.nan, None, fail_under, False, reason)
                )
    if max_missing is not None:
        if report.coverage is None:
            raise ConfigError("--max-missing counts against the question file, which is missing")
        checks += max_missing_checks(report.coverage, max_missing)
    return GateVerdict(tuple(checks)) if checks else None


def comparison_gate(
    comparison: Comparison,
    margin: float | None = None,
    max_missing: float | None = None,
    expected: int | None = None,
) -> GateVerdict | None:
    """The gate of `mtbench-show --compare A B` (None when no check is asked for).

    Args:
        comparison: B against A.
        margin: `--fail-if-worse MARGIN`.
        max_missing: `--max-missing SHARE`.
        expected: The bench's expected items (`coverage.expected_items`), for `max_missing`.

    Raises:
        ConfigError: for a bad margin or share, or `max_missing` without `expected`.
    """
    checks: list[GateCheck] = []
    overall = comparison.groups.loc["all"].to_dict()
    if margin is not None:
        checks.append(fail_if_worse_check(float(overall["diff"]), _upper(overall), margin))
    if max_missing is not None:
        if not expected:
            raise ConfigError("--max-missing counts against the question file, which is missing")
        checks.append(max_missing_pair_check(int(overall["items"]), expected, max_missing))
    return GateVerdict(tuple(checks)) if checks else None


def pooled_gate(report: PooledReport, fail_under: float | None = None) -> GateVerdict | None:
    """The gate of `mtbench-show` over several judges: `--fail-under` on the pooled scores."""
    if fail_under is None:
        return None
    check_threshold(fail_under)
    rows = report.scores.to_dict(orient="index")
    scores = {str(m): (float(row["pooled"]), _upper(row)) for m, row in rows.items()}
    return GateVerdict(tuple(fail_under_checks(scores, fail_under, "pooled score")))
