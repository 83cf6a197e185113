"""The server's change log and pull: pages, snapshots, tombstones, unusable cursors, late commits."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime

import pytest

from kiosk import ledger
from kiosk.db import write_transaction
from kiosk.models import Patron
from sync.protocol import Cursor, parse_cursor
from sync.server import service
from sync.server.changes import publish
from sync.server.models import Device
from tests.conftest import FakeClock, copy_fact, patron_fact
from tests.sync.conftest import BACKENDS, ServerHandle, server_on, utc

NOW = datetime(2026, 3, 2, 2, 0)


@pytest.fixture(params=BACKENDS)
def server(request, tmp_path) -> Iterator[ServerHandle]:
    with server_on(request.param, tmp_path / "server", FakeClock(utc(2026, 3, 2, 2, 0))) as handle:
        with handle.run():
            Device.create(id="k1", name="k1", paired_at=NOW)
        yield handle


def pull_all(cursor: str | None, limit: int = 3) -> tuple[list[dict], str, bool]:
    records, reset = [], None
    while True:
        page = service.changes_since(cursor, limit)
        reset = page["reset"] if reset is None else reset
        records += page["records"]
        cursor = page["cursor"]
        if not page["more"]:
            return records, cursor, reset


def test_pages_follow_the_change_sequence_and_the_newest_state_only(server):
    with server.run():
        service.record_server_facts([patron_fact(f"HS{n}", f"Tên {n}") for n in range(7)])
        records, cursor, reset = pull_all(None)
        assert reset and [r["key"] for r in records] == [f"HS{n}" for n in range(7)]
        assert [r["seq"] for r in records] == sorted(r["seq"] for r in records)
        service.record_server_facts([patron_fact("HS3", "Tên mới")])
        service.record_server_facts([patron_fact("HS3", "Tên mới hơn")])
        again, cursor2, reset2 = pull_all(cursor)
        assert not reset2 and [(r["key"], r["payload"]["name"]) for r in again] == [("HS3", "Tên mới hơn")]
        assert pull_all(cursor2)[0] == []


def test_snapshot_skips_closed_loans_and_tombstones_but_increments_carry_them(server):
    with server.run():
        service.record_server_facts([patron_fact("HS1", "An"), copy_fact("TN-1", "Sách 1"), copy_fact("TN-2", "Sách 2"),
                                     patron_fact("HS2", "Bình")])
        _, cursor, _ = pull_all(None)
        assert service.remove_copy("TN-2") == "deleted"
        assert service.remove_patron("HS2") == "deleted"
        increment, _, _ = pull_all(cursor)
        assert {(r["kind"], r["key"], r["op"]) for r in increment} == {("copy", "TN-2", "delete"),
                                                                       ("patron", "HS2", "delete")}
        fresh, _, _ = pull_all(None)
        assert {r["key"] for r in fresh} == {"HS1", "TN-1"}


def test_unusable_cursors_get_a_snapshot(server):
    with server.run():
        service.record_server_facts([patron_fact("HS1", "An")])
        _, cursor, _ = pull_all(None)
        parsed = parse_cursor(cursor)
        for bad in ("garbage", Cursor("otherdb", parsed.seq).encode(), Cursor(parsed.epoch, parsed.seq + 50).encode()):
            records, _, reset = pull_all(bad)
            assert reset and [r["key"] for r in records] == ["HS1"]


def test_patron_with_loans_is_deactivated_not_deleted(server):
    with server.run():
        service.record_server_facts([patron_fact("HS1", "An"), copy_fact("TN-1", "Sách 1")])
        with write_transaction():
            from sync.server.apply import Context, apply

            apply(Context("k1", "e1", "t", NOW), "loan.checkout",
                  {"loan": "L1", "item": "TN-1", "patron": "HS1", "at": "2026-03-02T02:00:00",
                   "due": "2026-03-12", "device": "k1"})
        assert service.remove_patron("HS1") == "deactivated"
        assert service.remove_copy("TN-1") == "withdrawn"
        assert not Patron.get(Patron.code == "HS1").active


def test_a_change_committed_late_is_never_skipped(server):
    """Two writers: the one holding a lower change number commits last; a reader in between skips nothing.

    Each thread gets its own connection from the same database object (peewee keeps them per thread).
    """
    first_holds, release, second_done = threading.Event(), threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def writer(code: str, hold: bool) -> None:
        server.database.connect(reuse_if_open=True)
        try:
            # Straight to the change log, without the push path's advisory lock: the
            # counter row alone must order commits.
            with write_transaction():
                ledger.apply("patron.upsert", {"code": code, "name": code})
                publish({("patron", code)})
                if hold:
                    first_holds.set()
                    release.wait(10)
            if not hold:
                second_done.set()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            server.database.close()

    with server.run():
        service.record_server_facts([patron_fact("HS0", "Đầu")])
        _, cursor, _ = pull_all(None)
        slow = threading.Thread(target=writer, args=("HS1", True))
        slow.start()
        assert first_holds.wait(10)
        fast = threading.Thread(target=writer, args=("HS2", False))
        fast.start()
        fast.join(0.7)
        seen_meanwhile, cursor_meanwhile, _ = pull_all(cursor)
        # The second writer cannot commit a change number above an uncommitted one.
        assert not second_done.is_set()
        assert seen_meanwhile == []
        release.set()
        slow.join(10)
        fast.join(10)
        assert not errors and second_done.is_set()
        later, _, _ = pull_all(cursor_meanwhile)
    assert [r["key"] for r in later] == ["HS1", "HS2"]
