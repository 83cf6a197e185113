"""Rotation batches, helper mode, stock-take and intake through the service layer, on real SQLite."""

from __future__ import annotations

import threading
from datetime import date, datetime

import pytest

from kiosk import ledger
from kiosk.db import db, init_database
from kiosk.migrations import KIOSK, migrate
from kiosk.models import Copy, Event, Loan, RotationBatch, StocktakeScan, Title
from kiosk.rules import UnknownPatron
from kiosk.workflows import rules
from tests.conftest import copy_fact, patron_fact
from tests.kiosk.workflows.conftest import shelve, workflows

DUE = date(2026, 4, 30)


def payloads(event_type: str) -> list[dict]:
    return [e.payload for e in Event.select().where(Event.type == event_type).order_by(Event.id)]


# ---------------------------------------------------------------- rotation


@pytest.fixture
def batch(school):
    wf = workflows(school)
    uuid = wf.open_batch("6a1", "GV001", ["CTV01"], DUE, by="librarian")
    for code in ("TN-0001", "TN-0002", "TN-0003", "TN-0004", "STK-0001"):
        wf.add_to_batch(uuid, code, by="librarian")
    return uuid


def test_a_batch_moves_its_copies_to_the_class_library(school, batch):
    wf = workflows(school)
    view = wf.batch_view(batch)
    assert (view.location, view.class_name, view.teacher_name, view.helpers) == (
        "lop-6A1", "6A1", "Phạm Thu Hà", ["CTV01"])
    assert (view.total, view.returned, view.due) == (5, 0, DUE)
    assert {c.location for c in Copy.select().where(Copy.code.startswith("TN-"))} == {"lop-6A1"}
    moves = payloads("copy.move")
    assert [m["item"] for m in moves] == ["TN-0001", "TN-0002", "TN-0003", "TN-0004", "STK-0001"]
    assert all(m["location"] == "lop-6A1" and "batch" not in m for m in moves)
    # The class-library kiosk lends them as ordinary loans from the class library.
    school.checkout("HS001", "TN-0003")
    assert Loan.get().location == "lop-6A1"


def test_adding_refuses_copies_that_cannot_go(school, batch):
    wf = workflows(school)
    other = wf.open_batch("7A2", "GV001", [], DUE, by="librarian")
    with pytest.raises(rules.CopyAlreadyOut) as out:
        wf.add_to_batch(other, "TN-0001", by="librarian")
    assert "lop-6A1" in out.value.message_in("en")
    school.checkout("HS001", "SGK-0001")
    with pytest.raises(rules.CopyNotOnShelf):
        wf.add_to_batch(other, "SGK-0001", by="librarian")
    school.record_facts([copy_fact("SGK-0003", "Ngữ văn 6 tập một", category="SGK", isbn="9786040000026")])
    with pytest.raises(rules.CoverIsbn):
        wf.add_to_batch(other, "9786040000026", by="librarian")
    with pytest.raises(rules.UnknownCopy):
        wf.add_to_batch(other, "TN-9999", by="librarian")
    with pytest.raises(rules.NotATeacher):
        wf.open_batch("6A1", "HS001", [], DUE, by="librarian")
    with pytest.raises(rules.NotAHelper):
        wf.open_batch("6A1", "GV001", ["HS002"], DUE, by="librarian")
    with pytest.raises(rules.DueInThePast):
        wf.open_batch("6A1", "GV001", [], date(2026, 3, 2), by="librarian")
    assert RotationBatch.select().count() == 2


def test_batch_return_counts_signals_undoes_and_closes(school, batch, clock):
    wf = workflows(school)
    school.checkout("HS002", "TN-0004")  # lent by the class-library kiosk
    seven = wf.open_batch("7A2", "GV001", [], DUE, by="librarian")
    wf.add_to_batch(seven, "SGK-0001", by="librarian")

    first = wf.return_scan(batch, "tn-0001\r", by="CTV01")
    assert (first.outcome, first.returned, first.total, first.title) == ("returned", 1, 5, "Dế Mèn phiêu lưu ký")
    assert Copy.get(Copy.code == "TN-0001").location == "main"
    assert wf.return_scan(batch, "TN-0001", by="CTV01").outcome == "again"
    stranger = wf.return_scan(batch, "SGK-0001", by="CTV01")
    assert (stranger.outcome, stranger.location) == ("other_batch", "lop-7A2")
    assert wf.return_scan(batch, "SGK-0002", by="CTV01").outcome == "not_in_batch"
    assert wf.return_scan(batch, "XX-1", by="CTV01").outcome == "unknown"
    wf.return_scan(batch, "TN-0002", by="CTV01")
    assert wf.undo_return(batch, by="CTV01") == "TN-0002"
    assert Copy.get(Copy.code == "TN-0002").location == "lop-6A1"
    view = wf.batch_view(batch)
    assert (view.returned, view.total) == (1, 5)
    missing = {item.code: item for item in view.missing}
    assert sorted(missing) == ["STK-0001", "TN-0002", "TN-0003", "TN-0004"]
    assert missing["TN-0004"].on_loan and missing["TN-0004"].borrower is None  # helpers never see who
    assert wf.batch_view(batch, show_borrowers=True).missing[3].borrower == "Trần Thị Bình (6A1)"

    # Another day: the rest comes back; the student's book is in hand, so its loan ends too.
    clock.set(datetime(2026, 3, 5, 2, 0, tzinfo=clock.moment.tzinfo))
    for code in ("TN-0002", "TN-0003", "STK-0001"):
        wf.return_scan(batch, code, by="CTV01")
    last = wf.return_scan(batch, "TN-0004", by="CTV01")
    assert (last.outcome, last.loan_closed, last.returned, last.total) == ("returned", True, 5, 5)
    assert Loan.get().returned_at is not None
    assert wf.batch_view(batch).closed_at is not None
    assert wf.batches() == [wf.batch_view(seven)]
    returns = payloads("rotation.return")
    assert {p["by"] for p in returns} == {"CTV01"} and all(p["device"] == school.device for p in returns)
    assert Copy.get(Copy.code == "STK-0001").location == "main"
    with pytest.raises(rules.BatchClosed):
        wf.add_to_batch(batch, "TN-0001", by="librarian")


def test_undo_with_nothing_returned_is_refused(school, batch):
    with pytest.raises(rules.NothingToUndo):
        workflows(school).undo_return(batch, by="CTV01")


def test_replaying_the_outbox_rebuilds_batches_and_locations(school, batch, tmp_path):
    wf = workflows(school)
    wf.return_scan(batch, "TN-0001", by="CTV01")
    wf.return_scan(batch, "TN-0002", by="CTV01")
    wf.undo_return(batch, by="CTV01")
    facts = [(e.type, e.payload) for e in Event.select().order_by(Event.device, Event.seq)]
    expected = {c.code: c.location for c in Copy.select()}
    original = db.obj
    replica = init_database(tmp_path / "replica.sqlite3")
    try:
        migrate(replica, KIOSK)
        with replica.atomic():
            for event_type, payload in facts:
                ledger.apply(event_type, payload)
        assert {c.code: c.location for c in Copy.select()} == expected
        assert workflows(school).batch_view(batch).returned == 1
    finally:
        replica.close()
        db.initialize(original)


# ---------------------------------------------------------------- helpers and shelving


def test_only_an_active_helper_card_opens_helper_mode(school):
    wf = workflows(school)
    assert wf.helper_sign_in(" ctv01\n").code == "CTV01"
    for card in ("HS001", "GV001"):
        with pytest.raises(rules.NotAHelper):
            wf.helper_sign_in(card)
    with pytest.raises(UnknownPatron):
        wf.helper_sign_in("NOBODY")
    school.record_facts([patron_fact("CTV02", "Vũ Hải Nam", kind="helper", active=False)])
    with pytest.raises(rules.NotAHelper):
        wf.helper_sign_in("CTV02")


def test_shelving_says_where_the_book_goes(school):
    school.record_facts([copy_fact("TN-0005", "Hoàng tử bé", shelf="B3", classification="843 SA-E")])
    place = workflows(school).shelving("tn-0005")
    assert (place.location, place.shelf, place.classification, place.title) == (
        "main", "B3", "843 SA-E", "Hoàng tử bé")


# ---------------------------------------------------------------- stock-take


@pytest.fixture
def shelves(school):
    shelve(school, {
        "TN-0001": ("main", "A1"), "TN-0002": ("main", "A1"), "TN-0003": ("main", "A2"),
        "TN-0004": ("main", "A2"), "STK-0001": ("main", "A3"), "SGK-0001": ("main", "B1"),
        "SGK-0002": ("main", "B1"),
    })
    return school


def test_stocktake_finds_present_missing_on_loan_misplaced_and_unknown(shelves, clock):
    wf = workflows(shelves)
    shelves.checkout("HS001", "TN-0003")  # on loan, not expected on the shelf
    shelves.checkout("HS002", "TN-0004")  # on loan but found on the shelf
    session = wf.open_stocktake("main", "a1", "A3", by="librarian")
    assert wf.stocktake_view(session).result.progress == (0, 3)
    outcomes = [wf.stocktake_scan(session, code, by="CTV01").outcome
                for code in ("TN-0001", "TN-0001", "TN-0004", "SGK-0001", "ZZ-404")]
    assert outcomes == ["counted", "again", "on_loan", "misplaced", "unknown"]
    last = wf.stocktake_scan(session, "STK-0001", by="CTV01")
    assert (last.seen, last.expected) == (2, 3)
    assert StocktakeScan.select().count() == 5  # the double scan was not recorded twice

    view = wf.finish_stocktake(session, by="librarian")
    result = view.result
    assert (result.present, result.missing, result.seen_on_loan, result.misplaced, result.unknown) == (
        ["TN-0001", "STK-0001"], ["TN-0002"], ["TN-0004"], ["SGK-0001"], ["ZZ-404"])
    assert view.titles["TN-0002"] == ("Đất rừng phương Nam", "main", "A1")
    missing = Copy.get(Copy.code == "TN-0002")
    assert (missing.status, missing.status_note) == ("lost", "stock-take 2026-03-02")
    assert Loan.open_loans().count() == 2  # loans stay open
    with pytest.raises(rules.SessionFinished):
        wf.stocktake_scan(session, "TN-0002", by="CTV01")

    # Reversible: the next stock-take finds it, and it is back on the shelf.
    clock.set(datetime(2026, 3, 9, 2, 0, tzinfo=clock.moment.tzinfo))
    again = wf.open_stocktake("main", "A1", "A1", by="librarian")
    wf.stocktake_scan(again, "TN-0002", by="CTV01")
    assert Copy.get(Copy.code == "TN-0002").status == "available"
    assert wf.stocktake_view(again).result.found_lost == ["TN-0002"]
    assert all(p["by"] == "CTV01" and p["session"] == session for p in payloads("stocktake.scan")[:5])


def test_a_missing_copy_returned_at_the_desk_comes_back(shelves):
    wf = workflows(shelves)
    session = wf.open_stocktake("main", "A1", "A1", by="librarian")
    wf.stocktake_scan(session, "TN-0001", by="librarian")
    wf.finish_stocktake(session, by="librarian")
    assert Copy.get(Copy.code == "TN-0002").status == "lost"
    assert shelves.checkin("TN-0002").outcome == "not_on_loan"
    assert Copy.get(Copy.code == "TN-0002").status == "available"


def test_scans_from_two_kiosks_merge_by_session(shelves, tmp_path):
    """What the sync server does: apply every kiosk's facts; a late scan beats the finishing kiosk's list."""
    wf = workflows(shelves)
    session = wf.open_stocktake("main", "A1", "A2", by="librarian")
    wf.stocktake_scan(session, "TN-0001", by="CTV01")
    kiosk_a = [(e.type, e.payload) for e in Event.select().order_by(Event.seq)]
    finish = wf.finish_stocktake(session, by="librarian")  # kiosk A finishes before B's scans arrive
    assert finish.result.missing == ["TN-0002", "TN-0003", "TN-0004"]
    finish_fact = (Event.select().order_by(Event.seq.desc()).get().payload)
    kiosk_b = [("stocktake.scan", {"session": session, "scan": "b-1", "item": "TN-0003", "status_seen": "available",
                                   "at": "2026-03-02T02:10:00.000000", "by": "CTV02", "device": "kiosk-b"})]
    original = db.obj
    server = init_database(tmp_path / "server.sqlite3")
    try:
        migrate(server, KIOSK)
        with server.atomic():
            for event_type, payload in [*kiosk_a, ("stocktake.finish", finish_fact), *kiosk_b,
                                        *kiosk_b]:  # a re-uploaded scan is applied once
                ledger.apply(event_type, payload)
        assert StocktakeScan.select().count() == 2
        statuses = {c.code: c.status for c in Copy.select().where(Copy.code.startswith("TN-"))}
        # B's scan arrived after A's finish: the copy it saw is not lost.
        assert statuses == {"TN-0001": "available", "TN-0002": "lost", "TN-0003": "available",
                            "TN-0004": "lost"}
    finally:
        server.close()
        db.initialize(original)


# ---------------------------------------------------------------- intake


def test_intake_numbers_after_the_highest_and_fills_known_titles(school):
    wf = workflows(school)
    school.record_facts([copy_fact("SGK-0007", "Ngữ văn 6 tập một", category="SGK", isbn="9786040000026",
                                   author="Nhiều tác giả")])
    assert wf.lookup_isbn("978-604-0-00002-6").title == "Ngữ văn 6 tập một"
    receipt = wf.receive(isbn="978-604-0-00002-6", title="", prefix="sgk", count=3, by="librarian",
                         source="donation", donor="Chi đoàn 9A1")
    assert receipt.codes == ["SGK-0008", "SGK-0009", "SGK-0010"]
    assert (receipt.title, receipt.category) == ("Ngữ văn 6 tập một", "SGK")
    assert Title.select().where(Title.isbn == "9786040000026").count() == 1
    new = wf.receive(isbn="", title="Chuyện con mèo dạy hải âu", author="Luis Sepúlveda", prefix="TN-",
                     count=2, by="librarian", shelf="b2")
    assert new.codes == ["TN-0005", "TN-0006"]
    copy = Copy.get(Copy.code == "TN-0006")
    assert (copy.title.title, copy.title.category, copy.shelf, copy.added_on) == (
        "Chuyện con mèo dạy hải âu", "TN", "B2", date(2026, 3, 2))
    fact = payloads("intake.receive")[0]
    assert (fact["source"], fact["donor"], fact["items"]) == ("donation", "Chi đoàn 9A1", receipt.codes)


def test_intake_refusals(school):
    wf = workflows(school)
    with pytest.raises(rules.TitleNeeded):
        wf.receive(isbn="9786041234567", title=" ", prefix="TN", count=1, by="librarian")
    with pytest.raises(rules.BadPrefix):
        wf.receive(isbn="", title="X", prefix="ABC", count=1, by="librarian")
    with pytest.raises(rules.NotAnIsbn):
        wf.receive(isbn="hello", title="X", prefix="TN", count=1, by="librarian")
    with pytest.raises(rules.BadCount):
        wf.receive(isbn="", title="X", prefix="TN", count=0, by="librarian")
    assert Copy.select().count() == 8


def test_concurrent_intakes_never_share_a_number(school):
    wf = workflows(school)
    errors: list[BaseException] = []

    def intake(n: int) -> None:
        try:
            for _ in range(4):
                wf.receive(isbn="", title=f"Sách tặng {n}", prefix="TN", count=3, by="librarian")
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            db.close()

    threads = [threading.Thread(target=intake, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    codes = sorted(c.code for c in Copy.select().where(Copy.code.startswith("TN-")))
    assert codes == [f"TN-{n:04d}" for n in range(1, 41)]
