"""Intake at two kiosks while offline: the same next accession number for two different books.

Real sync in one process (tests/sync_helpers.py): the server app on its own database
(SQLite, and PostgreSQL when it is there) and two kiosks on their own SQLite files.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest

from kiosk.db import write_transaction
from kiosk.ledger import put_setting, record
from kiosk.models import Copy, Event, Title
from kiosk.workflows.services import Workflows
from sync import kiosk_state
from sync.server import service
from sync.server.models import AppliedEvent, Conflict
from tests.conftest import FakeClock, copy_fact
from tests.sync.conftest import BACKENDS, KioskHandle, ServerHandle, csrf_token, server_on, utc

CRICKET = {"title": "Dế Mèn phiêu lưu ký", "author": "Tô Hoài", "isbn": ""}  # no ISBN: title + author name it
PRINCE = {"title": "Hoàng tử bé", "author": "Antoine de Saint-Exupéry", "isbn": "9786041234567"}


@pytest.fixture
def sclock() -> FakeClock:
    return FakeClock(utc(2026, 3, 2, 2, 0))


@pytest.fixture(params=BACKENDS)
def server(request, tmp_path, sclock) -> Iterator[ServerHandle]:
    with server_on(request.param, tmp_path / "server", sclock,
                   [copy_fact("TN-000123", "Tuổi thơ dữ dội", author="Phùng Quán", shelf="A1")]) as handle:
        yield handle


def _kiosk(tmp_path, server, sclock, name) -> KioskHandle:
    kiosk = KioskHandle(tmp_path / name, sclock)
    kiosk.pair(server, name)
    assert kiosk.sync().complete
    return kiosk


def _receive(kiosk: KioskHandle, book: dict, count: int) -> list[str]:
    with kiosk.run():
        return Workflows(kiosk.circ).receive(prefix="TN", count=count, by="librarian", **book).codes


def _catalogue(handle) -> dict[str, tuple[str, str | None]]:
    with handle.run():
        return {copy.code: (copy.title.title, copy.title.isbn)
                for copy in Copy.select(Copy, Title).join(Title).order_by(Copy.code)}


@pytest.mark.parametrize("first", ["desk", "corner"])
def test_two_offline_intakes_of_one_number_keep_the_first_synced_book_and_flag_the_other(
        tmp_path, server, sclock, first):
    desk, corner = _kiosk(tmp_path, server, sclock, "desk"), _kiosk(tmp_path, server, sclock, "corner")
    assert _receive(desk, CRICKET, 1) == ["TN-000124"]
    sclock.set(sclock() + timedelta(minutes=7))
    assert _receive(corner, PRINCE, 2) == ["TN-000124", "TN-000125"]
    kiosks, books = {"desk": desk, "corner": corner}, {"desk": CRICKET, "corner": PRINCE}
    second = "corner" if first == "desk" else "desk"

    assert kiosks[first].sync().complete
    late = kiosks[second].sync()
    assert late.complete and late.conflicts == 1

    with server.run():
        conflicts = list(Conflict.select())
        intake = AppliedEvent.get((AppliedEvent.device == kiosks[second].device)
                                  & (AppliedEvent.type == "intake.receive"))
    assert [(c.kind, c.status, c.item, c.device) for c in conflicts] == [
        ("duplicate_accession", "open", "TN-000124", kiosks[second].device)]
    assert intake.outcome == "applied_with_conflict"
    details = conflicts[0].details
    assert (details["kept_title"], details["other_title"]) == (books[first]["title"], books[second]["title"])
    assert (details["device"], details["device_time"]) == (kiosks[second].device, intake.device_time)

    # The number stays on the book the server had first; the corner's second copy is applied as usual.
    expected = {"TN-000123": ("Tuổi thơ dữ dội", None),
                "TN-000124": (books[first]["title"], books[first]["isbn"] or None),
                "TN-000125": (PRINCE["title"], PRINCE["isbn"])}
    assert _catalogue(server) == expected
    assert kiosks[first].sync().complete
    assert _catalogue(desk) == _catalogue(corner) == expected

    # The kiosk that handed out the taken number carries on after it.
    assert _receive(kiosks[second], books[second], 1) == ["TN-000126"]
    assert kiosks[second].sync().conflicts == 0


def test_the_same_intake_sent_again_is_no_conflict_and_changes_nothing(tmp_path, server, sclock):
    desk = _kiosk(tmp_path, server, sclock, "desk")
    assert _receive(desk, PRINCE, 2) == ["TN-000124", "TN-000125"]
    assert desk.sync().complete
    server.facts([("copy.move", {"item": "TN-000124", "location": "main", "shelf": "B2"})])

    # A lost reply: the kiosk sends the same event again.
    with desk.run(), write_transaction():
        put_setting(kiosk_state.ACKED, 0)
    assert desk.sync().complete
    # The same fact recorded once more, as a new event (the server sees a new seq and uuid).
    with desk.run(), write_transaction():
        fact = Event.get(Event.type == "intake.receive")
        record("intake.receive", fact.payload, device=desk.device, device_time=desk.circ.now())
    again = desk.sync()
    assert again.complete and again.conflicts == 0

    with server.run():
        assert Conflict.select().count() == 0
        assert [e.outcome for e in AppliedEvent.select().where(AppliedEvent.type == "intake.receive")] == [
            "applied", "applied"]
        assert Copy.get(Copy.code == "TN-000124").shelf == "B2"  # the copy is kept as it is on the server
    assert _catalogue(server) == _catalogue(desk)


def test_the_conflicts_page_names_both_books_and_resolving_keeps_the_note(tmp_path, server, sclock):
    desk, corner = _kiosk(tmp_path, server, sclock, "Bàn thủ thư"), _kiosk(tmp_path, server, sclock, "Lớp 6A1")
    _receive(desk, CRICKET, 1)
    _receive(corner, {**PRINCE, "title": "Hoàng tử bé <bản dịch mới>", "isbn": ""}, 1)
    assert desk.sync().complete and corner.sync().complete

    web = server.app.test_client()
    with server.run():
        token = csrf_token(web.get("/login").get_data(as_text=True))
        assert web.post("/login", data={"pin": "1234", "csrf_token": token}).status_code == 302
        page = web.get("/conflicts?lang=en").get_data(as_text=True)
        assert "Two kiosks gave different books the same accession number" in page
        assert "Keeps the number: Dế Mèn phiêu lưu ký" in page
        assert "Needs a new label: Hoàng tử bé &lt;bản dịch mới&gt;" in page
        assert "(received at Lớp 6A1, kiosk time 2026-03-02 02:00)" in page
        vi = web.get("/conflicts?lang=vi").get_data(as_text=True)
        assert "Hai máy đã cấp cùng một số ĐKCB cho hai cuốn sách khác nhau" in vi
        assert "Cần dán nhãn mới: Hoàng tử bé &lt;bản dịch mới&gt;" in vi

        conflict = Conflict.get(Conflict.kind == "duplicate_accession")
        web.post(f"/conflicts/{conflict.id}/resolve", data={"action": "keep", "note": "TN-000125",
                                                                "csrf_token": csrf_token(page)})
        resolved = Conflict.get_by_id(conflict.id)
        assert (resolved.status, resolved.resolution) == ("resolved", "keep: TN-000125")
        assert re.search(r"Resolved [0-9: -]+ <span class=\"muted\">keep: TN-000125</span>",
                         web.get("/conflicts?status=resolved&lang=en").get_data(as_text=True))


def test_a_malformed_intake_is_rejected_with_its_reason_and_flags_nothing(server, sclock):
    code = server.new_code("desk")
    now = sclock().replace(tzinfo=None)
    payloads = [{"title": "Sách mới", "items": "TN-000123"}, {"items": ["TN-000123"]},
                {"title": "Sách mới", "items": ["TN-000124", 7]}, {"title": "Sách mới", "items": ["TN-000124"]}]
    with server.run():
        device = service.pair(code, "kiosk-test", b"test-master-key", now)["device"]
        reply = service.push(device, [{"seq": seq, "uuid": f"intake-{seq}", "type": "intake.receive",
                                       "device_time": "2026-03-02T02:00:00", "payload": payload}
                                      for seq, payload in enumerate(payloads, start=1)], now)
        assert [(r["outcome"], r["reason"]) for r in reply["results"]] == [
            ("rejected", "invalid: items: must be a list"), ("rejected", "invalid: title: is missing"),
            ("rejected", "invalid: items[1]: must be text"), ("applied", "")]
        assert Conflict.select().count() == 0
    assert _catalogue(server) == {"TN-000123": ("Tuổi thơ dữ dội", None), "TN-000124": ("Sách mới", None)}


def test_two_copies_of_one_class_set_numbered_alike_offline_are_flagged(tmp_path, server, sclock):
    """Same ISBN, same number, two kiosks: two physical books carry one label."""
    desk, corner = _kiosk(tmp_path, server, sclock, "desk"), _kiosk(tmp_path, server, sclock, "corner")
    assert _receive(desk, PRINCE, 1) == ["TN-000124"]
    assert _receive(corner, PRINCE, 2) == ["TN-000124", "TN-000125"]
    assert desk.sync().complete
    late = corner.sync()
    assert late.complete and late.conflicts == 1
    with server.run():
        conflict = Conflict.get(Conflict.kind == "duplicate_accession")
        assert (conflict.item, conflict.device) == ("TN-000124", corner.device)
        assert conflict.details["kept_isbn"] == conflict.details["other_isbn"] == PRINCE["isbn"]
        assert Copy.select().where(Copy.code == "TN-000125").exists()
    assert _receive(corner, PRINCE, 1) == ["TN-000126"]
