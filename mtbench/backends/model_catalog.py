"""What a server's model listing tells us: names close to an unknown one, and shutdown dates.

An OpenAI-compatible server lists its models at `GET {base_url}/models`, one row per model:
`{"id": "gpt-4o", "owned_by": "openai", ...}`. Some listings also publish when a model goes
away, as `shutdown_date` or `deprecation_date` (an ISO date `"2027-01-14"` or a unix
timestamp). Two uses, both pure functions of the rows so that they can be tested without a
server:

* a chat request refused with "model not found" (HTTP 404, or 400 with code `model_not_found`)
  becomes one line naming the model, the server and the closest names it lists
  (`unknown_model_message`); for mtbench's default judge, `gpt-4`, which OpenAI shut down on
  2026-10-23, the line also says how to choose another judge;
* before a judge run, a shutdown date that has passed or is near becomes a warning
  (`shutdown_warning`).

Fetching the listing never raises (`fetch_listing`): it only ever adds detail to a message.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime, timezone
from typing import Any
from urllib.parse import urlsplit

from mtbench.data.defaults import DEFAULT_JUDGE

logger = logging.getLogger(__name__)

SHUTDOWN_FIELDS = ("shutdown_date", "deprecation_date")
"""The listing fields that may carry a model's shutdown date, in order of preference."""

WARN_WITHIN_DAYS = 30
"""A shutdown date this many days away or fewer (or already past) gets a warning."""

MAX_CLOSE_NAMES = 3
CLOSE_CUTOFF = 0.5
"""`difflib` similarity a listed name needs to be offered (0..1, on names without separators).

Lower than difflib's 0.6 so that `gpt4o` still finds `gpt-4o-2024-08-06`."""

JUDGE_FLAG = "--judge-model"

DEFAULT_JUDGE_SHUTDOWN = date(2026, 10, 23)
"""When OpenAI shut down `gpt-4` (and `gpt-4-0613`, the leaderboard's judge)."""

_SEPARATORS = str.maketrans("", "", "-_.:/ ")


def fetch_listing(list_models: Callable[[], Iterable[Any]]) -> list[dict[str, Any]]:
    """The rows of a model listing as plain dicts, or [] if listing fails in any way.

    Args:
        list_models: Makes the request, e.g. `client.models.list` of the `openai` SDK; its
            items may be SDK models (with `model_dump()`) or mappings.

    Returns:
        One dict per row, with every field the server sent; rows of another shape are
        skipped. Never raises: a failed listing only means a message says less.
    """
    try:
        rows = []
        for item in list_models():
            row = item.model_dump() if hasattr(item, "model_dump") else item
            if isinstance(row, Mapping):
                rows.append(dict(row))
        return rows
    except Exception as exc:  # noqa: BLE001 - the listing is optional detail, never an error
        # Only the type: an SDK message may quote the request, and with it a key.
        logger.debug("cannot list the served models (%s)", type(exc).__name__)
        return []


def model_ids(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """The `id` of each listed row that has a non-empty string one, in listing order."""
    return [row["id"] for row in rows if isinstance(row.get("id"), str) and row["id"]]


def close_names(
    model: str, served: Sequence[str], limit: int = MAX_CLOSE_NAMES, cutoff: float = CLOSE_CUTOFF
) -> list[str]:
    """Up to `limit` served names that look like `model`, closest first.

    Names are compared lower-cased and without separators (`gpt4o` ~ `gpt-4o`) with
    `difflib.get_close_matches`; a name that extends the one asked for or that it extends
    (a dated snapshot `gpt-4o-2024-08-06`, or the alias of a misdated one) comes first.
    `model` itself is never offered.

    Args:
        model: The name the server refused.
        served: The names it lists.
        limit: How many names at most.
        cutoff: The similarity a name needs (0..1).

    Returns:
        The names as the server spells them; [] if none is close or `served` is empty.
    """
    by_key: dict[str, str] = {}
    for name in served:
        if name != model:
            by_key.setdefault(_key(name), name)
    if not by_key or limit < 1:
        return []
    wanted = _key(model)
    keys = difflib.get_close_matches(wanted, list(by_key), n=len(by_key), cutoff=cutoff)
    keys.sort(key=lambda key: not (key.startswith(wanted) or wanted.startswith(key)))
    return [by_key[key] for key in keys[:limit]]


def is_model_not_found(status: int, code: str | None) -> bool:
    """Whether an HTTP error reply says the model does not exist (404, or 400 `model_not_found`)."""
    return status == 404 or (status == 400 and code == "model_not_found")


def unknown_model_message(
    model: str, where: str, said: str, served: Sequence[str], model_flag: str
) -> str:
    """The one-line error for a model the server does not know.

    Args:
        model: The model requested.
        where: The server (its base URL).
        said: What it answered, e.g. `HTTP 404: The model ... does not exist`.
        served: The names it lists ([] if the listing failed or was empty).
        model_flag: The command's flag that names the model (`--judge-model`, `--model`).

    Returns:
        The message: with the closest listed names when there are any; with the base-URL
        hint when nothing is listed (a wrong URL also answers 404); for the default judge
        asked with `--judge-model`, with how to choose another judge.
    """
    head = f"{where} does not know model '{model}' ({said}); check {model_flag} and "
    close = close_names(model, served)
    if close:
        text = head + "choose a name it serves (closest: " + ", ".join(close) + ")"
    elif served:
        text = head + f"choose a name it serves (none of the {len(served)} it lists is close)"
    else:
        text = head + "that the base URL is the API root (usually ending in /v1)"
    if model == DEFAULT_JUDGE and model_flag == JUDGE_FLAG:
        text += (
            f"; {DEFAULT_JUDGE} is mtbench's default judge, which OpenAI shut down on "
            f"{DEFAULT_JUDGE_SHUTDOWN.isoformat()}: "
            f"choose another judge with {JUDGE_FLAG} NAME (or --judge-base-url for a served "
            "open model, --judge-model-path for a local one); scores from another judge are "
            "not on the leaderboard's GPT-4 scale"
        )
    return text


def shutdown_date(row: Mapping[str, Any]) -> date | None:
    """The shutdown date a listing row publishes, if any.

    Args:
        row: One listing row; `shutdown_date` is preferred to `deprecation_date`, each either
            an ISO date (`"2027-01-14"`, a time after it is ignored) or a unix timestamp
            (read as a UTC date).

    Returns:
        The date, or None when neither field is present or readable.
    """
    for name in SHUTDOWN_FIELDS:
        value = row.get(name)
        if isinstance(value, bool) or value is None:
            continue
        try:
            if isinstance(value, (int, float)):
                return datetime.fromtimestamp(value, tz=timezone.utc).date()
            if isinstance(value, str):
                return date.fromisoformat(value.strip()[:10])
        except (ValueError, OverflowError, OSError):
            continue
    return None


def lister(base_url: str) -> str:
    """Who publishes a listing, for messages: `OpenAI` for OpenAI's API, else the base URL."""
    return "OpenAI" if urlsplit(base_url).hostname == "api.openai.com" else base_url


def shutdown_warning(
    model: str,
    rows: Sequence[Mapping[str, Any]],
    *,
    today: date,
    where: str,
    within_days: int = WARN_WITHIN_DAYS,
) -> str | None:
    """A one-line warning when the listing's shutdown date for the judge model is near or past.

    Args:
        model: The judge model (the row whose `id` is exactly this is read).
        rows: The listing (`fetch_listing`).
        today: The date to count from.
        where: Who publishes the listing (`lister`).
        within_days: Warn when the date is at most this many days away.

    Returns:
        `warning: OpenAI lists a shutdown date of 2027-01-14 for judge model 'gpt-4o'
        (in 12 days); ...`, or None when the model is not listed, has no date, or the date is
        further away.
    """
    when = next((shutdown_date(row) for row in rows if row.get("id") == model), None)
    if when is None:
        return None
    days = (when - today).days
    if days > within_days:
        return None
    if days > 0:
        status = f"in {_days(days)}"
        advice = "after it, judge calls will fail"
    else:
        status = "today" if days == 0 else f"passed {_days(-days)} ago"
        advice = "judge calls may fail at any moment"
    return (
        f"warning: {where} lists a shutdown date of {when.isoformat()} for judge model "
        f"'{model}' ({status}); {advice}: choose another judge with {JUDGE_FLAG} (its scores "
        "will not be comparable with this judge's)"
    )


def _days(count: int) -> str:
    return "1 day" if count == 1 else f"{count} days"


def _key(name: str) -> str:
    return name.lower().translate(_SEPARATORS)
