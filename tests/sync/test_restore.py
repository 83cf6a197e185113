"""A paired kiosk restored from its backup loses nothing and applies nothing twice.

Its SD card dies; the school puts yesterday's backup (and the keys beside it) on a new card with
``muontra restore``. The restored database has forgotten the facts it sent after the backup, so
its next facts take numbers the server already holds for this kiosk. The server must not take
them for resends; the kiosk must not lose them; the facts it forgot come back from the server.
Real SQLite files, the real backup and restore, the real sync client and server app.
"""

from __future__ import annotations

import html
import shutil

from kiosk.backup import KIOSK_FILE, back_up, restore, restore_keys
from kiosk.i18n import translate
from kiosk.ledger import get_setting
from kiosk.models import Event, Loan
from sync import kiosk_state
from sync.client import SyncClient
from sync.server.models import AppliedEvent, Conflict
from sync.server.service import CONFLICT_LABELS
from tests.conftest import copy_fact, patron_fact
from tests.sync.conftest import KioskHandle, _unix_of, csrf_token, school_with_kiosks

SCHOOL = [
    patron_fact("HS001", "Nguyễn Văn An"),
    patron_fact("HS002", "Trần Thị Bình"),
    copy_fact("TN-0001", "Dế Mèn phiêu lưu ký", author="Tô Hoài"),
    copy_fact("TN-0002", "Đất rừng phương Nam", author="Đoàn Giỏi"),
    copy_fact("TN-0003", "Tuổi thơ dữ dội", author="Phùng Quán"),
]


def _open_loans(database_handle) -> set[tuple[str, str]]:
    with database_handle.run():
        return {(loan.copy.code, loan.patron.code) for loan in Loan.open_loans()}


def _reopen(server, clock, data) -> KioskHandle:
    """The kiosk on its new card, with the pairing the restore brought back (no new pairing code)."""
    kiosk = KioskHandle(data, clock)
    with kiosk.run():
        paired = kiosk_state.pairing()
    assert paired is not None, "the restore must bring the kiosk's sync key back with its database"
    kiosk.client = SyncClient(server.transport, paired.device, paired.secret, clock=lambda: _unix_of(server))
    return kiosk


def test_a_kiosk_restored_from_yesterdays_backup_keeps_every_loan(tmp_path):
    with school_with_kiosks(tmp_path, SCHOOL, names=("corner",)) as (clock, server, kiosk):
        with kiosk.run():
            kiosk.circ.checkout("HS001", "TN-0001")
        assert kiosk.sync().complete
        usb = tmp_path / "usb"
        usb.mkdir()
        report = back_up(tmp_path / "corner", usb_roots=[])
        for made in report.files:  # the stick: the database and its keys
            shutil.copy(made, usb / made.name)
        # After the backup: a loan that reaches the server, then the card dies.
        with kiosk.run():
            kiosk.circ.checkout("HS002", "TN-0002")
            forgotten = {event.uuid for event in Event.select()}
        assert kiosk.sync().complete
        kiosk.database.close()

        new_card = tmp_path / "new-card"
        backup = next(path for path in usb.iterdir() if path.name.endswith(".sqlite3"))
        restore(backup, new_card)
        restore_keys(backup, new_card)
        assert (new_card / KIOSK_FILE).is_file()
        restored = _reopen(server, clock, new_card)
        with restored.run():
            before = {event.seq: event.uuid for event in Event.select()}
            restored.circ.checkin("TN-0001")
            restored.circ.checkout("HS001", "TN-0003")
            mine = {event.uuid for event in Event.select()} - set(before.values())
        assert mine and not mine & forgotten

        summary = restored.sync()
        assert summary.complete, summary
        with server.run():
            applied = {row.uuid for row in AppliedEvent.select() if row.outcome != "rejected"}
        assert mine <= applied, "the facts made after the restore reached the server"
        assert forgotten <= applied
        expected = {("TN-0002", "HS002"), ("TN-0003", "HS001")}
        assert _open_loans(server) == expected
        assert _open_loans(restored) == expected, "the loan the backup forgot came back from the server"
        assert summary.renumbered == len(mine)
        with server.run():
            told = [(row.kind, row.device, row.status) for row in Conflict.select().where(Conflict.kind == "device_rewound")]
        assert told == [("device_rewound", restored.device, "open")], "the librarian hears of it once"
        web = server.app.test_client()
        with server.run():
            login = web.get("/login").get_data(as_text=True)
            web.post("/login", data={"pin": "1234", "csrf_token": csrf_token(login)})
            page = web.get("/conflicts?lang=vi").get_data(as_text=True)
        assert html.escape(translate(CONFLICT_LABELS["device_rewound"], "vi"), quote=False) in page
        with restored.run():
            assert kiosk_state.waiting_events(restored.device) == 0
            assert get_setting(kiosk_state.RENUMBERED)["moved"] == len(mine)
            numbers = [event.seq for event in Event.select().order_by(Event.seq)]
        assert numbers == sorted(set(numbers))

        # The next day nothing is sent twice and nothing is renumbered again.
        with restored.run():
            restored.circ.checkin("TN-0003")
        again = restored.sync()
        assert again.complete and again.renumbered == 0 and again.sent == 1
        assert _open_loans(server) == {("TN-0002", "HS002")}
        restored.database.close()
