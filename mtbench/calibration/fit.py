"""How a judge's MT-bench averages relate to GPT-4's: a linear fit with honest uncertainty.

The model of a calibration: for each official model m, the judge's average y_m is a linear
function of its GPT-4 average x_m plus a model-specific deviation,

    y_m = intercept + slope * x_m + e_m,   e_m ~ (0, residual_sd²),

fitted by least squares with the GPT-4 scores as the fixed reference (they cannot be re-judged;
the judge's averages carry the noise). A judge score y then maps to the GPT-4 scale by inverting
the line, x = (y - intercept) / slope (the classical calibration, or inverse prediction,
problem). The line's uncertainty is least squares' own, given the GPT-4 scores (the models are
chosen, not sampled): intercept, slope and residual SD are drawn from their sampling
distribution (`_line_draws`, which gives the classical t intervals), and `Fit.estimate` maps a
score through those draws together with a model-specific deviation and (when given) the score's
own bootstrap over questions. The correlations' intervals come from a bootstrap over models
(resampling them with replacement). Both use `BootstrapSpec`'s count, seed and confidence.
Simulated noisy linear judges (tests/test_calibration.py) land inside the 95% intervals about
95% of the time, at 6 models as at 31.

Verdicts (mtbench's rules, stated in `NOT_CALIBRATABLE`/`WEAK` reasons):

* not calibratable: fewer than `MIN_MODELS` models, or no evidence that the judge orders models
  as GPT-4 did (the slope's or Spearman's interval reaches 0). Nothing is mapped.
* weak: fewer than `FEW_MODELS` models, or Spearman below `WEAK_SPEARMAN` (the judge swaps the
  order of models GPT-4 told apart). Mapped, with a warning wherever the mapping is used.
* calibrated: otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mtbench.analysis.bootstrap import BootstrapSpec
from mtbench.errors import DataError

MIN_MODELS = 5
"""Below this many models a fit (two parameters, a residual spread) is not attempted."""
FEW_MODELS = 10
"""Below this many models the slope's interval is wide: the calibration is weak."""
WEAK_SPEARMAN = 0.9
"""Below this rank correlation the judge reorders models GPT-4 ranked apart: weak. Judges that
track GPT-4 well reach 0.95 and more over the 31 official models, which span 2.6 to 9.0."""

CALIBRATED = "calibrated"
WEAK = "weak"
NOT_CALIBRATABLE = "not calibratable"


@dataclass(frozen=True)
class ModelPoint:
    """One official model in a calibration.

    Attributes:
        model: Its name (the official answer file's).
        reference: Its GPT-4 average, 1-10 (published, or over the same items from the official
            per-item judgments).
        judge: The calibrated judge's average over its scored items, 1-10.
        judgments: How many judge scores the average rests on.
    """

    model: str
    reference: float
    judge: float
    judgments: int


def finite_or_none(value: float) -> float | None:
    """`value` as a float, None where it is NaN or infinite (for JSON)."""
    return float(value) if np.isfinite(value) else None


@dataclass(frozen=True)
class Interval:
    """A point estimate and its bootstrap percentile interval (NaN ends when not computable)."""

    value: float
    lower: float
    upper: float

    def as_dict(self) -> dict[str, float | None]:
        """`{"value", "lower", "upper"}`, a NaN or infinite end as None (JSON has neither)."""
        return {k: finite_or_none(v) for k, v in vars(self).items()}


@dataclass(frozen=True)
class Fit:
    """A judge's linear relation to GPT-4's scale over the official models.

    Attributes:
        points: The models fitted, in the order given.
        intercept, slope: Of judge = intercept + slope * GPT-4, with intervals.
        residual_sd: Spread of the models around the line, in judge points (n - 2 degrees of
            freedom).
        pearson, spearman, kendall: Correlations of the judge's and GPT-4's averages over the
            models, with bootstrap intervals over models.
        verdict: `CALIBRATED`, `WEAK` or `NOT_CALIBRATABLE`.
        reasons: Why the verdict is not `CALIBRATED` (one sentence each).
        spec: The bootstrap used.
        draws: Draws of (intercept, slope, residual_sd) from their sampling distribution,
            shape (resamples, 3) (`_line_draws`).
    """

    points: tuple[ModelPoint, ...]
    intercept: Interval
    slope: Interval
    residual_sd: float
    pearson: Interval
    spearman: Interval
    kendall: Interval
    verdict: str
    reasons: tuple[str, ...]
    spec: BootstrapSpec
    draws: np.ndarray = field(repr=False, compare=False)

    @property
    def mappable(self) -> bool:
        """Whether judge scores may be put on the GPT-4 scale (verdict not `NOT_CALIBRATABLE`)."""
        return self.verdict != NOT_CALIBRATABLE

    def to_reference(self, judge_score: float) -> float:
        """A judge score on the GPT-4 scale by the fitted line: (score - intercept) / slope."""
        return (judge_score - self.intercept.value) / self.slope.value

    def residuals(self) -> dict[str, float]:
        """Per model: GPT-4 average minus its judge average mapped to the GPT-4 scale."""
        return {p.model: p.reference - self.to_reference(p.judge) for p in self.points}

    def estimate(
        self, score: float, score_draws: Sequence[float] | np.ndarray | None = None
    ) -> Interval:
        """A judge score on the GPT-4 scale, with an interval holding every uncertainty known.

        Each draw k maps a draw of `score_draws` (the score's own bootstrap over questions,
        if given; else `score`) minus a model-specific deviation drawn from N(0, residual_sd_k)
        through the inverse of fit draw k. The interval is the draws' percentile interval at
        `spec.confidence`; the point is `to_reference(score)`.

        Raises:
            DataError: if the fit is not calibratable (nothing may be mapped).
        """
        if not self.mappable:
            raise DataError("the judge is not calibratable: " + " ".join(self.reasons))
        draws = self.draws
        count = len(draws)
        rng = np.random.default_rng(self.spec.seed + 1)
        if score_draws is not None and len(score_draws) > 0:
            scores = rng.choice(np.asarray(score_draws, dtype=float), size=count)
        else:
            scores = np.full(count, score)
        deviation = rng.standard_normal(count) * np.nan_to_num(draws[:, 2])
        mapped = (scores - draws[:, 0] - deviation) / draws[:, 1]
        lower, upper = _percentiles(mapped, self.spec.confidence)
        return Interval(self.to_reference(score), lower, upper)


def fit_calibration(
    points: Sequence[ModelPoint],
    spec: BootstrapSpec = BootstrapSpec(),
    caveats: Sequence[str] = (),
) -> Fit:
    """Fit the judge's averages against GPT-4's over `points`, with bootstrap intervals.

    Args:
        points: One per official model (at least 3; `MIN_MODELS` for a verdict other than
            `NOT_CALIBRATABLE`).
        spec: Draws, seed and confidence of every interval.
        caveats: Reasons, found by the caller, why the calibration is at most `WEAK` (e.g. the
            judged questions cover few categories); one sentence each.

    Raises:
        DataError: with fewer than 3 models, or when every model has the same GPT-4 score
            (nothing to fit a line to).
    """
    from scipy import stats  # imported here: mtbench-show imports this module at start-up

    if len(points) < 3:
        raise DataError(f"a calibration needs at least 3 models, got {len(points)}")
    x = np.array([p.reference for p in points])
    y = np.array([p.judge for p in points])
    if np.ptp(x) == 0:
        raise DataError(
            "every calibration model has the same GPT-4 score; choose models that differ"
        )
    resamples = max(spec.resamples, 1)
    rng = np.random.default_rng(spec.seed)
    intercept, slope, spread = (float(v[0]) for v in _lines(x[None, :], y[None, :]))
    draws = _line_draws(x, intercept, slope, spread, resamples, rng)
    intercepts, slopes = draws[:, 0], draws[:, 1]
    index = rng.integers(0, len(points), size=(resamples, len(points)))
    pearsons = _pearson(x[index], y[index])
    spearmans = _spearman_rows(x[index], y[index], stats)
    kendalls = _kendall_rows(x[index], y[index])
    fit = Fit(
        points=tuple(points),
        intercept=_interval(intercept, intercepts, spec),
        slope=_interval(slope, slopes, spec),
        residual_sd=spread,
        pearson=_interval(float(_pearson(x[None, :], y[None, :])[0]), pearsons, spec),
        spearman=_interval(
            float(_spearman_rows(x[None, :], y[None, :], stats)[0]), spearmans, spec
        ),
        kendall=_interval(float(_kendall_rows(x[None, :], y[None, :])[0]), kendalls, spec),
        verdict=CALIBRATED,
        reasons=(),
        spec=spec,
        draws=draws,
    )
    verdict, reasons = _verdict(fit)
    if caveats and verdict != NOT_CALIBRATABLE:
        verdict, reasons = WEAK, (*reasons, *caveats)
    return Fit(**{**vars(fit), "verdict": verdict, "reasons": reasons})


def _verdict(fit: Fit) -> tuple[str, tuple[str, ...]]:
    n = len(fit.points)
    if n < MIN_MODELS:
        return NOT_CALIBRATABLE, (f"{n} models are too few to fit (at least {MIN_MODELS}).",)
    judged = {p.judge for p in fit.points}
    if len(judged) == 1:
        return NOT_CALIBRATABLE, (
            f"The judge gives every model the same average ({judged.pop():.2f}): nothing to "
            "relate.",
        )
    unrelated = []
    if not fit.slope.lower > 0:
        unrelated.append(f"the slope's interval [{fit.slope.lower:.2f}, {fit.slope.upper:.2f}]")
    if not fit.spearman.lower > 0:
        unrelated.append(
            f"Spearman's interval [{fit.spearman.lower:.2f}, {fit.spearman.upper:.2f}]"
        )
    if unrelated:
        return NOT_CALIBRATABLE, (
            "No evidence that the judge orders models as GPT-4 did: "
            + " and ".join(unrelated)
            + " reach 0.",
        )
    reasons = []
    if n < FEW_MODELS:
        reasons.append(f"Only {n} models (fewer than {FEW_MODELS}): the mapping is uncertain.")
    if fit.spearman.value < WEAK_SPEARMAN:
        reasons.append(
            f"Spearman {fit.spearman.value:.3f} is below {WEAK_SPEARMAN:.2f}: the judge reorders "
            "models GPT-4 ranked apart."
        )
    return (WEAK, tuple(reasons)) if reasons else (CALIBRATED, ())


def _lines(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Least-squares intercept, slope and residual SD of each row of (x, y): shape (draws, n)."""
    n = x.shape[1]
    dx = x - x.mean(axis=1, keepdims=True)
    dy = y - y.mean(axis=1, keepdims=True)
    sxx = (dx * dx).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = np.where(sxx > 0, (dx * dy).sum(axis=1) / sxx, np.nan)
        intercept = y.mean(axis=1) - slope * x.mean(axis=1)
        residual = y - intercept[:, None] - slope[:, None] * x
        spread = np.sqrt((residual * residual).sum(axis=1) / max(n - 2, 1))
    return intercept, slope, spread


def _line_draws(
    x: np.ndarray,
    intercept: float,
    slope: float,
    spread: float,
    count: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Draws of (intercept, slope, residual SD) from their sampling distribution given `x`.

    sigma² = (n - 2) s² / chi²(n - 2), then (intercept, slope) ~ N(fit, sigma² (XᵀX)⁻¹): the
    distribution behind least squares' t intervals, exact for normal deviations. The GPT-4
    scores are the fixed design (chosen models, not sampled), so the intervals are conditional
    on them; resampling models instead (a pairs bootstrap) covers only 85-90% at 6-12 models.
    """
    n = len(x)
    design = np.column_stack([np.ones(n), x])
    covariance = np.linalg.inv(design.T @ design)
    sigma = np.sqrt((n - 2) * spread**2 / rng.chisquare(n - 2, size=count))
    normal = rng.standard_normal((count, 2)) @ np.linalg.cholesky(covariance).T
    coefficients = np.array([intercept, slope]) + sigma[:, None] * normal
    return np.column_stack([coefficients, sigma])


def _pearson(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson correlation of each row of (x, y); NaN where a row is constant."""
    dx = x - x.mean(axis=1, keepdims=True)
    dy = y - y.mean(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (dx * dy).sum(axis=1) / np.sqrt((dx * dx).sum(axis=1) * (dy * dy).sum(axis=1))


def _spearman_rows(x: np.ndarray, y: np.ndarray, stats: Any) -> np.ndarray:
    """Spearman's rho of each row of (x, y): Pearson's of the ranks (ties averaged, as scipy's
    `spearmanr`); NaN where a row is constant. The point and its draws share this one
    computation, so a point never falls outside identical draws by a rounding."""
    return _pearson(stats.rankdata(x, axis=1), stats.rankdata(y, axis=1))


def _kendall_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Kendall's tau-b of each row of (x, y), as scipy defines it (ties in x or y leave a pair
    out of that side's count); NaN where a row is constant."""
    sx = np.sign(x[:, :, None] - x[:, None, :])
    sy = np.sign(y[:, :, None] - y[:, None, :])
    n = x.shape[1]
    pairs = n * (n - 1) / 2
    untied_x = pairs - ((sx == 0).sum(axis=(1, 2)) - n) / 2
    untied_y = pairs - ((sy == 0).sum(axis=(1, 2)) - n) / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        return (sx * sy).sum(axis=(1, 2)) / 2 / np.sqrt(untied_x * untied_y)


def _percentiles(values: np.ndarray, confidence: float) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return float("nan"), float("nan")
    tail = (1.0 - confidence) / 2.0
    lower, upper = np.quantile(finite, [tail, 1.0 - tail])
    return float(lower), float(upper)


def _interval(value: float, draws: np.ndarray, spec: BootstrapSpec) -> Interval:
    lower, upper = _percentiles(draws, spec.confidence)
    return Interval(float(value), lower, upper)
