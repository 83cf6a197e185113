"""Device roles on the server's Devices page, and what an upgrade does to devices paired before roles."""

from __future__ import annotations

import re
import sqlite3
import stat
from datetime import datetime

import pytest

from kiosk.db import connect, db
from kiosk.ledger import DEVICE_ROLE, NotThisDevicesRole, get_setting
from kiosk.migrations import KIOSK, migrate
from kiosk.models import Event, Patron
from sync.server import service
from sync.server.migrations import SERVER
from sync.server.models import Device, PairingCode
from sync.server.store import SERVER_DB_FILENAME, open_server_store
from tests.conftest import FakeClock
from tests.sync.conftest import KioskHandle, ServerHandle, csrf_token, utc


def test_the_librarian_chooses_and_changes_roles_and_pairs_a_device_again(tmp_path):
    clock = FakeClock(utc(2026, 3, 2, 2, 0))
    server = ServerHandle(tmp_path / "server", clock)
    server.app.config["TESTING"] = False  # real CSRF checks
    kiosk = KioskHandle(tmp_path / "corner", clock)
    kiosk.pair(server, "Góc đọc", role="kiosk")
    web = server.app.test_client()
    try:
        with server.run():
            login = web.get("/login").get_data(as_text=True)
            web.post("/login", data={"pin": "1234", "csrf_token": csrf_token(login)})
            page = web.get("/devices?lang=en").get_data(as_text=True)
            assert "Self-check kiosk" in page and "Librarian desk" in page and "Helper station" in page

            added = web.post("/devices", data={"name": "Bàn thủ thư", "role": "desk", "csrf_token": csrf_token(page)})
            assert added.status_code == 200
            code = re.search(r'id="pairing-code">([A-Z0-9]{4}-[A-Z0-9]{4})<', added.get_data(as_text=True)).group(1)
            assert PairingCode.get(PairingCode.name == "Bàn thủ thư").role == "desk"
            assert service.pair(code, "kiosk-desk0001", b"k", datetime(2026, 3, 2, 2, 0))["role"] == "desk"
            refused = web.post("/devices", data={"name": "X", "role": "root", "csrf_token": csrf_token(page)})
            assert refused.status_code == 302 and not PairingCode.select().where(PairingCode.name == "X").exists()

            web.post(f"/devices/{kiosk.device}/role", data={"role": "helper", "csrf_token": csrf_token(page)})
            assert Device.get_by_id(kiosk.device).role == "helper"
            web.post(f"/devices/{kiosk.device}/role", data={"role": "root", "csrf_token": csrf_token(page)})
            assert Device.get_by_id(kiosk.device).role == "helper"

            before = Device.get_by_id(kiosk.device).key_version
            again = web.post(f"/devices/{kiosk.device}/pair-again", data={"csrf_token": csrf_token(page)})
            assert re.search(r'id="pairing-code">[A-Z0-9]{4}-[A-Z0-9]{4}<', again.get_data(as_text=True))
            assert Device.get_by_id(kiosk.device).key_version == before + 1
            assert PairingCode.get(PairingCode.device == kiosk.device).role == "helper"
        assert not kiosk.sync().complete  # its old key stopped working
    finally:
        server.database.close()


def test_upgrading_makes_old_devices_self_check_kiosks_and_drops_the_cookie_key(tmp_path):
    """A server database from before roles: its devices get the least role, its cookie key row goes,
    and the backup made before the upgrade is private."""
    previous = db.obj
    path = tmp_path / SERVER_DB_FILENAME
    database = connect(path)
    db.initialize(database)
    database.connect()
    migrate(database, KIOSK)
    names = [name for name, _step in SERVER.migrations]
    migrate(database, type(SERVER)("server", SERVER.migrations[:names.index("0003_roles_and_secrets")]))
    for table, column in (("device", "role"), ("pairing_code", "role"), ("pairing_code", "device")):
        database.execute_sql(f"ALTER TABLE {table} DROP COLUMN {column}")  # the tables as 0001 made them then
    database.execute_sql("INSERT INTO device (id, name, key_version, revoked, paired_at, last_seq, reported_seq, "
                         "pull_cursor) VALUES ('kiosk-old', 'Bàn cũ', 1, 0, '2026-01-05 01:00:00', 7, 7, '')")
    database.execute_sql("""INSERT INTO setting (key, value) VALUES ('secret_key', '"abc"')""")
    database.close()
    path.chmod(0o644)
    try:
        database = open_server_store(tmp_path, upgrade=True)
        assert Device.get_by_id("kiosk-old").role == "kiosk"
        assert get_setting("secret_key") is None
        database.close()
    finally:
        db.initialize(previous)
    backups = list(tmp_path.glob("server.before-migrate-*"))
    assert backups and all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in [path, *backups])
    with sqlite3.connect(backups[0]) as old:  # the backup is the database as it was
        assert old.execute("SELECT count(*) FROM device").fetchone() == (1,)


def test_a_kiosk_learns_its_role_from_the_server_and_follows_a_change(tmp_path):
    clock = FakeClock(utc(2026, 3, 2, 2, 0))
    server = ServerHandle(tmp_path / "server", clock)
    kiosk = KioskHandle(tmp_path / "corner", clock)
    try:
        kiosk.pair(server, "Góc đọc", role="kiosk")
        with kiosk.run():
            assert get_setting(DEVICE_ROLE) == "kiosk"
            events_before = Event.select().count()
            with pytest.raises(NotThisDevicesRole):
                kiosk.circ.upsert_patron("HS900", "Lê Văn Mới", "6A1", "student", "2025-2026", True)
            assert Event.select().count() == events_before and Patron.get_or_none(Patron.code == "HS900") is None
        with server.run():
            service.set_role("Góc đọc", "desk")
        assert kiosk.sync().complete
        with kiosk.run():
            assert get_setting(DEVICE_ROLE) == "desk"
            kiosk.circ.upsert_patron("HS900", "Lê Văn Mới", "6A1", "student", "2025-2026", True)
        summary = kiosk.sync()
        assert summary.complete and summary.conflicts == 0
        with server.run():
            assert Patron.get(Patron.code == "HS900").name == "Lê Văn Mới"
            service.set_role("Góc đọc", "helper")
        assert kiosk.sync().complete
        with kiosk.run():
            assert get_setting(DEVICE_ROLE) == "helper"
    finally:
        server.database.close()
        kiosk.database.close()
