"""The kiosk admin page's sync panel and the background syncer's timing."""

from __future__ import annotations

from kiosk.app import create_app
from kiosk.db import db
from kiosk.ledger import get_setting
from sync.background import BackgroundSync
from sync.client import SyncClient, SyncSummary, pair
from tests.conftest import FakeClock, copy_fact, patron_fact
from tests.sync.conftest import ServerHandle, utc


def test_sync_now_runs_a_sync_and_the_panel_shows_it(tmp_path, data_dir):
    clock = FakeClock(utc(2026, 3, 2, 2, 0))
    server = ServerHandle(tmp_path / "server", clock)
    server.facts([patron_fact("HS001", "Nguyễn Văn An"), copy_fact("TN-0001", "Dế Mèn phiêu lưu ký")])
    app = create_app({"DATA_DIR": str(data_dir), "TESTING": True, "CLOCK": clock, "WTF_CSRF_ENABLED": False})
    kiosk_db = db.obj
    client = app.test_client()
    assert client.get("/admin/sync/").status_code == 302  # the librarian's PIN first
    assert client.post("/admin/sync/now").status_code == 302
    client.post("/admin/login", data={"pin": "1234"})
    unpaired = client.get("/admin/sync/").get_data(as_text=True)
    # Said in words with the pairing form below it, not as a command line to type.
    assert "Máy này chưa được ghép nối với máy chủ." in unpaired and "muontra pair" not in unpaired

    code = server.new_code("Bàn thủ thư")
    kiosk_db.connect(reuse_if_open=True)
    paired = pair("http://server", code, get_setting("device_id"), transport=server.transport)
    kiosk_db.close()
    app.extensions["sync"].make_client = lambda progress: SyncClient(
        server.transport, paired.device, paired.secret, clock=lambda: clock().timestamp(), progress=progress)

    page = client.get("/admin/sync/?lang=vi").get_data(as_text=True)
    assert "Đồng bộ ngay" in page and "Bàn thủ thư" in page
    reply = client.post("/admin/sync/now").get_json()
    assert reply["summary"]["complete"] and reply["summary"]["received"] == 2
    status = client.get("/admin/sync/status").get_json()
    assert status["online"] and status["waiting"] == 0 and status["last_success"]

    response = client.post("/api/checkout", json={"patron": "HS001", "item": "TN-0001"})
    assert response.status_code == 200
    assert client.get("/admin/sync/status").get_json()["waiting"] == 1
    reply = client.post("/admin/sync/now").get_json()
    assert reply["summary"]["sent"] == 1 and reply["status"]["waiting"] == 0


def test_backoff_grows_with_jitter_and_resets_after_success():
    syncer = BackgroundSync(interval=10, max_backoff=300)
    failed = SyncSummary(error="server unreachable")
    delays = [syncer.next_delay(failed) for _ in range(8)]
    assert 10 <= delays[0] <= 20 and 20 <= delays[1] <= 40
    assert all(150 <= delay <= 300 for delay in delays[5:])
    assert len({round(delay, 6) for delay in delays}) == len(delays)  # jitter: no two alike
    assert syncer.next_delay(SyncSummary(complete=True)) == 10
    assert 10 <= syncer.next_delay(failed) <= 20


def test_a_failed_sync_is_explained_in_the_librarians_language(tmp_path, data_dir):
    """The panel shows the last error in the page's language, not in the language of the log."""
    from sync.client import HttpTransport

    clock = FakeClock(utc(2026, 3, 2, 2, 0))
    server = ServerHandle(tmp_path / "server", clock)
    app = create_app({"DATA_DIR": str(data_dir), "TESTING": True, "CLOCK": clock, "WTF_CSRF_ENABLED": False})
    kiosk_db = db.obj
    client = app.test_client()
    client.post("/admin/login", data={"pin": "1234"})
    code = server.new_code("Bàn thủ thư")
    kiosk_db.connect(reuse_if_open=True)
    paired = pair("http://server", code, get_setting("device_id"), transport=server.transport)
    kiosk_db.close()
    # The server's address stops answering (a closed port on loopback): a real failed connection.
    app.extensions["sync"].make_client = lambda progress: SyncClient(
        HttpTransport("http://127.0.0.1:9", timeout=(1.0, 1.0)), paired.device, paired.secret,
        clock=lambda: clock().timestamp(), progress=progress)
    reply = client.post("/admin/sync/now").get_json()
    assert not reply["summary"]["complete"]
    vi = client.get("/admin/sync/status?lang=vi").get_json()["last_error"]
    en = client.get("/admin/sync/status?lang=en").get_json()["last_error"]
    assert "127.0.0.1:9" in vi and "127.0.0.1:9" in en and vi != en
    assert not client.get("/admin/sync/status").get_json()["online"]
    assert vi in client.get("/admin/sync/?lang=vi").get_data(as_text=True)


def test_the_kiosks_own_settings_are_no_conflict_and_the_school_name_is_shared(tmp_path):
    """A kiosk-only setting is acknowledged quietly; the school's name reaches every kiosk."""
    from kiosk.db import write_transaction
    from kiosk.ledger import record
    from tests.sync.conftest import KioskHandle

    clock = FakeClock(utc(2026, 3, 2, 2, 0))
    server = ServerHandle(tmp_path / "server", clock)
    desk, class_room = KioskHandle(tmp_path / "desk", clock), KioskHandle(tmp_path / "class", clock)
    desk.pair(server, "Bàn thủ thư")
    class_room.pair(server, "Lớp 6A1")
    with desk.run(), write_transaction():
        for key, value in (("school_name", "Trường THCS Nguyễn Du"), ("camera_rotation", 90)):
            record("setting.set", {"key": key, "value": value}, device=desk.device, device_time=clock().replace(
                tzinfo=None))
    summary = desk.sync()
    assert summary.complete and summary.sent == 2 and summary.conflicts == 0
    assert class_room.sync().complete
    with class_room.run():
        assert get_setting("school_name") == "Trường THCS Nguyễn Du"
        assert get_setting("camera_rotation") is None
    with server.run():
        from sync.server import service

        report = service.status()
        assert report["events_rejected"] == 0 and report["conflicts_open"] == 0


def test_the_panel_lists_what_the_digest_corrected_and_says_when_a_sync_is_running(tmp_path, data_dir,
                                                                                     monkeypatch):
    import fcntl
    import os
    from datetime import timedelta

    from kiosk.db import write_transaction
    from kiosk.models import Copy
    from sync.client import lock_path

    clock = FakeClock(utc(2026, 3, 2, 2, 0))
    server = ServerHandle(tmp_path / "server", clock)
    server.facts([patron_fact("HS001", "Nguyễn Văn An"), copy_fact("TN-0001", "Dế Mèn phiêu lưu ký")])
    app = create_app({"DATA_DIR": str(data_dir), "TESTING": True, "CLOCK": clock, "WTF_CSRF_ENABLED": False})
    kiosk_db = db.obj
    client = app.test_client()
    client.post("/admin/login", data={"pin": "1234"})
    kiosk_db.connect(reuse_if_open=True)
    paired = pair("http://server", server.new_code("Bàn thủ thư"), get_setting("device_id"),
                  transport=server.transport)
    kiosk_db.close()
    app.extensions["sync"].make_client = lambda progress: SyncClient(
        server.transport, paired.device, paired.secret, clock=lambda: clock().timestamp(), progress=progress,
        check_gap=timedelta(0))
    assert client.post("/admin/sync/now").get_json()["summary"]["complete"]
    kiosk_db.connect(reuse_if_open=True)
    with write_transaction():
        Copy.update(status="lost").where(Copy.code == "TN-0001").execute()  # drift, past the ledger
    path = lock_path()
    kiosk_db.close()
    server.facts([patron_fact("HS002", "Trần Thị Bình")])  # the server moves: the next sync compares

    monkeypatch.setattr("sync.client.LOCK_WAIT", 0.2)
    fd = os.open(path, os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)  # another process's sync holds this data directory
    try:
        response = client.post("/admin/sync/now?lang=en")
    finally:
        os.close(fd)
    assert response.status_code == 409
    assert response.get_json()["error"]["message"] == "A sync is already running on this kiosk. Wait for it to finish."

    reply = client.post("/admin/sync/now").get_json()
    assert reply["summary"]["complete"] and reply["summary"]["repaired"] == 1
    page = client.get("/admin/sync/?lang=vi").get_data(as_text=True)
    assert "Đã sửa theo dữ liệu của máy chủ (1)" in page
    assert "TN-0001" in page and "lost" in page and "available" in page
