"""Builders for the pure rule tests: plain values, no database, a fixed school day."""

from __future__ import annotations

from datetime import date, timedelta

from kiosk import rules

MONDAY = date(2026, 3, 2)  # the `clock` fixture's day


def student(code: str = "HS001", active: bool = True) -> rules.PatronView:
    return rules.PatronView(code, "student", active)


def teacher(code: str = "GV001", active: bool = True) -> rules.PatronView:
    return rules.PatronView(code, "teacher", active)


def helper(code: str = "CTV01") -> rules.PatronView:
    return rules.PatronView(code, "helper", True)


def book(code: str = "TN-0001", category: str = "TN", status: str = "available") -> rules.CopyView:
    return rules.CopyView(code, category, status)


def loan(item: str = "TN-0009", patron: str = "HS001", category: str = "TN", due: date | None = None,
         renewals: int = 0) -> rules.LoanView:
    return rules.LoanView(f"loan-{item}", item, patron, category, due or MONDAY + timedelta(days=5), renewals)


def policy(*extra: rules.Rule, **options) -> rules.Policy:
    """The default rules, with ``extra`` rules replacing those of the same kind × category."""
    table = {(r.patron_kind, r.category): r for r in (*rules.DEFAULT_RULES, *extra)}
    return rules.Policy(rules=table, **options)


def counts() -> tuple[int, int]:
    """(events, loans) in the database: a refusal must leave both unchanged."""
    from kiosk.models import Event, Loan  # here: the pure rule tests import this module without a database

    return Event.select().count(), Loan.select().count()


def refused_over_http(client, path: str, body: dict, code: str, status: int) -> tuple[str, str]:
    """POST ``body`` in Vietnamese and English; both are the same typed refusal and change nothing.

    Returns the (vi, en) messages.
    """
    before = counts()
    answers = [client.post(path, json=body), client.post(path + "?lang=en", json=body)]
    for answer in answers:
        assert answer.status_code == status, answer.get_data(as_text=True)
        assert answer.is_json
        assert answer.get_json()["error"]["code"] == code
    assert counts() == before
    vi, en = (answer.get_json()["error"]["message"] for answer in answers)
    assert vi and en and vi != en
    return vi, en
