"""A stock-take across two kiosks, merged through the school server (in-process sync)."""

from __future__ import annotations

import pytest

from kiosk.models import Copy, StocktakeScan, StocktakeSession
from kiosk.workflows import rules
from kiosk.workflows.services import Workflows
from tests.conftest import copy_fact, patron_fact
from tests.sync.conftest import paired_kiosks, school_with_kiosks, utc

SCHOOL = [patron_fact("CTV01", "Đỗ Quang Huy", "7A2", kind="helper")] + [
    copy_fact(f"TN-000{n}", f"Truyện số {n}", shelf="A1") for n in range(1, 6)
]

@pytest.fixture
def school(tmp_path):
    """The clock, the server and the desk and corner kiosks, paired and synced."""
    with school_with_kiosks(tmp_path, SCHOOL) as parts:
        yield parts



def test_two_kiosks_scan_one_stocktake_and_the_finish_sees_both(tmp_path, school):
    clock, server, desk, corner = school

    with desk.run():
        session = Workflows(desk.circ).open_stocktake(None, "", "", by="librarian")
        Workflows(desk.circ).stocktake_scan(session, "TN-0001", by="CTV01")
        Workflows(desk.circ).stocktake_scan(session, "TN-0002", by="CTV01")
    assert desk.sync().complete
    assert corner.sync().complete  # the corner kiosk learns the session and the desk's scans
    with corner.run():
        assert StocktakeSession.get(StocktakeSession.uuid == session).finished_at is None
        Workflows(corner.circ).stocktake_scan(session, "TN-0003", by="CTV01")
        Workflows(corner.circ).stocktake_scan(session, "TN-0001", by="CTV01")  # seen twice: still one copy
    assert corner.sync().complete
    with server.run():
        merged = {scan.item for scan in StocktakeScan.select().join(StocktakeSession)
                  .where(StocktakeSession.uuid == session)}
    assert merged == {"TN-0001", "TN-0002", "TN-0003"}

    assert desk.sync().complete
    with desk.run():
        view = Workflows(desk.circ).finish_stocktake(session, by="librarian")
        assert sorted(view.result.present) == ["TN-0001", "TN-0002", "TN-0003"]
        assert sorted(view.result.missing) == ["TN-0004", "TN-0005"]
    assert desk.sync().complete
    with server.run():
        assert {c.code for c in Copy.select().where(Copy.status == "lost")} == {"TN-0004", "TN-0005"}
    assert corner.sync().complete
    with corner.run():
        assert {c.code for c in Copy.select().where(Copy.status == "lost")} == {"TN-0004", "TN-0005"}


def _session_both_kiosks_know(school):
    """A stock-take opened at the desk that both kiosks have pulled."""
    clock, server, desk, corner = school
    with desk.run():
        session = Workflows(desk.circ).open_stocktake(None, "", "", by="librarian")
    assert desk.sync().complete
    assert corner.sync().complete
    return clock, server, desk, corner, session


def test_a_stocktake_finished_on_one_kiosk_is_finished_on_the_others(tmp_path, school):
    clock, server, desk, corner, session = _session_both_kiosks_know(school)
    with corner.run():
        Workflows(corner.circ).stocktake_scan(session, "TN-0001", by="CTV01")
    assert corner.sync().complete
    assert desk.sync().complete
    clock.set(utc(2026, 3, 2, 3, 0))
    with desk.run():
        finished = Workflows(desk.circ).finish_stocktake(session, by="librarian")
        mark = StocktakeSession.get(StocktakeSession.uuid == session)
    assert finished.result.present == ["TN-0001"]
    assert desk.sync().complete
    assert corner.sync().complete

    with corner.run():
        seen = StocktakeSession.get(StocktakeSession.uuid == session)
        assert (seen.finished_at, seen.finished_by, seen.result) == (mark.finished_at, "librarian", mark.result)
        assert Workflows(corner.circ).stocktake_view(session).result == finished.result
        with pytest.raises(rules.SessionFinished) as refused:
            Workflows(corner.circ).stocktake_scan(session, "TN-0002", by="CTV01")
        assert StocktakeScan.select().where(StocktakeScan.item == "TN-0002").count() == 0
    assert "finished" in refused.value.message_in("en")
    assert "kết thúc" in refused.value.message_in("vi")

    (late,) = paired_kiosks(server, clock, tmp_path, ["office"])  # a snapshot brings the finished session
    with late.run():
        seen = StocktakeSession.get(StocktakeSession.uuid == session)
        assert (seen.finished_at, seen.result) == (mark.finished_at, mark.result)


def test_a_session_finished_on_two_kiosks_offline_keeps_the_servers_first_finish(school):
    _clock, server, desk, corner, session = _session_both_kiosks_know(school)

    with desk.run():
        Workflows(desk.circ).stocktake_scan(session, "TN-0001", by="CTV01")
        Workflows(desk.circ).finish_stocktake(session, by="librarian")
    with corner.run():
        Workflows(corner.circ).finish_stocktake(session, by="teacher")  # nothing scanned here
    assert desk.sync().complete
    assert corner.sync().complete  # the server already had the desk's finish: it stays
    with server.run():
        kept = StocktakeSession.get(StocktakeSession.uuid == session)
        lost = {c.code for c in Copy.select().where(Copy.status == "lost")}
    assert kept.finished_by == "librarian" and kept.result["present"] == ["TN-0001"]
    with corner.run():
        seen = StocktakeSession.get(StocktakeSession.uuid == session)
        assert (seen.finished_by, seen.result) == ("librarian", kept.result)
        assert {c.code for c in Copy.select().where(Copy.status == "lost")} == lost
    assert "TN-0001" not in lost
