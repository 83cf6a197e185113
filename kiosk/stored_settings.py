"""The school's shared settings as the kiosk reads them: one bad stored value never stops lending.

These values arrive from the server, an import or an older version of the kiosk, and the kiosk
cannot refuse what is already stored. Each is checked when it is read: a value that doesn't mean
what the setting means is replaced by the last good value this process saw, else the default; it
is logged once and listed for the librarian's warning banner until a good value is stored again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from .ledger import get_setting

log = logging.getLogger("muontra.settings")

PATRON_KINDS = ("student", "teacher", "helper")  # kiosk.models.PATRON_KINDS, without importing the models
CATEGORIES = ("SGK", "STK", "SNV", "TN", "periodical", "other")
DUE_MODES = ("days", "term_end", "year_end")
MAX_LOAN_DAYS = 3660  # ten years: anything longer is a typo, and 10**9 days overflows a date
MAX_LOANS = 1000
MAX_RENEWALS = 100
MAX_TEXT = 300


class Invalid(ValueError):
    pass


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _day(value: Any) -> date:
    if not isinstance(value, str) or len(value) != 10:
        raise Invalid(value)
    return date.fromisoformat(value)


def closed_weekdays(value: Any) -> frozenset[int]:
    if not isinstance(value, list) or not all(_is_int(day) and 0 <= day <= 6 for day in value):
        raise Invalid(value)
    return frozenset(value)


def block_when_overdue(value: Any) -> bool:
    if not isinstance(value, bool):
        raise Invalid(value)
    return value


def term_ends(value: Any) -> tuple[date, ...]:
    if not isinstance(value, list) or len(value) > 12:
        raise Invalid(value)
    return tuple(sorted(_day(day) for day in value))


def year_end(value: Any) -> date | None:
    return None if value is None else _day(value)


def school_name(value: Any) -> str:
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise Invalid(value)
    return value


def school_year_start(value: Any) -> tuple[int, int]:
    if not isinstance(value, str):
        raise Invalid(value)
    month, day = (int(part) for part in value.split("-"))
    date(2024, month, day)  # a real day of the year (2024: 29 February too)
    return month, day


def class_links(value: Any) -> dict[str, dict[str, str]]:
    if not isinstance(value, dict):
        raise Invalid(value)
    for token, entry in value.items():
        if not (isinstance(entry, dict) and isinstance(entry.get("class"), str) and entry["class"]
                and len(entry["class"]) <= MAX_TEXT and 8 <= len(token) <= 100):
            raise Invalid(value)
    return {token: dict(entry) for token, entry in value.items()}


def accession_prefixes(value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or not value or not all(
            isinstance(prefix, str) and prefix and len(prefix) <= 20 and category in CATEGORIES
            for prefix, category in value.items()):
        raise Invalid(value)
    return dict(value)


# name → (parser, default); the default is what the kiosk uses when nothing (good) was ever stored.
SPECS: Mapping[str, tuple[Callable[[Any], Any], Any]] = {
    "closed_weekdays": (closed_weekdays, frozenset({5, 6})),
    "block_when_overdue": (block_when_overdue, True),
    "term_ends": (term_ends, ()),
    "year_end": (year_end, None),
    "school_name": (school_name, ""),
    "school_year_start": (school_year_start, (9, 1)),
    "class_links": (class_links, {}),
    "accession_prefixes": (accession_prefixes, None),
}

_lock = threading.Lock()
_last_good: dict[str, Any] = {}
_problems: dict[str, str] = {}  # setting → repr of the bad value (shown once in the log)


def parse(key: str, raw: Any, *, stored: bool = True) -> Any:
    """``raw`` as the setting ``key`` means it, or the fallback (a bad value is logged and listed)."""
    parser, default = SPECS[key]
    if not stored:
        _forget_problem(key)
        return default
    try:
        value = parser(raw)
    except (Invalid, TypeError, ValueError, OverflowError, AttributeError):
        shown = repr(raw)[:200]
        with _lock:
            if _problems.get(key) != shown:
                log.warning("stored setting %s is not valid (%s): using %s", key, shown,
                            "the last good value" if key in _last_good else "the default")
            _problems[key] = shown
            return _last_good.get(key, default)
    with _lock:
        _last_good[key] = value
    _forget_problem(key)
    return value


def _forget_problem(key: str) -> None:
    with _lock:
        _problems.pop(key, None)


def read(key: str) -> Any:
    """The stored setting ``key``, checked (one query)."""
    missing = object()
    raw = get_setting(key, missing)
    return parse(key, raw, stored=raw is not missing)


def read_many(rows: Mapping[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    """Several settings from rows already fetched (``{key: value}``), each checked."""
    return {key: parse(key, rows.get(key), stored=key in rows) for key in keys}


def problems() -> list[str]:
    """The settings whose stored value is being replaced right now, for the librarian's banner."""
    with _lock:
        return sorted(_problems)


# ---------------------------------------------------------------- lending rules (PolicyRule rows)


def rule_row(row: Mapping[str, Any]) -> tuple[str, str, int, int, int, str, bool]:
    """One stored lending rule, checked: (kind, category, max_loans, loan_days, max_renewals, due_mode, loanable)."""
    kind, category = row.get("patron_kind"), row.get("category")
    numbers = row.get("max_loans"), row.get("loan_days"), row.get("max_renewals")
    if kind not in (*PATRON_KINDS, "*") or category not in (*CATEGORIES, "*"):
        raise Invalid(row)
    if not all(_is_int(n) for n in numbers):
        raise Invalid(row)
    max_loans, loan_days, max_renewals = numbers
    if not (0 <= max_loans <= MAX_LOANS and 0 <= loan_days <= MAX_LOAN_DAYS and 0 <= max_renewals <= MAX_RENEWALS):
        raise Invalid(row)
    if row.get("due_mode") not in DUE_MODES or row.get("loanable") not in (True, False, 0, 1):
        raise Invalid(row)
    return kind, category, max_loans, loan_days, max_renewals, row["due_mode"], bool(row["loanable"])


def rule_rows(rows: list[Mapping[str, Any]]) -> list[tuple] | None:
    """The stored rules, or None (use the last good rules or the defaults) when any row is bad:
    half a policy would lend under rules nobody chose."""
    try:
        checked = [rule_row(row) for row in rows]
    except (Invalid, TypeError, ValueError):
        shown = repr(rows)[:200]
        with _lock:
            if _problems.get("policy") != shown:
                log.warning("stored lending rules are not valid (%s): using %s", shown,
                            "the last good rules" if "policy" in _last_good else "the default rules")
            _problems["policy"] = shown
            return _last_good.get("policy")
    with _lock:
        _last_good["policy"] = checked
        _problems.pop("policy", None)
    return checked
