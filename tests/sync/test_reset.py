"""A kiosk after the school server was replaced by a fresh one (in-process sync, real SQLite files)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kiosk.ledger import get_setting
from kiosk.models import Copy, Loan, Patron, Title
from sync import kiosk_state
from sync.client import SyncFailed
from sync.protocol import parse_cursor
from tests.conftest import FakeClock, copy_fact, patron_fact
from tests.sync.conftest import ServerHandle, paired_kiosks, utc

KEPT = [patron_fact("HS001", "Nguyễn Văn An"), patron_fact("HS002", "Trần Thị Bình"),
        copy_fact("TN-0001", "Dế Mèn phiêu lưu ký"), copy_fact("TN-0002", "Đất rừng phương Nam")]
GONE = [patron_fact("HS003", "Lê Minh Châu"), patron_fact("HS004", "Phạm Gia Huy"),
        copy_fact("TN-0003", "Tuổi thơ dữ dội"), copy_fact("TN-0005", "Kính vạn hoa")]
NEW = [copy_fact("TN-0004", "Cho tôi xin một vé đi tuổi thơ")]


class PullBreaksAfter:
    """The network goes away after some pulled pages (as HttpTransport reports it)."""

    def __init__(self, transport, pages: int) -> None:
        self.transport, self.pages = transport, pages

    def post(self, path: str, body: bytes, headers: Mapping[str, str]) -> tuple[int, dict[str, Any]]:
        if path == "/sync/pull":
            if self.pages == 0:
                raise SyncFailed(reason="server unreachable (ConnectionError)")
            self.pages -= 1
        return self.transport.post(path, body, headers)


def _mirror(handle) -> tuple:
    """What a librarian compares: active cards, copies that can be lent or are out, open loans."""
    with handle.run():
        return ({p.code for p in Patron.select().where(Patron.active)},
                {c.code: c.status for c in Copy.select().where(Copy.status != "withdrawn")},
                {(loan.uuid, loan.copy.code, loan.patron.code) for loan in Loan.open_loans()})


def test_a_kiosk_mirrors_a_replaced_server_once_it_has_read_the_whole_snapshot(tmp_path):
    clock = FakeClock(utc(2026, 3, 2, 2, 0))
    old = ServerHandle(tmp_path / "old", clock)
    old.facts(KEPT + GONE)
    desk, corner = paired_kiosks(old, clock, tmp_path, ["desk", "corner"])
    with desk.run():
        desk_loan = desk.circ.checkout("HS001", "TN-0001").loan
    with corner.run():
        corner_loan = corner.circ.checkout("HS002", "TN-0002").loan
        corner.circ.checkout("HS003", "TN-0003")
    for kiosk in (desk, corner, desk):
        assert kiosk.sync().complete
    with corner.run():
        corner.circ.checkin("TN-0003")  # HS003's loan of TN-0003 is history at the desk too
    for kiosk in (corner, desk):
        assert kiosk.sync().complete

    # The server's disk is replaced: a fresh data directory, the school's catalogue imported again
    # without the cards and books that had left, with a new book.
    old.database.close()
    new = ServerHandle(tmp_path / "new", clock)
    new.facts(KEPT + NEW)
    desk.client.transport = new.transport
    refused = desk.sync()
    assert not refused.complete and "401" in refused.error  # the new server does not know the kiosk
    desk.pair(new, "desk")  # the librarian pairs it again

    desk.client.page = 2
    desk.client.transport = PullBreaksAfter(new.transport, pages=1)
    assert not desk.sync().complete
    with desk.run():
        assert parse_cursor(get_setting(kiosk_state.CURSOR)).snapshot_until  # halfway through the snapshot
        assert {p.code for p in Patron.select()} == {"HS001", "HS002", "HS003", "HS004"}
        assert {c.code for c in Copy.select()} >= {"TN-0003", "TN-0005"}
        assert Loan.get(Loan.uuid == corner_loan).returned_at is None

    desk.client.transport = new.transport
    assert desk.sync().complete
    assert _mirror(desk) == _mirror(new)
    with new.run():
        assert Loan.get(Loan.uuid == desk_loan).returned_at is None  # the desk's own loan was sent again
    with desk.run():
        assert Patron.get_or_none(Patron.code == "HS004") is None  # never lent to: gone
        assert Copy.get_or_none(Copy.code == "TN-0005") is None
        assert not Title.select().where(Title.title == "Kính vạn hoa").exists()
        assert not Patron.get(Patron.code == "HS003").active  # loans name them: kept for the history
        assert Copy.get(Copy.code == "TN-0003").status == "withdrawn"
        stale = Loan.get(Loan.uuid == corner_loan)  # the new server has not heard of it yet
        assert stale.returned_at is not None and stale.checkin_device == "sync"
        assert Copy.get(Copy.code == "TN-0002").status == "available"

    # The corner kiosk is paired again too and sends its loan: the desk sees it open again.
    corner.client.transport = new.transport
    corner.pair(new, "corner")
    assert corner.sync().complete
    assert desk.sync().complete
    assert _mirror(desk) == _mirror(new) == _mirror(corner)
    with desk.run():
        assert Loan.get(Loan.uuid == corner_loan).returned_at is None
    new.database.close()
