"""Revocable read-only links that show one class's overdue list and reading counts to its homeroom teacher.

A link is a random token naming one class, kept in the setting ``class_links`` (so it is
recorded as a fact and syncs like every other setting). Whoever holds the link sees that
class and nothing else; revoking it removes the token.
"""

from __future__ import annotations

import secrets
from collections import Counter
from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

from .. import stored_settings
from ..db import write_transaction
from ..errors import N_
from ..ledger import iso, record
from ..models import Loan, Patron
from ..services import Circulation
from .common import Period, ReportError, patron_sort_key, require_class

SETTING = "class_links"


class UnknownLink(ReportError):
    code = "unknown_link"
    message = N_("This link is not valid any more. Please ask the librarian for a new one.")
    http_status = 404


def links() -> dict[str, dict[str, str]]:
    """Token → {"class": …, "created": …}."""
    return stored_settings.read(SETTING)


def class_of(token: str) -> str:
    entry = links().get(token) if token else None
    if entry is None:
        raise UnknownLink()
    return entry["class"]


def create_link(circ: Circulation, class_name: str) -> str:
    wanted = require_class(class_name)
    token = secrets.token_urlsafe(18)
    with write_transaction():
        current = links()
        current[token] = {"class": wanted, "created": iso(circ.now())}
        record("setting.set", {"key": SETTING, "value": current}, device=circ.device, device_time=circ.now())
    return token


def revoke_link(circ: Circulation, token: str) -> str:
    with write_transaction():
        current = links()
        entry = current.pop(token, None)
        if entry is None:
            raise UnknownLink()
        record("setting.set", {"key": SETTING, "value": current}, device=circ.device, device_time=circ.now())
    return entry["class"]


@dataclass(frozen=True)
class StudentReading:
    code: str
    name: str
    loans: int  # loans made in the period
    holding: int  # books on loan now
    overdue: int  # of which overdue today


def reading_counts(class_name: str, period: Period, today: date, timezone: ZoneInfo) -> list[StudentReading]:
    """Every active student of the class with their loans in the period, books held and overdue."""
    wanted = require_class(class_name)
    start, stop = period.utc_bounds(timezone)
    students = [p for p in Patron.select().where((Patron.class_name == wanted) & Patron.active)]
    ids = [p.id for p in students]
    made = Counter(loan.patron_id for loan in Loan.select(Loan.patron).where(
        Loan.patron.in_(ids) & (Loan.checked_out_at >= start) & (Loan.checked_out_at < stop)))
    open_loans = list(Loan.select(Loan.patron, Loan.due).where(Loan.patron.in_(ids) & Loan.is_open()))
    holding = Counter(loan.patron_id for loan in open_loans)
    late = Counter(loan.patron_id for loan in open_loans if loan.due < today)
    return [StudentReading(p.code, p.name, made[p.id], holding[p.id], late[p.id])
            for p in sorted(students, key=lambda p: (*patron_sort_key(p.name), p.code))]
