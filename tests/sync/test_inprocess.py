"""The kiosk's sync client against the server app, in one process, each with its own SQLite file."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from kiosk.models import Copy, Loan, Patron
from sync import kiosk_state
from sync.server import service
from sync.server.models import AppliedEvent, Conflict, Device
from tests.conftest import FakeClock, copy_fact, patron_fact
from tests.sync.conftest import (
    BACKENDS,
    KioskHandle,
    ServerHandle,
    loan_uuids,
    server_on,
    utc,
)

SCHOOL = [
    patron_fact("HS001", "Nguyễn Văn An"),
    patron_fact("HS002", "Trần Thị Bình"),
    patron_fact("HS003", "Lê Minh Châu"),
    copy_fact("TN-0001", "Dế Mèn phiêu lưu ký", author="Tô Hoài"),
    copy_fact("TN-0002", "Đất rừng phương Nam", author="Đoàn Giỏi"),
    copy_fact("TN-0003", "Tuổi thơ dữ dội", author="Phùng Quán"),
]


@pytest.fixture
def sclock() -> FakeClock:
    return FakeClock(utc(2026, 3, 2, 2, 0))


@pytest.fixture(params=BACKENDS)
def server(request, tmp_path, sclock) -> Iterator[ServerHandle]:
    """The same suite on the embedded SQLite file and on a fresh PostgreSQL database."""
    with server_on(request.param, tmp_path / "server", sclock, SCHOOL) as handle:
        yield handle


def _kiosk(tmp_path, server, sclock, name) -> KioskHandle:
    kiosk = KioskHandle(tmp_path / name, sclock)
    kiosk.pair(server, name)
    summary = kiosk.sync()
    assert summary.complete, summary
    return kiosk


@pytest.fixture
def kiosk_a(tmp_path, server, sclock) -> KioskHandle:
    return _kiosk(tmp_path, server, sclock, "a")


@pytest.fixture
def kiosk_b(tmp_path, server, sclock) -> KioskHandle:
    return _kiosk(tmp_path, server, sclock, "b")


def _server_loans(server):
    with server.run():
        return {(loan.copy.code, loan.patron.code, loan.returned_at is None) for loan in Loan.select()}


def test_first_sync_pulls_the_catalogue(kiosk_a):
    with kiosk_a.run():
        assert Patron.select().count() == 3
        assert {c.code for c in Copy.select()} == {"TN-0001", "TN-0002", "TN-0003"}


def test_checkout_reaches_the_server_once_even_when_resent(kiosk_a, server):
    with kiosk_a.run():
        kiosk_a.circ.checkout("HS001", "TN-0001")
    first = kiosk_a.sync()
    assert first.complete and first.sent == 1
    # A lost reply: the kiosk forgets the acknowledgement and sends the same event again.
    with kiosk_a.run():
        from kiosk.db import write_transaction
        from kiosk.ledger import put_setting

        with write_transaction():
            put_setting(kiosk_state.ACKED, 0)
    again = kiosk_a.sync()
    assert again.complete and again.sent == 0
    with server.run():
        assert AppliedEvent.select().where(AppliedEvent.type == "loan.checkout").count() == 1
        assert Loan.select().count() == 1
        assert Copy.get(Copy.code == "TN-0001").status == "on_loan"


def test_a_copy_returned_and_lent_again_between_two_syncs_reaches_the_server(kiosk_a, server):
    with kiosk_a.run():
        kiosk_a.circ.checkout("HS001", "TN-0001")
    assert kiosk_a.sync().complete
    with kiosk_a.run():
        kiosk_a.circ.checkin("TN-0001")
        again = kiosk_a.circ.checkout("HS002", "TN-0001").loan
    summary = kiosk_a.sync()  # one push: the return, then the new loan of the same copy
    assert summary.complete and summary.sent == 2, summary
    with server.run():
        assert [loan.uuid for loan in Loan.open_loans()] == [again]
        assert Loan.select().count() == 2


def test_loan_made_at_a_is_seen_and_returned_at_b(kiosk_a, kiosk_b, server):
    with kiosk_a.run():
        kiosk_a.circ.checkout("HS001", "TN-0001")
    assert kiosk_a.sync().complete
    assert kiosk_b.sync().complete
    with kiosk_b.run():
        receipt = kiosk_b.circ.checkin("TN-0001")
        assert receipt.outcome == "returned"
    assert kiosk_b.sync().complete
    assert kiosk_a.sync().complete
    assert _server_loans(server) == {("TN-0001", "HS001", False)}
    with kiosk_a.run():
        assert Loan.get().returned_at is not None
        assert Copy.get(Copy.code == "TN-0001").status == "available"


def test_same_copy_lent_at_two_offline_kiosks_is_one_open_loan_and_a_conflict(kiosk_a, kiosk_b, server):
    with kiosk_a.run():
        loan_a = kiosk_a.circ.checkout("HS001", "TN-0002").loan
    with kiosk_b.run():
        loan_b = kiosk_b.circ.checkout("HS002", "TN-0002").loan
    assert kiosk_a.sync().complete
    summary_b = kiosk_b.sync()
    assert summary_b.complete and summary_b.conflicts == 1
    with server.run():
        open_loans = list(Loan.open_loans())
        assert [loan.uuid for loan in open_loans] == [min(loan_a, loan_b)]
        conflict = Conflict.get(Conflict.kind == "double_checkout")
        assert {conflict.loan, conflict.other_loan} == {loan_a, loan_b}
        assert conflict.status == "open"
    assert kiosk_a.sync().complete
    for kiosk in (kiosk_a, kiosk_b):
        with kiosk.run():
            assert [loan.uuid for loan in Loan.open_loans()] == [min(loan_a, loan_b)]


SMALL, LARGE = "11111111-0000-4000-8000-000000000000", "22222222-0000-4000-8000-000000000000"


def _open_loans(handle) -> set[str]:
    with handle.run():
        return {loan.uuid for loan in Loan.open_loans()}


def test_a_return_of_the_loan_kept_open_reopens_the_one_held_closed(kiosk_a, kiosk_b, server, sclock):
    """A lends and takes back, B lends the same copy offline and syncs first: B's loan ends open,
    as it does when A syncs first, and the conflict row says why."""
    with kiosk_a.run(), loan_uuids([SMALL]):
        kiosk_a.circ.checkout("HS001", "TN-0001")
    sclock.set(sclock() + timedelta(minutes=5))
    with kiosk_a.run():
        kiosk_a.circ.checkin("TN-0001")
    with kiosk_b.run(), loan_uuids([LARGE]):
        kiosk_b.circ.checkout("HS002", "TN-0001")
    assert kiosk_b.sync().complete
    assert kiosk_a.sync().complete
    assert _open_loans(server) == {LARGE}
    with server.run():
        conflict = Conflict.get(Conflict.kind == "double_checkout")
        assert (conflict.loan, conflict.other_loan) == (SMALL, LARGE)
        assert conflict.status == "resolved" and conflict.resolution == "auto"
        assert conflict.details["returned_loan"] == SMALL and conflict.details["reopened_loan"] == LARGE
        assert conflict.details["returned_at_device"] == kiosk_a.device
        assert Copy.get(Copy.code == "TN-0001").status == "on_loan"
    for kiosk in (kiosk_a, kiosk_b):
        assert kiosk.sync().complete
        assert _open_loans(kiosk) == {LARGE}
        with kiosk.run():
            assert Copy.get(Copy.code == "TN-0001").status == "on_loan"


def test_a_loan_the_librarian_closed_is_not_reopened_by_a_later_return(kiosk_a, kiosk_b, server, sclock):
    with kiosk_a.run(), loan_uuids([SMALL]):
        kiosk_a.circ.checkout("HS001", "TN-0002")
    with kiosk_b.run(), loan_uuids([LARGE]):
        kiosk_b.circ.checkout("HS002", "TN-0002")
    assert kiosk_a.sync().complete
    assert kiosk_b.sync().complete  # B's loan arrives second and is held closed
    with server.run():
        conflict = Conflict.get(Conflict.kind == "double_checkout")
        assert conflict.loan == LARGE
        service.resolve_conflict(conflict.id, "close_loan", sclock().replace(tzinfo=None), "HS002 đã trả")
    assert kiosk_a.sync().complete
    with kiosk_a.run():
        kiosk_a.circ.checkin("TN-0002")
    assert kiosk_a.sync().complete
    assert _open_loans(server) == set()
    with server.run():
        assert Loan.get(Loan.uuid == LARGE).checkin_device == "server"
        assert Copy.get(Copy.code == "TN-0002").status == "available"
    assert kiosk_b.sync().complete
    assert _open_loans(kiosk_b) == set()


def test_checkin_before_its_checkout_arrives_closes_it(kiosk_a, kiosk_b, server):
    with kiosk_a.run():
        kiosk_a.circ.checkout("HS001", "TN-0003")
    with kiosk_b.run():
        assert kiosk_b.circ.checkin("TN-0003").outcome == "not_on_loan"
    assert kiosk_b.sync().complete  # the return arrives first
    assert kiosk_a.sync().complete
    with server.run():
        assert Loan.open_loans().count() == 0
        assert Copy.get(Copy.code == "TN-0003").status == "available"
        assert Conflict.get(Conflict.kind == "returned_elsewhere").status == "resolved"
    assert kiosk_a.sync().complete
    with kiosk_a.run():
        assert Loan.get().returned_at is not None


def test_loan_to_patron_deactivated_meanwhile_is_kept_and_flagged(kiosk_a, server):
    server.facts([patron_fact("HS003", "Lê Minh Châu", active=False)])
    with kiosk_a.run():
        kiosk_a.circ.checkout("HS003", "TN-0001")
    summary = kiosk_a.sync()
    assert summary.complete and summary.conflicts == 1
    with server.run():
        assert Loan.open_loans().count() == 1
        assert Conflict.get().kind == "patron_inactive"
    with kiosk_a.run():
        assert not Patron.get(Patron.code == "HS003").active
        assert kiosk_state.status(kiosk_a.device)["conflicts_open"] == 1


def test_copy_withdrawn_on_server_meanwhile_is_lent_and_flagged(kiosk_a, server):
    with server.run():
        service.remove_copy("TN-0002")  # no loans yet: really deleted → tombstone
    with kiosk_a.run():
        kiosk_a.circ.checkout("HS001", "TN-0001")
    with server.run():
        service.record_server_facts([("copy.status", {"item": "TN-0001", "status": "withdrawn", "note": "rách"})])
    summary = kiosk_a.sync()
    assert summary.complete
    with server.run():
        conflict = Conflict.get()
        assert conflict.kind == "copy_unavailable" and conflict.details["status"] == "withdrawn"
    with kiosk_a.run():
        assert Copy.get_or_none(Copy.code == "TN-0002") is None  # the tombstone reached the kiosk


def test_wrong_device_clock_is_corrected_and_recorded_not_trusted(kiosk_a, server, sclock):
    # The kiosk's clock is two days fast: its signed requests are outside the window at first.
    kiosk_a.client.clock = lambda: sclock().timestamp() + 2 * 86400
    with kiosk_a.run():
        kiosk_a.circ.clock = lambda: sclock() + timedelta(days=2)
        kiosk_a.circ.checkout("HS001", "TN-0001")
    summary = kiosk_a.sync()
    assert summary.complete, summary
    with kiosk_a.run():
        assert abs(kiosk_state.status(kiosk_a.device)["clock_offset"] + 2 * 86400) < 5
    with server.run():
        event = AppliedEvent.get(AppliedEvent.type == "loan.checkout")
        assert event.device_time.startswith("2026-03-04")
        assert event.received_at.date().isoformat() == "2026-03-02"


def test_status_counts(kiosk_a, server):
    with kiosk_a.run():
        kiosk_a.circ.checkout("HS001", "TN-0001")
    kiosk_a.sync()
    with server.run():
        report = service.status()
    assert report["loans_open"] == 1 and report["loans_total"] == 1
    assert report["devices"][0]["name"] == "a" and report["devices"][0]["last_seq"] == 1
    assert report["events_applied"] == 1


def test_revoked_device_is_refused_and_nothing_applies(kiosk_a, server):
    with server.run():
        service.revoke_device("a")
    with kiosk_a.run():
        kiosk_a.circ.checkout("HS001", "TN-0001")
    summary = kiosk_a.sync()
    assert not summary.complete and "401" in summary.error
    with server.run():
        assert Loan.select().count() == 0
        assert Device.get().last_seq == 0
