"""Field checks shared by the record loaders, each failing with file:line and the reason."""

from __future__ import annotations

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

    def integer(self, key: str, optional: bool = False) -> Any:
        value = self._get(key, optional)
        if value is None and optional:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(f"field '{key}' must be an integer, got {value!r:.60}")
        return value

    def number(self, key: str, optional: bool = False) -> Any:
        value = self._get(key, optional)
        if value is None and optional:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(f"field '{key}' must be a number, got {value!r:.60}")
        return value

    def string(self, key: str, optional: bool = False) -> Any:
        value = self._get(key, optional)
        if value is None and optional:
            return None
        if not isinstance(value, str):
            raise self.fail(f"field '{key}' must be a string, got {value!r:.60}")
        return value

    def strings(self, key: str, optional: bool = False, non_empty: bool = True) -> Any:
        value = self._get(key, optional)
        if value is None and optional:
            return None
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise self.fail(f"field '{key}' must be a list of strings, got {value!r:.60}")
        if non_empty and not value:
            raise self.fail(f"field '{key}' must not be empty")
        return tuple(value)
