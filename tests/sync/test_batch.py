"""The bulk push path: the same database as applying every fact alone through the conflict rules.

``BatchApplier`` takes plain loans in bulk and hands everything else to
sync/server/apply.py. A reference applier with no plain path applies every
fact alone; random histories from two kiosks, cut into random batches, must
leave both server databases identical row for row (stored text included), with
the same outcome for every event and the same change log for the kiosks.
"""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from kiosk.db import connect, db
from sync.server import service
from sync.server.batch import BatchApplier
from sync.server.changes import publish
from sync.server.store import SERVER_DB_FILENAME, open_server_store
from tests.sync.conftest import bound, fresh_postgres_database

DEVICES = ("kiosk-A", "kiosk-B")
COPIES = ("C0", "C1", "C2", "C3", "C4", "C5", "UNKNOWN")  # C4 is lost, C5 withdrawn on the server
PATRONS = ("P0", "P1", "P2", "P3", "NOBODY")  # P3's card is deactivated
LOANS = tuple(f"L{n}" for n in range(8))
STATUSES = ("available", "lost", "damaged", "withdrawn", "on_loan")
TABLES = ("title", "copy", "patron", "loan", "applied_event", "conflict", "pending_checkin", "change", "device")
START = datetime(2026, 3, 2, 8, 0)


class OneByOne(BatchApplier):
    """The reference: every fact through apply.py's appliers, one at a time."""

    PLAIN = {}

    def _upsert_run(self, events, start):
        return []  # no upserts in bulk either


def _seed_facts() -> list[tuple[str, dict]]:
    facts = [("patron.upsert", {"code": code, "name": f"Học sinh {code}", "class_name": "6A1",
                                "active": code != "P3"}) for code in PATRONS[:-1]]
    for code in COPIES[:-1]:
        status = {"C4": "lost", "C5": "withdrawn"}.get(code, "available")
        facts.append(("catalog.upsert", {"item": code, "isbn": "9786040000001", "title": "Dế Mèn phiêu lưu ký",
                                         "author": "Tô Hoài", "category": "TN", "status": status}))
    return facts


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """A migrated, seeded server database, copied for each example (fresh real SQLite files)."""
    directory = tmp_path_factory.mktemp("batch-template")
    previous = db.obj
    database = open_server_store(directory, upgrade=True)
    service.record_server_facts(_seed_facts())
    for device in DEVICES:
        code = service.add_device(device, START)
        service.pair(code, device, b"key", START)
    database.close()
    if previous is not None:
        db.initialize(previous)
    return directory / SERVER_DB_FILENAME


ops = st.one_of(
    st.tuples(st.just("checkout"), st.sampled_from(DEVICES), st.sampled_from(LOANS), st.sampled_from(COPIES),
              st.sampled_from(PATRONS), st.booleans(), st.sampled_from(["ok", "ok", "ok", "bad_due", "no_at"])),
    st.tuples(st.just("checkin"), st.sampled_from(DEVICES), st.sampled_from(COPIES),
              st.sampled_from((None, "latest", "latest", *LOANS)), st.booleans()),
    st.tuples(st.just("status"), st.sampled_from(DEVICES), st.sampled_from(COPIES), st.sampled_from(STATUSES)),
    st.tuples(st.just("patron"), st.sampled_from(DEVICES), st.sampled_from(PATRONS), st.booleans()),
    st.tuples(st.just("catalog"), st.sampled_from(DEVICES), st.sampled_from(COPIES),
              st.sampled_from(["9786040000001", "9786040000002", ""]), st.sampled_from(["available", "lost", None, "no title"])),
)


def _events(history: list[tuple], reuse: list[bool]) -> list[tuple[str, dict]]:
    """(device, event) pairs with per-device gap-free seqs; some events reuse an earlier event's uuid."""
    seqs = dict.fromkeys(DEVICES, 0)
    latest: dict[str, str] = {}  # item → the loan of its latest checkout: returns usually name it
    out: list[tuple[str, dict]] = []
    for n, (op, reused) in enumerate(zip(history, reuse, strict=True)):
        kind, device = op[0], op[1]
        other = DEVICES[1] if device == DEVICES[0] else DEVICES[0]
        at = (START + timedelta(minutes=n)).isoformat(timespec="microseconds")
        if kind == "checkout":
            _, _, loan, item, patron, same_device, shape = op
            payload = {"loan": loan, "item": item, "patron": patron, "at": at, "due": "2026-03-16",
                       "location": "main", "device": device if same_device else other}
            if shape == "bad_due":
                payload["due"] = "16/03/2026"
            elif shape == "no_at":
                del payload["at"]
            event_type = "loan.checkout"
            latest[item] = loan
        elif kind == "checkin":
            _, _, item, loan, same_device = op
            payload = {"item": item, "at": at, "device": device if same_device else other, "status": "available"}
            if loan == "latest":
                loan = latest.get(item)
            if loan is not None:
                payload["loan"] = loan
            event_type = "loan.checkin"
        elif kind == "catalog":
            event_type = "catalog.upsert"
            payload = {"item": op[2], "isbn": op[3], "title": "Dế Mèn phiêu lưu ký", "author": "Tô Hoài",
                       "category": "TN"}
            if op[4] == "no title":
                del payload["title"]  # malformed: the whole run falls back to one fact at a time
            elif op[4] is not None:
                payload["status"] = op[4]
        elif kind == "status":
            event_type, payload = "copy.status", {"item": op[2], "status": op[3], "note": "kiểm kê"}
        else:
            event_type = "patron.upsert"
            payload = {"code": op[2], "name": f"Học sinh {op[2]}", "class_name": "6A1", "active": op[3]}
        seqs[device] += 1
        uuid = out[n // 2][1]["uuid"] if reused and out else f"event-{n}"
        out.append((device, {"seq": seqs[device], "uuid": uuid, "type": event_type, "payload": payload,
                             "device_time": at, "known": 0}))
    return out


def _batches(events: list[tuple[str, dict]], sizes: list[int]) -> list[tuple[str, list[dict]]]:
    """Consecutive events of one device, cut into batches of the drawn sizes."""
    batches: list[tuple[str, list[dict]]] = []
    size_iter = iter(sizes * (len(events) + 1))
    for device, event in events:
        if batches and batches[-1][0] == device and len(batches[-1][1]) < batches[-1][2]:
            batches[-1][1].append(event)
        else:
            batches.append((device, [event], next(size_iter)))
    return [(device, group) for device, group, _size in batches]


def _push(applier_class: type[BatchApplier], batches: list[tuple[str, list[dict]]]) -> list[list[dict]]:
    replies = []
    for n, (device, events) in enumerate(batches):
        with service.server_write():
            applier = applier_class(device, START + timedelta(hours=1, seconds=n))
            replies.append(applier.apply(events))
            publish(applier.touched)
    return replies


def _rows(database) -> dict[str, list[tuple]]:
    """Every row as stored (text as the database keeps it), in id or key order."""
    dump = {}
    for table in TABLES:
        cursor = database.execute_sql(f'SELECT * FROM "{table}" ORDER BY 1')
        dump[table] = [tuple(row) for row in cursor.fetchall()]
    return dump


def _run(path: Path, applier_class: type[BatchApplier], batches) -> tuple[list, dict]:
    database = connect(str(path))
    with bound(database):
        replies = _push(applier_class, batches)
        rows = _rows(database)
    database.close()
    return replies, rows


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(history=st.lists(ops, min_size=1, max_size=40), reuse=st.lists(st.booleans(), min_size=40, max_size=40),
       sizes=st.lists(st.integers(1, 9), min_size=1, max_size=6))
# A copy lent in one batch, then returned and lent again in the next: the return must reach the
# database before the new loan (at most one open loan per copy).
@example(history=[("checkout", "kiosk-A", "L0", "C0", "P0", True, "ok"),
                  ("checkout", "kiosk-B", "L1", "C1", "P1", True, "ok"),
                  ("checkin", "kiosk-A", "C0", "latest", True),
                  ("checkout", "kiosk-A", "L2", "C0", "P1", True, "ok")], reuse=[False] * 40, sizes=[5])
# A copy marked lost by a catalogue upsert, then lent in the same batch: the bulk upsert must not
# leave the batch's own view of the copy stale.
@example(history=[("catalog", "kiosk-A", "C0", "", "lost"),
                  ("checkout", "kiosk-A", "L0", "C0", "P0", True, "ok")], reuse=[False] * 40, sizes=[5])
# A run of upserts with a malformed one in the middle: every one of them is still answered.
@example(history=[("catalog", "kiosk-A", "C0", "", None), ("catalog", "kiosk-A", "C1", "", "no title"),
                  ("catalog", "kiosk-A", "UNKNOWN", "9786040000002", "available")], reuse=[False] * 40, sizes=[5])
def test_bulk_push_leaves_the_same_database_as_one_by_one(template, tmp_path_factory, history, reuse, sizes):
    reuse = [flag and n % 7 == 3 for n, flag in enumerate(reuse)]  # now and then, not half the time
    batches = _batches(_events(history, reuse[:len(history)]), sizes)
    directory = tmp_path_factory.mktemp("batch")
    bulk_file, alone_file = directory / "bulk.sqlite3", directory / "alone.sqlite3"
    shutil.copy(template, bulk_file)
    shutil.copy(template, alone_file)
    bulk_replies, bulk_rows = _run(bulk_file, BatchApplier, batches)
    alone_replies, alone_rows = _run(alone_file, OneByOne, batches)
    assert bulk_replies == alone_replies
    for table in TABLES:
        assert bulk_rows[table] == alone_rows[table], table


def _plain_day(device: str, pairs: int, first: int = 0) -> list[dict]:
    """Checkouts of shelf copies to active cards, then their returns at the same kiosk."""
    events, seq = [], 0
    for n in range(first, first + pairs):
        at = (START + timedelta(seconds=n)).isoformat()
        for event_type, payload in (
            ("loan.checkout", {"loan": f"plain-{n}", "item": COPIES[n % 4], "patron": PATRONS[n % 3], "at": at,
                               "due": "2026-03-16", "location": "main", "device": device}),
            ("loan.checkin", {"loan": f"plain-{n}", "item": COPIES[n % 4], "at": at, "device": device,
                              "status": "available"}),
        ):
            seq += 1
            events.append({"seq": seq, "uuid": f"plain-event-{n}-{seq}", "type": event_type, "payload": payload,
                           "device_time": at})
    return events


def test_a_batch_of_plain_facts_costs_a_few_statements_not_several_per_event(template, tmp_path):
    """The bulk path really runs: 500 plain facts are read and written with a handful of statements."""
    path = tmp_path / "server.sqlite3"
    shutil.copy(template, path)
    database = connect(str(path))
    statements = []
    execute = database.execute_sql

    def counting(sql, params=None, *args, **kwargs):
        statements.append(sql)
        return execute(sql, params, *args, **kwargs)

    database.execute_sql = counting
    with bound(database):
        reply = service.push(DEVICES[0], _plain_day(DEVICES[0], 250), START)
        assert reply["last_seq"] == 500 and {r["outcome"] for r in reply["results"]} == {"applied"}
        assert len(statements) < 40, statements[:60]
        database.execute_sql = execute
        open_loans = database.execute_sql("SELECT COUNT(*) FROM loan WHERE returned_at IS NULL").fetchone()[0]
        closed = database.execute_sql("SELECT COUNT(*) FROM loan WHERE returned_at IS NOT NULL").fetchone()[0]
    assert (open_loans, closed) == (0, 250)


def test_an_event_reusing_an_applied_uuid_is_rejected_and_the_kiosk_moves_on(template, tmp_path):
    path = tmp_path / "server.sqlite3"
    shutil.copy(template, path)
    database = connect(str(path))
    with bound(database):
        first = service.push(DEVICES[0], _plain_day(DEVICES[0], 1), START)
        copied = dict(_plain_day(DEVICES[1], 1, first=5)[0], uuid=first["results"][0]["uuid"])
        reply = service.push(DEVICES[1], [copied], START)
        assert reply["last_seq"] == 1
        assert reply["results"][0]["outcome"] == "rejected"
        assert reply["results"][0]["reason"] == "event uuid already used"
        again = service.push(DEVICES[1], [copied], START)  # the resent batch is a duplicate, not a new error
        assert again["results"][0]["duplicate"] and again["results"][0]["outcome"] == "rejected"
        loans = database.execute_sql("SELECT uuid FROM loan").fetchall()
    assert [row[0] for row in loans] == ["plain-0"]


@pytest.mark.postgres
def test_bulk_push_on_postgresql_opens_and_closes_loans_across_batches(tmp_path):
    """The bulk writes (multi-row inserts, CASE updates of timestamps) mean the same on PostgreSQL."""
    with fresh_postgres_database() as url:
        previous = db.obj
        database = open_server_store(tmp_path, url, upgrade=True)
        try:
            service.record_server_facts(_seed_facts())
            code = service.add_device(DEVICES[0], START)
            service.pair(code, DEVICES[0], b"key", START)
            day = _plain_day(DEVICES[0], 30)
            checkouts = [e for e in day if e["type"] == "loan.checkout"]
            returns = [e for e in day if e["type"] == "loan.checkin"]
            # Each copy is lent once before it comes back: checkouts of distinct copies, then their returns.
            first = [dict(e, seq=n + 1) for n, e in enumerate(checkouts[:4])]
            second = [dict(e, seq=n + 5) for n, e in enumerate(returns[:4])]
            assert {r["outcome"] for r in service.push(DEVICES[0], first, START)["results"]} == {"applied"}
            assert {r["outcome"] for r in service.push(DEVICES[0], second, START)["results"]} == {"applied"}
            from kiosk.models import Copy, Loan

            closed = {loan.uuid: loan.returned_at for loan in Loan.select()}
            assert closed == {e["payload"]["loan"]: datetime.fromisoformat(e["payload"]["at"]) for e in returns[:4]}
            assert {c.code: c.status for c in Copy.select().where(Copy.code.in_(COPIES[:4]))} == dict.fromkeys(
                COPIES[:4], "available")
        finally:
            database.close()
            if previous is not None:
                db.initialize(previous)
