"""A rotation batch across kiosks, merged through the school server (in-process sync)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from kiosk.models import Copy, Loan, RotationBatch, RotationItem
from kiosk.workflows.services import Workflows
from sync.server import service
from tests.conftest import copy_fact, patron_fact
from tests.sync.conftest import KioskHandle, school_with_kiosks

SCHOOL = [
    patron_fact("GV001", "Phạm Thu Hà", "", kind="teacher"),
    patron_fact("CTV01", "Đỗ Quang Huy", "7A2", kind="helper"),
    patron_fact("HS001", "Nguyễn Văn An", "6A1"),
] + [copy_fact(f"TN-000{n}", f"Truyện số {n}", shelf="A1") for n in range(1, 5)]
DUE = date(2026, 4, 30)

@pytest.fixture
def school(tmp_path):
    """The clock, the server and the desk and corner kiosks, paired and synced."""
    with school_with_kiosks(tmp_path, SCHOOL) as parts:
        yield parts



def _batches(handle) -> dict:
    """Every batch as the class library's list shows it: where, open or closed, which books are back."""
    with handle.run():
        items = (RotationItem.select(RotationItem, RotationBatch).join(RotationBatch)
                 .switch(RotationItem).join(RotationItem.copy.rel_model))
        found = {batch.uuid: (batch.location, batch.teacher, batch.closed_at is not None, {})
                 for batch in RotationBatch.select()}
        for item in items:
            found[item.batch.uuid][3][item.copy.code] = (item.home_shelf, item.returned_at is not None)
    return found


def test_a_batch_opened_at_one_kiosk_is_returned_at_another(tmp_path, school):
    clock, server, desk, corner = school

    with desk.run():
        batch = Workflows(desk.circ).open_batch("6A1", "GV001", ["CTV01"], DUE, by="librarian")
        for code in ("TN-0001", "TN-0002", "TN-0003"):
            Workflows(desk.circ).add_to_batch(batch, code, by="librarian")
        desk.circ.checkout("HS001", "TN-0003")  # lent from the class library
    assert desk.sync().complete
    assert corner.sync().complete
    assert _batches(corner) == _batches(desk) == _batches(server)
    with corner.run():
        [listed] = Workflows(corner.circ).batches()
        assert (listed.uuid, listed.total, listed.returned) == (batch, 3, 0)
        assert Workflows(corner.circ).return_scan(batch, "TN-0001", by="CTV01").outcome == "returned"
        back = Workflows(corner.circ).return_scan(batch, "TN-0003", by="CTV01")
        assert back.outcome == "returned" and back.loan_closed
    assert corner.sync().complete

    assert desk.sync().complete
    clock.set(clock() + timedelta(minutes=10))
    with desk.run():
        view = Workflows(desk.circ).batch_view(batch)
        assert [item.code for item in view.missing] == ["TN-0002"]
        assert Loan.get().returned_at is not None
        Workflows(desk.circ).return_scan(batch, "TN-0002", by="librarian")  # the last one closes it
    assert desk.sync().complete
    assert corner.sync().complete
    with corner.run():
        assert Workflows(corner.circ).batches() == []
        # A return scanned by mistake, taken back at the corner: the batch is open again everywhere.
        assert Workflows(corner.circ).undo_return(batch, by="librarian") == "TN-0002"
    assert corner.sync().complete
    assert desk.sync().complete
    with desk.run():
        [listed] = Workflows(desk.circ).batches()
        assert [item.code for item in listed.missing] == ["TN-0002"]
    assert _batches(desk) == _batches(corner) == _batches(server)

    # The catalogue changes a copy of the batch after the batch did: a new kiosk's snapshot,
    # read a few records a page, still finds every copy before the batch entry naming it.
    server.facts([copy_fact("TN-0001", "Truyện số 1 (tái bản)", shelf="B2")])
    fresh = KioskHandle(tmp_path / "fresh", clock)
    fresh.pair(server, "fresh")
    fresh.client.page = 3
    assert fresh.sync().complete
    assert _batches(fresh) == _batches(server)

    # A copy that went with a batch stays in the record: removing it only withdraws it.
    with server.run():
        assert service.remove_copy("TN-0001") == "withdrawn"
    assert fresh.sync().complete
    with fresh.run():
        assert Copy.get(Copy.code == "TN-0001").status == "withdrawn"


def test_a_copy_sent_to_two_classes_offline_stays_with_the_first_batch_the_server_heard_of(tmp_path, school):
    clock, server, desk, corner = school
    with desk.run():
        six = Workflows(desk.circ).open_batch("6A1", "GV001", [], DUE, by="librarian")
        Workflows(desk.circ).add_to_batch(six, "TN-0004", by="librarian")
    with corner.run():
        seven = Workflows(corner.circ).open_batch("7A2", "GV001", [], DUE, by="librarian")
        Workflows(corner.circ).add_to_batch(seven, "TN-0004", by="librarian")
    assert desk.sync().complete
    assert corner.sync().complete  # its add lost: the server keeps the copy with 6A1
    assert desk.sync().complete
    assert _batches(desk) == _batches(corner) == _batches(server)
    assert _batches(corner)[six][3] == {"TN-0004": ("A1", False)}
    assert _batches(corner)[seven][3] == {}
