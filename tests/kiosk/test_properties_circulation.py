"""Random circulation histories through the real service layer on a real SQLite file.

After every step the database agrees with a small in-memory model (who holds what, each copy's
status), no copy ever has two open loans, and at the end the outbox alone rebuilds the same tables
in a fresh database, with gap-free per-device sequence numbers.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from kiosk import ledger
from kiosk.db import db, init_database, write_transaction
from kiosk.errors import MuontraError
from kiosk.models import Event
from kiosk.services import Circulation
from kiosk.store import database_path, open_store
from tests.conftest import FakeClock, copy_fact, patron_fact

STUDENTS, TEACHER, INACTIVE = ("HS001", "HS002"), "GV001", "HS003"
PATRONS = (*STUDENTS, TEACHER, INACTIVE)
CATEGORY = {"TN-0001": "TN", "TN-0002": "TN", "TN-0003": "TN", "TN-0004": "TN", "STK-0001": "STK",
            "SGK-0001": "SGK", "SGK-0002": "SGK", "BAO-0001": "periodical"}
ITEMS = tuple(CATEGORY)
SCHOOL = [
    patron_fact("HS001", "Nguyễn Văn An"), patron_fact("HS002", "Trần Thị Bình"),
    patron_fact("HS003", "Lê Minh Châu", active=False),
    patron_fact("GV001", "Phạm Thu Hà", class_name="", kind="teacher"),
    *(copy_fact(item, f"Sách {item}", category=category) for item, category in CATEGORY.items()),
]
TABLES = ("patron", "title", "copy", "loan")

# The model's own reading of the default policy and the status table (not the code's).
REFUSED_BY_STATUS = {"on_loan": "copy_on_loan", "lost": "copy_lost", "withdrawn": "copy_withdrawn",
                     "damaged": "copy_damaged", "not_for_loan": "copy_not_for_loan"}
LIBRARIAN = {  # action → (statuses it applies to, resulting status)
    "mark_lost": ({"available", "on_loan", "damaged"}, "lost"),
    "mark_damaged": ({"available", "on_loan", "lost"}, "damaged"),
    "withdraw": ({"available", "lost", "damaged", "not_for_loan"}, "withdrawn"),
    "mark_available": ({"damaged", "lost", "withdrawn", "not_for_loan"}, "available"),
    "mark_not_for_loan": ({"available"}, "not_for_loan"),
}


@dataclass
class Model:
    today: date
    status: dict[str, str] = field(default_factory=lambda: dict.fromkeys(ITEMS, "available"))
    holder: dict[str, str] = field(default_factory=dict)
    due: dict[str, date] = field(default_factory=dict)
    renewals: dict[str, int] = field(default_factory=dict)
    # (patron, item) → (day its last loan ended, its due day): a late return holds a re-lend back.
    ended: dict[tuple[str, str], tuple[date, date]] = field(default_factory=dict)

    def end_loan(self, item: str) -> None:
        self.ended[(self.holder.pop(item), item)] = (self.today, self.due[item])

    def held_by(self, patron: str) -> list[str]:
        return [item for item, who in self.holder.items() if who == patron]

    def checkout_refusal(self, patron: str, item: str) -> str | None:
        if patron == INACTIVE:
            return "inactive_patron"
        if self.status[item] == "on_loan" and self.holder.get(item) == patron:
            return "already_yours"  # their own book scanned again: said kindly, not refused
        if self.status[item] != "available":
            return REFUSED_BY_STATUS[self.status[item]]
        if CATEGORY[item] == "periodical":
            return "copy_not_for_loan"
        held = self.held_by(patron)
        if any(self.due[other] < self.today for other in held):
            return "has_overdue"
        textbook = CATEGORY[item] == "SGK"
        same_limit = sum(1 for other in held if (CATEGORY[other] == "SGK") == textbook)
        limit = 30 if textbook and patron == TEACHER else 20 if textbook else 10 if patron == TEACHER else 3
        if same_limit >= limit:
            return "loan_limit"
        returned, due = self.ended.get((patron, item), (self.today, self.today))
        if returned > due and self.today < returned + timedelta(days=7):
            return "returned_late"
        return None

    def renew_refusal(self, patron: str, item: str) -> str | None:
        if patron == INACTIVE:
            return "inactive_patron"
        if item not in self.holder:
            return "not_on_loan"
        if self.holder[item] != patron:
            return "not_your_loan"
        if self.status[item] != "on_loan":
            return "bad_transition"
        if self.due[item] < self.today:
            return "renew_overdue"
        allowed = 0 if CATEGORY[item] == "SGK" else 2 if patron == TEACHER else 1
        return "renewal_limit" if self.renewals[item] >= allowed else None


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """One migrated data directory, copied for every example (migrating each time is slow)."""
    directory = tmp_path_factory.mktemp("template")
    open_store(directory, upgrade=True)
    db.close()
    return directory


def fresh_copy(template: Path, into: Path) -> Path:
    shutil.copytree(template, into)
    return into


def dump(path: Path) -> dict[str, list[tuple]]:
    connection = sqlite3.connect(path)
    try:
        return {table: connection.execute(f"SELECT * FROM {table} ORDER BY id").fetchall() for table in TABLES}
    finally:
        connection.close()


def open_loans_in_db() -> dict[str, str]:
    rows = db.execute_sql(
        "SELECT c.code, p.code FROM loan l JOIN copy c ON c.id = l.copy_id JOIN patron p ON p.id = l.patron_id"
        " WHERE l.returned_at IS NULL").fetchall()
    codes = [code for code, _ in rows]
    assert len(codes) == len(set(codes)), "two open loans on one copy"
    return dict(rows)


def statuses_in_db() -> dict[str, str]:
    return dict(db.execute_sql("SELECT code, status FROM copy").fetchall())


def attempt(call) -> tuple[object | None, str | None]:
    try:
        return call(), None
    except MuontraError as exc:
        return None, exc.code


GENERAL_ITEMS = tuple(item for item, category in CATEGORY.items() if category in ("TN", "STK"))
# Weighted towards students borrowing general books, so limits and overdue blocks are reached often.
lend_to_a_student = st.tuples(st.just("checkout"), st.sampled_from(STUDENTS), st.sampled_from(GENERAL_ITEMS))
step = st.one_of(
    lend_to_a_student, lend_to_a_student, lend_to_a_student,
    st.tuples(st.just("checkout"), st.sampled_from(PATRONS), st.sampled_from(ITEMS)),
    st.tuples(st.just("checkin"), st.none(), st.sampled_from(ITEMS)),
    st.tuples(st.just("renew"), st.sampled_from(PATRONS), st.sampled_from(ITEMS)),
    st.tuples(st.sampled_from(sorted(LIBRARIAN)), st.none(), st.sampled_from(ITEMS)),
    st.tuples(st.just("wait"), st.integers(1, 12), st.none()),
)


def run_step(model: Model, kiosk: Circulation, desk: Circulation, clock: FakeClock, action, who, item) -> None:
    if action == "wait":
        clock.set(clock() + timedelta(days=who))
        model.today = kiosk.today()
        return
    if action == "checkout":
        receipt, refused = attempt(lambda: kiosk.checkout(who, item))
        assert refused == model.checkout_refusal(who, item), (action, who, item)
        if receipt:
            assert receipt.item == item and receipt.due >= model.today and receipt.due.weekday() < 5
            model.status[item], model.holder[item] = "on_loan", who
            model.due[item], model.renewals[item] = receipt.due, 0
    elif action == "checkin":
        receipt, refused = attempt(lambda: kiosk.checkin(item))
        assert refused is None
        assert receipt.outcome == ("returned" if item in model.holder else "not_on_loan")
        if item in model.holder:
            assert receipt.overdue_days == max(0, (model.today - model.due[item]).days)
            model.end_loan(item)
        if model.status[item] in ("on_loan", "lost"):
            model.status[item] = "available"
    elif action == "renew":
        receipt, refused = attempt(lambda: kiosk.renew(who, item))
        assert refused == model.renew_refusal(who, item), (action, who, item)
        if receipt:
            assert receipt.due >= model.due[item] and receipt.due > model.today
            model.due[item] = receipt.due
            model.renewals[item] += 1
    else:
        sources, target = LIBRARIAN[action]
        new_status, refused = attempt(lambda: desk.set_copy_status(item, action))
        assert refused == (None if model.status[item] in sources else "bad_transition"), (action, item)
        if new_status:
            model.status[item] = "on_loan" if target == "available" and item in model.holder else target
            if target in ("lost", "damaged") and item in model.holder:
                model.end_loan(item)  # a lost or damaged book's loan ends (đền sách)
            assert new_status == model.status[item]


def lend_all(patron: str, items=GENERAL_ITEMS) -> list[tuple]:
    return [("checkout", patron, item) for item in items]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(step, min_size=10, max_size=60))
# Histories random generation reaches only now and then, kept as fixed examples:
@example(steps=lend_all("HS001"))  # the general limit
# A book returned late can't be borrowed straight back by the same reader (the overdue would be
# wiped), by another reader it can; a week later the first reader may borrow it again.
@example(steps=[("checkout", "HS001", "TN-0001"), ("wait", 12, None), ("checkin", None, "TN-0001"),
                ("checkout", "HS001", "TN-0001"), ("checkout", "HS002", "TN-0001"), ("checkin", None, "TN-0001"),
                ("wait", 7, None), ("checkout", "HS001", "TN-0001")])
@example(steps=[*lend_all("HS001", GENERAL_ITEMS[:2]), ("wait", 11, None), ("checkout", "HS001", "TN-0004"),
                ("renew", "HS001", "TN-0001"), ("checkin", None, "TN-0001"), ("checkout", "HS001", "TN-0004"),
                ("checkin", None, "TN-0002"), ("checkout", "HS001", "TN-0004")])  # overdue blocks, then clears
@example(steps=[("checkout", "HS002", "TN-0001"), ("mark_lost", None, "TN-0001"), ("withdraw", None, "TN-0001"),
                ("renew", "HS002", "TN-0001"), ("mark_available", None, "TN-0001"), ("checkin", None, "TN-0001"),
                ("checkout", "HS001", "TN-0001"), ("renew", "HS001", "TN-0001"), ("renew", "HS001", "TN-0001")])
@example(steps=[*lend_all(TEACHER), *lend_all(TEACHER, ("SGK-0001", "SGK-0002", "BAO-0001")),
                ("renew", TEACHER, "SGK-0001"), ("renew", TEACHER, "TN-0001"), ("renew", TEACHER, "TN-0001"),
                ("renew", TEACHER, "TN-0001"), ("checkout", INACTIVE, "TN-0002")])
def test_random_histories_match_the_model_and_replay_exactly(template, steps):
    with tempfile.TemporaryDirectory() as scratch:
        live = fresh_copy(template, Path(scratch) / "live")
        init_database(database_path(live)).connect()
        clock = FakeClock(datetime(2026, 3, 2, 2, 0, tzinfo=UTC))
        kiosk, desk = Circulation("kiosk-a", clock), Circulation("desk", clock)
        desk.record_facts(SCHOOL)
        model = Model(today=kiosk.today())
        for action, who, item in steps:
            run_step(model, kiosk, desk, clock, action, who, item)
            assert open_loans_in_db() == model.holder
            assert statuses_in_db() == model.status

        events = list(Event.select().order_by(Event.id))
        for device in ("kiosk-a", "desk"):
            seqs = [event.seq for event in events if event.device == device]
            assert seqs == list(range(1, len(seqs) + 1))
        db.close()

        replica = fresh_copy(template, Path(scratch) / "replica")
        init_database(database_path(replica)).connect()
        with write_transaction():
            for event in events:
                ledger.apply(event.type, event.payload)
        db.close()
        assert dump(database_path(replica)) == dump(database_path(live))
