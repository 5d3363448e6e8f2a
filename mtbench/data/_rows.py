"""Field checks shared by the record loaders, each failing with file:line and the reason."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from mtbench.errors import DataError


class RowReader:
    """Typed access to the fields of one parsed JSONL row, for clear validation errors.

    Args:
        row: The parsed JSON object.
        path: The file it came from.
        line: Its 1-based line number.
    """

    def __init__(self, row: dict[str, Any], path: Path, line: int):
        self.row = row
        self.path = path
        self.line = line

    def fail(self, reason: str) -> DataError:
        return DataError(reason, self.path, self.line)

    def _get(self, key: str, optional: bool) -> Any:
        if key not in self.row:
            if optional:
                return None
            raise self.fail(f"missing field '{key}'")
        return self.row[key]

    def _typed(self, key: str, optional: bool, is_kind: Callable[[Any], bool], kind: str) -> Any:
        """The field's value if `is_kind` accepts it; None for an absent or null optional one."""
        value = self._get(key, optional)
        if value is None and optional:
            return None
        if not is_kind(value):
            raise self.fail(f"field '{key}' must be {kind}, got {value!r:.60}")
        return value

    def question_id(self, key: str = "question_id") -> Any:
        """A question id: a JSON integer or string (`mtbench.data.questions.QuestionId`)."""
        return self._typed(key, False, is_question_id, "an integer or a string")

    def integer(self, key: str, optional: bool = False) -> Any:
        return self._typed(key, optional, _is_integer, "an integer")

    def number(self, key: str, optional: bool = False) -> Any:
        return self._typed(key, optional, _is_number, "a number")

    def string(self, key: str, optional: bool = False) -> Any:
        return self._typed(key, optional, _is_string, "a string")

    def unread(self, key: str, kind: str) -> Any:
        """A field FastChat never reads: its value if it is of `kind`, else None (never an error).

        FastChat runs a file whatever such a field holds, so neither do we refuse it for that.

        Args:
            key: The field.
            kind: `string`, `integer` or `number`.
        """
        value = self.row.get(key)
        return value if _UNREAD_KINDS[kind](value) else None

    def strings(self, key: str, optional: bool = False, non_empty: bool = True) -> Any:
        value = self._typed(key, optional, _is_strings, "a list of strings")
        if value is None:
            return None
        if non_empty and not value:
            raise self.fail(f"field '{key}' must not be empty")
        return tuple(value)


class SameIdKind:
    """Refuses a file whose question ids mix integers and strings.

    FastChat sorts a file's ids as given (`reorg_answer_file`, `clean_judgment.py`), which raises
    `TypeError` on a mix; so does every table here that orders questions.

    Args:
        path: The file being read.
    """

    def __init__(self, path: Path):
        self.path = path
        self._first: tuple[str, int] | None = None

    def check(self, question_id: Any, line: int) -> None:
        """Remember the first id's kind; raise `DataError` at the first id of the other kind."""
        kind = id_kind(question_id)
        if self._first is None:
            self._first = (kind, line)
            return
        first_kind, first_line = self._first
        if kind != first_kind:
            raise DataError(
                f"question_id {question_id!r:.60} is {kind}, but line {first_line}'s is "
                f"{first_kind}: a file must not mix integer and string question ids (they cannot "
                "be sorted together; FastChat would crash on them too)",
                self.path,
                line,
            )


def id_kind(question_id: Any) -> str:
    """`a string` or `an integer`: the two kinds of question id, which do not mix."""
    return "a string" if isinstance(question_id, str) else "an integer"


def is_question_id(value: Any) -> bool:
    """A JSON integer (not true/false) or a JSON string: what FastChat can key and sort by."""
    return isinstance(value, str) or _is_integer(value)


# JSON's true and false are ints to Python; a field that wants a number does not take them.
def _is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_string(value: Any) -> bool:
    return isinstance(value, str)


def _is_strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


_UNREAD_KINDS: dict[str, Callable[[Any], bool]] = {
    "string": _is_string,
    "integer": _is_integer,
    "number": _is_number,
}
