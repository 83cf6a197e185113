"""The database itself enforces the invariants, whatever the code above it does."""

from __future__ import annotations

import sqlite3
import threading
from datetime import datetime

import pytest
from peewee import IntegrityError

from kiosk.db import db, init_database, write_transaction
from kiosk.ledger import record
from kiosk.models import Event, Loan
from kiosk.services import Circulation
from kiosk.store import database_path


def _raw_loan(uuid: str, copy_id: int, patron_id: int, returned_at: str | None = None) -> None:
    db.execute_sql(
        "INSERT INTO loan (uuid, copy_id, patron_id, checked_out_at, due, returned_at, renewals, location,"
        " checkout_device) VALUES (?, ?, ?, '2026-03-02 02:00:00', '2026-03-12', ?, 0, 'main', 'sql')",
        (uuid, copy_id, patron_id, returned_at))


def _ids(school) -> tuple[int, int]:
    copy_id = db.execute_sql("SELECT id FROM copy WHERE code = 'TN-0001'").fetchone()[0]
    patron_id = db.execute_sql("SELECT id FROM patron WHERE code = 'HS002'").fetchone()[0]
    return copy_id, patron_id


def test_a_second_open_loan_on_a_copy_is_rejected_by_sql(school):
    school.checkout("HS001", "TN-0001")
    copy_id, patron_id = _ids(school)
    with pytest.raises(IntegrityError, match="UNIQUE"):
        _raw_loan("second", copy_id, patron_id)
    assert Loan.select().count() == 1


def test_returned_loans_do_not_count_against_the_index(school):
    copy_id, patron_id = _ids(school)
    for n in range(3):
        _raw_loan(f"old-{n}", copy_id, patron_id, returned_at="2026-01-01 00:00:00")
    _raw_loan("open", copy_id, patron_id)
    assert Loan.select().where(Loan.copy == copy_id).count() == 4


def test_foreign_keys_are_enforced(school):
    assert db.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1
    with pytest.raises(IntegrityError, match="FOREIGN KEY"):
        _raw_loan("dangling", 999_999, 1)
    school.checkout("HS001", "TN-0001")
    with pytest.raises(IntegrityError, match="FOREIGN KEY"):
        db.execute_sql("DELETE FROM copy WHERE code = 'TN-0001'")  # a copy with loans is never deleted


def test_the_status_and_kind_checks_hold(school):
    with pytest.raises(IntegrityError, match="CHECK"):
        db.execute_sql("UPDATE copy SET status = 'borrowed' WHERE code = 'TN-0001'")
    with pytest.raises(IntegrityError, match="CHECK"):
        db.execute_sql("UPDATE patron SET kind = 'parent' WHERE code = 'HS001'")
    with pytest.raises(IntegrityError, match="CHECK"):
        db.execute_sql("INSERT INTO policy_rule (patron_kind, category, max_loans, loan_days, max_renewals,"
                       " due_mode, loanable) VALUES ('student', 'TN', 1, 1, 0, 'whenever', 1)")


def test_one_event_per_device_and_seq(school):
    device, seq = db.execute_sql("SELECT device, seq FROM event ORDER BY id LIMIT 1").fetchone()
    with pytest.raises(IntegrityError, match="UNIQUE"):
        db.execute_sql("INSERT INTO event (uuid, device, seq, type, payload, device_time)"
                       " VALUES ('dup', ?, ?, 'setting.set', '{}', '2026-03-02')", (device, seq))


def test_a_fresh_connection_is_wal_with_full_sync(data_dir):
    database = init_database(database_path(data_dir))
    database.connect()
    try:
        assert database.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert database.execute_sql("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert database.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1
    finally:
        database.close()
    # WAL is a property of the file: a plain sqlite3 connection sees it too.
    plain = sqlite3.connect(database_path(data_dir))
    assert plain.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    plain.close()


def test_a_write_transaction_holds_the_write_lock_before_its_first_write(school, data_dir):
    """BEGIN IMMEDIATE: another writer is locked out from the start, not at the first INSERT."""
    other = sqlite3.connect(database_path(data_dir), timeout=0, isolation_level=None)
    with write_transaction():
        db.execute_sql("SELECT count(*) FROM loan").fetchone()  # only a read so far
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
    other.execute("BEGIN IMMEDIATE")
    other.execute("ROLLBACK")
    other.close()


def test_a_failed_transaction_leaves_neither_the_change_nor_its_event(school):
    from kiosk.models import Patron

    events = Event.select().count()
    with pytest.raises(RuntimeError), write_transaction():
        record("patron.upsert", {"code": "HS777", "name": "Vũ Thị Mai"}, device="test",
               device_time=datetime(2026, 3, 2))
        raise RuntimeError("power cut in the middle")
    assert Patron.get_or_none(Patron.code == "HS777") is None
    assert Event.select().count() == events


def test_concurrent_checkouts_from_two_threads_never_hit_a_locked_database(school, clock):
    """Two kiosks' worth of writers on one file: all succeed, no upgrade deadlock, seqs gap-free."""
    from tests.conftest import copy_fact, patron_fact

    school.record_facts([patron_fact(f"GV{n:03}", f"Giáo viên {n}", kind="teacher") for n in range(2, 4)]
                        + [copy_fact(f"C-{n:03}", f"Sách {n}") for n in range(40)]
                        + [("policy.set", {"rules": [{"patron_kind": "teacher", "category": "*",
                                                      "max_loans": 100, "loan_days": 30}]})])
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def lend(patron: str, items: list[str], device: str) -> None:
        worker = Circulation(device=device, clock=clock)
        db.connect(reuse_if_open=True)
        try:
            start.wait()
            for item in items:
                worker.checkout(patron, item)
                worker.checkin(item)
                worker.checkout(patron, item)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            db.close()

    threads = [threading.Thread(target=lend, args=("GV002", [f"C-{n:03}" for n in range(0, 40, 2)], "dev-a")),
               threading.Thread(target=lend, args=("GV003", [f"C-{n:03}" for n in range(1, 40, 2)], "dev-b"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    db.connect(reuse_if_open=True)
    assert Loan.open_loans().count() == 40
    for device in ("dev-a", "dev-b"):
        seqs = [e.seq for e in Event.select(Event.seq).where(Event.device == device).order_by(Event.seq)]
        assert seqs == list(range(1, 61))


def statements_during(call) -> list[str]:
    seen: list[str] = []
    connection = db.connection()
    connection.set_trace_callback(seen.append)
    try:
        call()
    finally:
        connection.set_trace_callback(None)
    return seen


def test_a_checkout_costs_the_same_statements_however_many_books_are_held(school):
    """No query per held loan inside the write lock (the N+1 the benchmark found)."""
    school.checkout("GV001", "TN-0001")
    few = statements_during(lambda: school.checkout("GV001", "TN-0002"))
    for item in ("TN-0003", "STK-0001", "SGK-0001", "SGK-0002"):
        school.checkout("GV001", item)
    many = statements_during(lambda: school.checkout("GV001", "TN-0004"))
    assert len(many) == len(few)
    assert few[0] == "BEGIN IMMEDIATE" and few[-1] == "COMMIT"
    assert len(few) <= 18  # 16, one look for holds on the title (kiosk/holds.py), one for this reader's last return of this copy (returned_late)


def test_a_catalogue_row_without_isbn_finds_its_title_through_an_index(school):
    plan = db.execute_sql(
        "EXPLAIN QUERY PLAN SELECT id FROM title WHERE isbn IS NULL AND title = ? AND author = ?",
        ("Dế Mèn phiêu lưu ký", "Tô Hoài")).fetchall()
    assert any("USING INDEX" in row[-1] for row in plan), plan


def test_settling_makes_every_status_agree_with_the_loans_and_keeps_the_librarians_marks(school):
    """ledger.settle_copy_status: the one writer of "on loan iff an open loan" (SQL rows put out of step)."""
    from kiosk.ledger import settle_copy_status
    from kiosk.models import Copy

    ids = {code: db.execute_sql("SELECT id FROM copy WHERE code = ?", (code,)).fetchone()[0]
           for code in ("TN-0001", "TN-0002", "TN-0003", "TN-0004")}
    patron_id = db.execute_sql("SELECT id FROM patron WHERE code = 'HS002'").fetchone()[0]
    with write_transaction():
        _raw_loan("open-1", ids["TN-0001"], patron_id)  # available, but lent: on loan
        _raw_loan("open-3", ids["TN-0003"], patron_id)  # lost while lent: stays lost
        db.execute_sql("UPDATE copy SET status = 'on_loan' WHERE code = 'TN-0002'")  # no loan: back on the shelf
        db.execute_sql("UPDATE copy SET status = 'lost' WHERE code = 'TN-0003'")
        db.execute_sql("UPDATE copy SET status = 'damaged' WHERE code = 'TN-0004'")
        settle_copy_status(ids.values())
    statuses = {c.code: c.status for c in Copy.select().where(Copy.id.in_(list(ids.values())))}
    assert statuses == {"TN-0001": "on_loan", "TN-0002": "available", "TN-0003": "lost", "TN-0004": "damaged"}


@pytest.mark.parametrize("bulk", [False, True])
def test_a_pulled_copy_on_loan_stays_on_loan_until_its_loan_arrives(school, bulk):
    """A server page carries a copy before its loan: in between, the copy must not look free here."""
    from kiosk.ledger import apply, apply_many
    from kiosk.models import Copy
    from tests.conftest import copy_fact

    _type, payload = copy_fact("TN-0001", "Dế Mèn phiêu lưu ký", author="Tô Hoài", status="on_loan")
    with write_transaction():
        if bulk:
            apply_many("catalog.upsert", [payload])
        else:
            apply("catalog.upsert", payload)
    assert Copy.get(Copy.code == "TN-0001").status == "on_loan"


def test_settling_agrees_with_the_rule_for_every_status(school):
    """settle_copy_status is SQL (one statement); rules.settled_status is the rule it must follow."""
    from kiosk import rules
    from kiosk.ledger import settle_copy_status
    from kiosk.vocabulary import COPY_STATUSES

    copy_id, patron_id = _ids(school)
    for status in COPY_STATUSES:
        for lent in (True, False):
            with write_transaction():
                db.execute_sql("DELETE FROM loan WHERE copy_id = ?", (copy_id,))
                if lent:
                    _raw_loan(f"loan-{status}", copy_id, patron_id)
                db.execute_sql("UPDATE copy SET status = ? WHERE id = ?", (status, copy_id))
                settle_copy_status([copy_id])
            (settled,) = db.execute_sql("SELECT status FROM copy WHERE id = ?", (copy_id,)).fetchone()
            assert settled == rules.settled_status(status, lent), (status, lent)
