"""The set-based ledger paths against the one-by-one ones, on two fresh real SQLite files.

``ledger.apply_many`` and ``ledger.record_many`` (imports, a kiosk's first pull) must leave exactly
the rows that ``ledger.apply`` / ``ledger.record`` leave when given the same facts one by one, in
order — or fail the same way. Random runs mix existing and new copies and patrons, a class set's
shared ISBN, titles without an ISBN, statuses on copies with and without an open loan, payloads
that leave fields out, and the same key several times in one run.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from itertools import groupby
from operator import itemgetter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from peewee import IntegrityError

from kiosk import ledger
from kiosk.db import db, init_database, write_transaction
from kiosk.store import database_path, open_store
from kiosk.vocabulary import CATEGORIES, COPY_STATUSES, PATRON_KINDS
from sync import kiosk_state

TABLES = ("patron", "title", "copy", "loan", "setting")
CLASS_SET_ISBN = "9786040000026"  # SGK-1 and SGK-2 share it before the run starts
NEW_ISBN = "9786040000033"
SEED = [  # applied one by one before each run, in both databases
    ("patron.upsert", {"code": "HS001", "name": "Nguyễn Văn An", "class_name": "6A1", "kind": "student"}),
    ("patron.upsert", {"code": "HS002", "name": "Trần Thị Bình", "class_name": "6A2", "active": False}),
    ("catalog.upsert", {"item": "SGK-1", "title": "Toán 6 tập một", "isbn": CLASS_SET_ISBN, "category": "SGK",
                        "shelf": "A1", "price": 12000, "added_on": "2025-09-01"}),
    ("catalog.upsert", {"item": "SGK-2", "title": "Toán 6 tập một", "isbn": CLASS_SET_ISBN, "category": "SGK"}),
    ("catalog.upsert", {"item": "TN-1", "title": "Dế Mèn phiêu lưu ký", "author": "Tô Hoài", "isbn": None,
                        "location": "6A1"}),
    ("catalog.upsert", {"item": "TN-2", "title": "Dế Mèn phiêu lưu ký", "author": "", "isbn": ""}),
    # SGK-1 is out (an open loan), TN-1 came back (a closed one).
    ("loan.checkout", {"loan": "loan-open", "item": "SGK-1", "patron": "HS001", "at": "2026-03-02T02:00:00.000000",
                       "due": "2026-03-12", "device": "kiosk-a"}),
    ("loan.checkout", {"loan": "loan-closed", "item": "TN-1", "patron": "HS002", "at": "2026-03-01T02:00:00.000000",
                       "due": "2026-03-11", "device": "kiosk-a"}),
    ("loan.checkin", {"loan": "loan-closed", "item": "TN-1", "at": "2026-03-02T03:00:00.000000",
                      "device": "kiosk-a", "status": "available"}),
]

ITEMS = ["SGK-1", "SGK-2", "TN-1", "TN-2", "NEW-1", "NEW-2", "NEW-3"]
PATRONS = ["HS001", "HS002", "HS101", "HS102"]
texts = st.sampled_from(["", "Kim Đồng", "Giáo dục", "843 SA-E"])

catalog_payload = st.fixed_dictionaries(
    {
        "item": st.sampled_from(ITEMS),
        "title": st.sampled_from(["Toán 6 tập một", "Dế Mèn phiêu lưu ký", "Hoàng tử bé"]),
    },
    optional={
        "isbn": st.sampled_from([None, "", CLASS_SET_ISBN, NEW_ISBN]),
        "author": st.sampled_from(["", "Tô Hoài", "Saint-Exupéry"]),
        "publisher": texts,
        "year": st.one_of(st.none(), st.integers(1990, 2026)),
        "category": st.sampled_from([None, "", *CATEGORIES]),
        "classification": texts,
        "location": st.sampled_from(["main", "6A1", "7A2"]),
        "shelf": st.sampled_from(["", "A1", "B3"]),
        "added_on": st.sampled_from([None, "2024-09-05", "2026-01-15"]),
        "price": st.one_of(st.none(), st.integers(0, 90_000)),
        "status": st.sampled_from(COPY_STATUSES),
    },
)
patron_fields = {
    "name": st.sampled_from(["Lê Minh Châu", "Phạm Thu Hà", "Đỗ Quang Huy"]),
    "class_name": st.sampled_from(["", "6A1", "7A2"]),
    "kind": st.sampled_from(PATRON_KINDS),
    "school_year": st.sampled_from(["", "2025-2026"]),
    "active": st.booleans(),
}
patron_payload = st.fixed_dictionaries({"code": st.sampled_from(PATRONS)}, optional=patron_fields)
fact = st.one_of(st.tuples(st.just("catalog.upsert"), catalog_payload),
                 st.tuples(st.just("patron.upsert"), patron_payload),
                 st.tuples(st.just("copy.status"), st.fixed_dictionaries(
                     {"item": st.sampled_from(ITEMS[:4]), "status": st.sampled_from(COPY_STATUSES)},
                     optional={"note": texts})),
                 st.tuples(st.just("setting.set"), st.fixed_dictionaries(
                     {"key": st.just("school_name"), "value": texts})))


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """A migrated data directory with the seed facts, copied for every example."""
    directory = tmp_path_factory.mktemp("template")
    open_store(directory, upgrade=True)
    with write_transaction():
        for event_type, payload in SEED:
            ledger.record(event_type, payload, device="desk", device_time=datetime(2026, 3, 1, 8))
    db.close()
    return directory


def dump(path: Path) -> dict[str, list[tuple]]:
    connection = sqlite3.connect(path)
    try:
        tables = {table: connection.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall() for table in TABLES}
        # Every column but the uuid, which is fresh for every fact.
        tables["event"] = connection.execute(
            "SELECT id, device, seq, type, payload, device_time FROM event ORDER BY id").fetchall()
        return tables
    finally:
        connection.close()


@contextmanager
def fresh_database(template: Path, into: Path) -> Iterator[Path]:
    shutil.copytree(template, into)
    init_database(database_path(into)).connect()
    try:
        yield database_path(into)
    finally:
        db.close()


def outcome(template: Path, into: Path, write: Callable[[], object]) -> tuple[str, object, object]:
    """What ``write`` returned and the tables after it, in one transaction; or the kind of error it failed with."""
    with fresh_database(template, into) as path:
        try:
            with write_transaction():
                returned = write()
        except IntegrityError:
            return "IntegrityError", None, None
    return "ok", returned, dump(path)


def check_apply_many(template: Path, facts: list[tuple[str, dict]]) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        def one_by_one() -> None:
            for event_type, payload in facts:
                ledger.apply(event_type, payload)

        def in_runs() -> None:
            # Consecutive facts of one type, as apply_records and record_many group them.
            for event_type, run in groupby(facts, key=itemgetter(0)):
                ledger.apply_many(event_type, [payload for _type, payload in run])

        expected = outcome(template, Path(scratch) / "one", one_by_one)
        assert outcome(template, Path(scratch) / "bulk", in_runs) == expected


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(facts=st.lists(fact, min_size=1, max_size=30))
# A class set whose later copy renames the shared title; a lent copy said to be available.
@example(facts=[("catalog.upsert", {"item": "NEW-1", "title": "Toán 6", "isbn": CLASS_SET_ISBN}),
                ("catalog.upsert", {"item": "SGK-1", "title": "Toán 6 (2025)", "isbn": CLASS_SET_ISBN,
                                    "status": "available"}),
                ("catalog.upsert", {"item": "NEW-1", "title": "Toán 6 (2026)", "isbn": CLASS_SET_ISBN,
                                    "shelf": "B3"})])
# A new title without an ISBN, then a copy moving to it and back; an existing one by title + author.
@example(facts=[("catalog.upsert", {"item": "TN-2", "title": "Hoàng tử bé", "author": "Saint-Exupéry"}),
                ("catalog.upsert", {"item": "NEW-2", "title": "Dế Mèn phiêu lưu ký", "author": "Tô Hoài",
                                    "price": 30000, "added_on": "2026-01-15"}),
                ("catalog.upsert", {"item": "TN-2", "title": "Dế Mèn phiêu lưu ký", "author": ""})])
# Two new patrons (ids in order), one changed again in the same run; an existing one partly changed.
@example(facts=[("patron.upsert", {"code": "HS101", "name": "Lê Minh Châu", "class_name": "6A1"}),
                ("patron.upsert", {"code": "HS102", "name": "Phạm Thu Hà", "kind": "teacher"}),
                ("patron.upsert", {"code": "HS002", "active": True}),
                ("patron.upsert", {"code": "HS101", "kind": "teacher", "class_name": ""})])
def test_apply_many_leaves_the_rows_one_by_one_leaves(template, facts):
    check_apply_many(template, facts)


def test_a_new_patron_without_a_name_fails_in_bulk_as_alone(template):
    # Completed later in the run or not, the row is created from its first fact, as one by one.
    facts = [("patron.upsert", {"code": "HS101", "class_name": "6A1"}),
             ("patron.upsert", {"code": "HS101", "name": "Lê Minh Châu"})]
    with tempfile.TemporaryDirectory() as scratch:
        assert outcome(template, Path(scratch) / "bulk",
                       lambda: ledger.apply_many("patron.upsert", [p for _t, p in facts]))[0] == "IntegrityError"
    check_apply_many(template, facts)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(facts=st.lists(fact, min_size=1, max_size=30))
def test_record_many_gives_the_tables_and_outbox_record_gives(template, facts):
    moment = datetime(2026, 3, 2, 9, 30)
    with tempfile.TemporaryDirectory() as scratch:
        def one_by_one() -> None:
            for event_type, payload in facts:
                ledger.record(event_type, payload, device="desk", device_time=moment)

        def at_once() -> None:
            ledger.record_many(facts, device="desk", device_time=moment)
            uuids = [uuid for (uuid,) in db.execute_sql("SELECT uuid FROM event").fetchall()]
            assert len(set(uuids)) == len(uuids)

        expected = outcome(template, Path(scratch) / "one", one_by_one)
        assert outcome(template, Path(scratch) / "bulk", at_once) == expected


pulled_record = st.one_of(
    catalog_payload.map(lambda p: {"kind": "copy", "key": p["item"], "op": "upsert", "type": "catalog.upsert",
                                   "payload": p}),
    patron_payload.map(lambda p: {"kind": "patron", "key": p["code"], "op": "upsert", "type": "patron.upsert",
                                  "payload": p}),
    st.sampled_from(ITEMS).map(lambda item: {"kind": "copy", "key": item, "op": "delete", "type": "catalog.upsert",
                                             "payload": {"key": item}}),
    # Another kiosk's loans: existing ones (open, closed) and new ones, opened and closed, on copies
    # with and without an open loan here, some on copies or cards this kiosk doesn't know.
    st.builds(lambda loan, item, patron, returned, renewals: {
        "kind": "loan", "key": loan, "op": "upsert", "type": "loan.state",
        "payload": {"loan": loan, "item": item, "patron": patron, "at": "2026-03-02T04:00:00.000000",
                    "due": "2026-03-12", "returned_at": returned, "renewals": renewals, "location": "main",
                    "checkout_device": "kiosk-b", "checkin_device": "kiosk-b" if returned else None}},
        st.sampled_from(["loan-open", "loan-closed", "loan-new", "loan-new-2", "loan-new-3"]),
        st.sampled_from(["SGK-1", "SGK-2", "TN-1", "NEW-3"]), st.sampled_from(["HS001", "HS002", "HS102"]),
        st.sampled_from([None, None, "2026-03-02T05:00:00.000000"]), st.integers(0, 1)),
    st.just({"kind": "shelf", "key": "A1", "op": "upsert", "type": "shelf.label", "payload": {}}),
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records=st.lists(pulled_record, min_size=1, max_size=30),
       held_back=st.sets(st.sampled_from([("copy", "NEW-1"), ("copy", "SGK-1"), ("patron", "HS101")])))
def test_a_pulled_page_applies_as_record_by_record(template, records, held_back):
    with tempfile.TemporaryDirectory() as scratch:
        def record_by_record() -> int:
            return sum(kiosk_state.apply_record(record) for record in records
                       if (record["kind"], record["key"]) not in held_back)

        expected = outcome(template, Path(scratch) / "one", record_by_record)
        assert outcome(template, Path(scratch) / "page", lambda: kiosk_state.apply_records(records, held_back)) \
            == expected


# Every feature above in one run, for PostgreSQL (the server's database), where a fresh database per
# random example would be too slow: existing rows updated through executemany with its placeholder.
MIXED_RUN = [
    ("catalog.upsert", {"item": "NEW-1", "title": "Toán 6", "isbn": CLASS_SET_ISBN, "added_on": "2026-01-15"}),
    ("catalog.upsert", {"item": "SGK-1", "title": "Toán 6 (2025)", "isbn": CLASS_SET_ISBN, "status": "available",
                        "price": 15000}),
    ("catalog.upsert", {"item": "SGK-2", "title": "Toán 6 (2025)", "isbn": CLASS_SET_ISBN, "status": "lost"}),
    ("catalog.upsert", {"item": "TN-2", "title": "Hoàng tử bé", "author": "Saint-Exupéry", "shelf": "B3"}),
    ("catalog.upsert", {"item": "NEW-2", "title": "Dế Mèn phiêu lưu ký", "author": "Tô Hoài", "isbn": "",
                        "year": 2020, "category": "TN", "status": "available"}),
    ("catalog.upsert", {"item": "NEW-1", "title": "Toán 6 (2026)", "isbn": CLASS_SET_ISBN, "location": "6A1"}),
    ("patron.upsert", {"code": "HS101", "name": "Lê Minh Châu", "class_name": "6A1"}),
    ("patron.upsert", {"code": "HS002", "active": True, "school_year": "2025-2026"}),
    ("patron.upsert", {"code": "HS101", "kind": "teacher", "class_name": ""}),
]


@pytest.mark.postgres
def test_apply_many_on_postgres_leaves_the_rows_one_by_one_leaves():
    from kiosk.migrations import KIOSK, migrate
    from tests.sync.conftest import fresh_postgres_database

    def run(apply_run: Callable[[], None]) -> dict[str, list[tuple]]:
        with fresh_postgres_database() as url:
            database = init_database(url)
            try:
                migrate(database, KIOSK)
                with database.atomic():
                    for event_type, payload in SEED:
                        ledger.apply(event_type, payload)
                    apply_run()
                return {table: database.execute_sql(f"SELECT * FROM {table} ORDER BY 1").fetchall()
                        for table in ("patron", "title", "copy", "loan")}
            finally:
                database.close()

    original = db.obj
    try:
        one_by_one = run(lambda: [ledger.apply(event_type, payload) for event_type, payload in MIXED_RUN])
        bulk = run(lambda: [ledger.apply_many(event_type, [payload for _type, payload in group])
                            for event_type, group in groupby(MIXED_RUN, key=itemgetter(0))])
    finally:
        db.initialize(original)
    assert bulk == one_by_one
    titles = {row[2] for row in bulk["title"]}
    assert "Toán 6 (2026)" in titles and "Hoàng tử bé" in titles  # the run did change things
