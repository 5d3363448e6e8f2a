"""Judgment files (`model_judgment/{judge}_single.jsonl` and `{judge}_pair.jsonl`).

Rows keep FastChat's fields and order. `score == -1` (single) and a winner of `"error"`
(pairwise) mean the judge's verdict could not be parsed; those rows are kept in the file, as
FastChat keeps them, and left out of the results with a count.

The rules every reader of these files shares live here, so that `mtbench-show`, `-browse`,
`-agreement` and `--compare` count alike: the grading modes and their file kinds (`MODES`,
`grading_kind`), one row per repeated judgment (`first_parsed`), both orders of a pairwise
match as one verdict (`combined_verdict`, `PairJudgment.combined`), and single scores outside
the judge prompt's scale (`SCORE_SCALE`, `out_of_scale`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from mtbench.data._rows import RowReader, SameIdKind
from mtbench.data.jsonl import read_jsonl
from mtbench.errors import ConfigError

if TYPE_CHECKING:  # questions -> paths -> judgments: a run-time import would be circular
    from mtbench.data.questions import QuestionId

MODES = ("single", "pairwise-baseline", "pairwise-all")
"""The grading modes of `mtbench-judge` and `mtbench-show` (FastChat's `--mode`)."""

KINDS = ("single", "pair")
"""What a mode's rows are, and its file's suffix: `{judge}_single.jsonl`, `{judge}_pair.jsonl`."""

WINNERS = ("model_1", "model_2", "tie", "error")
"""The stored values of `g1_winner`/`g2_winner`: already mapped back to the model order."""

NO_SCORE = -1
"""The score FastChat stores when no rating could be parsed from the judge's reply."""

SCORE_SCALE = (1, 10)
"""The rating scale the single-grading judge prompts ask for: FastChat's four (`single-v1`,
`single-math-v1` and their `-multi-turn` versions in `judge_prompts.jsonl`) all say "you must
rate the response on a scale of 1 to 10". A parsed score outside it (`[[0]]`, `[[11]]`,
`[[100]]`) is kept and counted in the means, as FastChat keeps it, but every reader counts it
and names its models (`out_of_scale`, `out_of_scale_counts`), since one `[[100]]` moves a
model's mean more than any real difference between models."""

SINGLE_FIELDS = (
    "question_id",
    "model",
    "judge",
    "user_prompt",
    "judgment",
    "score",
    "turn",
    "tstamp",
)
PAIR_FIELDS = (
    "question_id",
    "model_1",
    "model_2",
    "g1_winner",
    "g2_winner",
    "judge",
    "g1_user_prompt",
    "g1_judgment",
    "g2_user_prompt",
    "g2_judgment",
    "turn",
    "tstamp",
)
"""FastChat's fields of a single and a pairwise row, in its order."""

JUDGE_META = "judge_meta"
"""The extra field (after FastChat's, which FastChat's readers ignore) that holds one judge
call's provenance: `model` (the snapshot the server says answered), `system_fingerprint`,
`finish_reason`, `usage` (`input_tokens`, `output_tokens`, `reasoning_tokens`), `params` (the
sampling parameters really sent) and `reasoning` (the judge's thinking, never parsed). Single
rows have `judge_meta`; pairwise rows `g1_judge_meta` and `g2_judge_meta`."""

SAMPLE = "sample"
"""The extra field that numbers repeated judgments of one match (`mtbench-judge --samples K`):
2 to K; a row without it is sample 1, so FastChat's rows and a plain run's rows are the first
sample and `--samples 3` after a plain run adds two more. Readers combine an item's samples
into one score (`mtbench.analysis.samples`)."""


def sample_number(extra: Mapping[str, Any]) -> int:
    """A row's sample number (`SAMPLE`): 1 when absent or not a positive integer."""
    value = extra.get(SAMPLE)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 1


@dataclass(frozen=True)
class SingleJudgment:
    """One single-answer grading (a row of `{judge}_single.jsonl`).

    Attributes:
        question_id: The question graded.
        model: The model graded (its answer-file stem).
        judge: `(judge_model, prompt_name)`, e.g. `("gpt-4", "single-v1")`.
        user_prompt: The exact user message sent to the judge.
        judgment: The judge's raw reply.
        score: The parsed rating (int or float as written), or -1 if none could be parsed.
        turn: 1 for the first-turn prompt, 2 for the multi-turn prompt.
        tstamp: `time.time()` when the row was written.
        extra: Fields beyond FastChat's, kept as they are (`judge_meta`, see `JUDGE_META`).
    """

    question_id: QuestionId
    model: str
    judge: tuple[str, str]
    user_prompt: str
    judgment: str
    score: int | float
    turn: int
    tstamp: float = field(default_factory=time.time)
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def metas(self) -> list[dict[str, Any]]:
        """The provenance of the row's judge call (`JUDGE_META`), [{}] if not recorded."""
        return [_meta(self.extra.get(JUDGE_META))]

    @property
    def sample(self) -> int:
        """Which sample of its match the row is (`SAMPLE`), 1 for a plain run's rows."""
        return sample_number(self.extra)

    @property
    def key(self) -> tuple[Any, ...]:
        """What makes two rows the same judgment (a re-run would repeat it)."""
        return (self.question_id, self.model, self.judge, self.turn, self.sample)

    @property
    def parsed(self) -> bool:
        return self.score != NO_SCORE

    def to_row(self) -> dict[str, Any]:
        """The row as FastChat writes it (`SINGLE_FIELDS`, in order), extra fields after."""
        return _row(self, SINGLE_FIELDS)


@dataclass(frozen=True)
class PairJudgment:
    """One pairwise comparison judged in both orders (a row of `{judge}_pair.jsonl`).

    Attributes:
        question_id: The question compared.
        model_1: Shown as Assistant A in game 1 (the evaluated model in baseline mode).
        model_2: Shown as Assistant A in game 2 (the baseline in baseline mode).
        g1_winner: Game 1 verdict: `model_1`, `model_2`, `tie` or `error`.
        g2_winner: Game 2 verdict, already mapped back to `model_1`/`model_2`.
        judge: `(judge_model, prompt_name)`.
        g1_user_prompt: Game 1's user message.
        g1_judgment: Game 1's raw reply.
        g2_user_prompt: Game 2's user message.
        g2_judgment: Game 2's raw reply.
        turn: 1 or 2.
        tstamp: `time.time()` when the row was written.
        extra: Fields beyond FastChat's, kept as they are (`g1_judge_meta`, `g2_judge_meta`).
    """

    question_id: QuestionId
    model_1: str
    model_2: str
    g1_winner: str
    g2_winner: str
    judge: tuple[str, str]
    g1_user_prompt: str
    g1_judgment: str
    g2_user_prompt: str
    g2_judgment: str
    turn: int
    tstamp: float = field(default_factory=time.time)
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def metas(self) -> list[dict[str, Any]]:
        """The provenance of games 1 and 2 (`JUDGE_META`), {} where not recorded."""
        return [_meta(self.extra.get(f"g{game}_{JUDGE_META}")) for game in (1, 2)]

    @property
    def sample(self) -> int:
        """Which sample of its match the row is (`SAMPLE`), 1 for a plain run's rows."""
        return sample_number(self.extra)

    @property
    def key(self) -> tuple[Any, ...]:
        """The same match whichever model was listed first (baseline and all-pairs runs share)."""
        models = frozenset((self.model_1, self.model_2))
        return (self.question_id, models, self.judge, self.turn, self.sample)

    @property
    def parsed(self) -> bool:
        return self.g1_winner != "error" and self.g2_winner != "error"

    @property
    def combined(self) -> str:
        """Both orders as one verdict (`combined_verdict`): `model_1`, `model_2`, `tie`, `error`."""
        return combined_verdict(self.g1_winner, self.g2_winner)

    def to_row(self) -> dict[str, Any]:
        """The row as FastChat writes it (`PAIR_FIELDS`, in order), extra fields after."""
        return _row(self, PAIR_FIELDS)


def score_out_of_scale(score: float) -> bool:
    """Whether a stored single score is a parsed rating outside `SCORE_SCALE` (-1 is not)."""
    low, high = SCORE_SCALE
    return score != NO_SCORE and not low <= score <= high


def out_of_scale(row: SingleJudgment) -> bool:
    """Whether a single-grading row holds a parsed score outside `SCORE_SCALE`."""
    return score_out_of_scale(row.score)


def out_of_scale_counts(rows: Iterable[SingleJudgment]) -> dict[str, int]:
    """Rows with a score outside `SCORE_SCALE`, per model (sorted by name); {} if none."""
    counts: dict[str, int] = {}
    for row in rows:
        if out_of_scale(row):
            counts[row.model] = counts.get(row.model, 0) + 1
    return dict(sorted(counts.items()))


def out_of_scale_warning(counts: Mapping[str, int]) -> str | None:
    """The warning every reader gives for `out_of_scale_counts`, None when there are none.

    E.g. `3 score(s) outside the judge prompt's 1-10 scale, kept as FastChat keeps them (they
    count in the means): model-a (2), model-b (1)`.
    """
    if not counts:
        return None
    low, high = SCORE_SCALE
    models = ", ".join(f"{model} ({count})" for model, count in counts.items())
    return (
        f"{sum(counts.values())} score(s) outside the judge prompt's {low}-{high} scale, kept "
        f"as FastChat keeps them (they count in the means): {models}"
    )


def _row(judgment: SingleJudgment | PairJudgment, names: tuple[str, ...]) -> dict[str, Any]:
    """FastChat's fields of a judgment (`judge` as a JSON list), then its extra fields."""
    row = {name: getattr(judgment, name) for name in names}
    row["judge"] = list(judgment.judge)
    row.update(judgment.extra)
    return row


def _meta(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, dict) else {}


def grading_kind(mode: str) -> str:
    """The kind of judgment a mode makes: `single`, or `pair` for both pairwise modes.

    Both pairwise modes write (and read) the same `{judge}_pair.jsonl`, as in FastChat.

    Raises:
        ConfigError: for a mode not in `MODES`.
    """
    if mode not in MODES:
        raise ConfigError(f"unknown mode {mode!r}; choose one of: {', '.join(MODES)}")
    return "single" if mode == "single" else "pair"


def combined_verdict(g1_winner: str, g2_winner: str) -> str:
    """The verdict of a match judged in both orders.

    FastChat's `show_result` rule (also how the released GPT-4 votes were made): a model wins only
    when both games name it; two ties, or games that disagree, are a tie. A game that could not
    be parsed makes the match `error`, which every reader leaves out (and counts).

    Args:
        g1_winner: Game 1's stored winner, one of `WINNERS`.
        g2_winner: Game 2's, already mapped back to the model order.

    Returns:
        `model_1`, `model_2`, `tie` or `error`.
    """
    if "error" in (g1_winner, g2_winner):
        return "error"
    return g1_winner if g1_winner == g2_winner else "tie"


def _judge_field(fields: RowReader) -> tuple[str, str]:
    value = fields.row.get("judge")
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(item, str) for item in value)
    ):
        raise fields.fail(f"field 'judge' must be [judge_model, prompt_name], got {value!r:.60}")
    return (value[0], value[1])


def _winner_field(fields: RowReader, key: str) -> str:
    value = fields.string(key)
    if value not in WINNERS:
        raise fields.fail(f"field '{key}' must be one of {', '.join(WINNERS)}, got {value!r:.40}")
    return str(value)


def parse_single(row: dict[str, Any], path: Path, line: int) -> SingleJudgment:
    """Validate one single-grading row.

    Fields no FastChat reader uses (`user_prompt`, `tstamp`) are taken when well-typed and are
    never a reason to refuse a row; the others are checked as FastChat's readers need them.
    """
    fields = RowReader(row, path, line)
    return SingleJudgment(
        question_id=fields.question_id(),
        model=fields.string("model"),
        judge=_judge_field(fields),
        user_prompt=fields.unread("user_prompt", "string") or "",
        judgment=fields.string("judgment", optional=True) or "",
        score=fields.number("score"),
        turn=fields.integer("turn"),
        tstamp=fields.unread("tstamp", "number") or 0.0,
        extra={k: v for k, v in row.items() if k not in SINGLE_FIELDS},
    )


def parse_pair(row: dict[str, Any], path: Path, line: int) -> PairJudgment:
    """Validate one pairwise row; FastChat's older single-`winner` rows count for both games.

    As in `parse_single`, the prompts and `tstamp` (never read by FastChat) are not checked.
    """
    fields = RowReader(row, path, line)
    if "g1_winner" not in row and "winner" in row:
        g1 = g2 = _winner_field(fields, "winner")
    else:
        g1, g2 = _winner_field(fields, "g1_winner"), _winner_field(fields, "g2_winner")
    return PairJudgment(
        question_id=fields.question_id(),
        model_1=fields.string("model_1"),
        model_2=fields.string("model_2"),
        g1_winner=g1,
        g2_winner=g2,
        judge=_judge_field(fields),
        g1_user_prompt=fields.unread("g1_user_prompt", "string") or "",
        g1_judgment=fields.string("g1_judgment", optional=True) or "",
        g2_user_prompt=fields.unread("g2_user_prompt", "string") or "",
        g2_judgment=fields.string("g2_judgment", optional=True) or "",
        turn=fields.integer("turn", optional=True) or 1,
        tstamp=fields.unread("tstamp", "number") or 0.0,
        extra={k: v for k, v in row.items() if k not in PAIR_FIELDS and k != "winner"},
    )


def load_single_judgments(path: str | Path) -> Iterator[SingleJudgment]:
    """Yield every row of a single-grading file, in file order, validated.

    Raises:
        DataError: if the file is missing or unreadable, or naming the line of a row that is not
            valid JSON or not a valid judgment row, or of the first id of the other kind in a
            file that mixes integer and string question ids (raised when iteration reaches it).
    """
    return _parse_file(Path(path), parse_single)


def load_pair_judgments(path: str | Path) -> Iterator[PairJudgment]:
    """Yield every row of a pairwise file, in file order, validated.

    Raises:
        DataError: if the file is missing or unreadable, or naming the line of a row that is not
            valid JSON or not a valid judgment row, or of the first id of the other kind in a
            file that mixes integer and string question ids (raised when iteration reaches it).
    """
    return _parse_file(Path(path), parse_pair)


Judgment = TypeVar("Judgment", SingleJudgment, PairJudgment)


def _parse_file(
    path: Path, parse: Callable[[dict[str, Any], Path, int], Judgment]
) -> Iterator[Judgment]:
    """Each row of a judgment file, parsed, as iteration reaches it; ids all of one kind."""
    kinds = SameIdKind(path)
    for line, row in read_jsonl(path):
        judgment = parse(row, path, line)
        kinds.check(judgment.question_id, line)
        yield judgment


def first_parsed(
    rows: Iterable[Judgment], key: Callable[[Judgment], Hashable] | None = None
) -> tuple[list[Judgment], int]:
    """One row per judgment: the first parsed row of each key, else the first row.

    A judgment repeated in a file (a re-run after a crash, two runs appended to one file) counts
    once, the first row with a parsed verdict (README, "Deliberate differences from FastChat";
    FastChat counts every copy). Every command that reads judgment files applies this rule.

    Args:
        rows: Judgments in file order.
        key: What makes two rows the same judgment (default: the row's `key`, i.e. question,
            model(s) in either order, judge and turn). A caller that needs one score per item
            regardless of the judge prompt passes its own, e.g. `(question_id, turn)`.

    Returns:
        The rows kept, in the order their keys first appear, and the number of rows left out.
    """
    chosen: dict[Hashable, Judgment] = {}
    count = 0
    for row in rows:
        count += 1
        name = row.key if key is None else key(row)
        kept = chosen.get(name)
        if kept is None or (row.parsed and not kept.parsed):
            chosen[name] = row
    return list(chosen.values()), count - len(chosen)
