"""The kiosk admin page's sync panel and the background syncer's timing."""

from __future__ import annotations

from kiosk.app import create_app
from kiosk.db import db
from kiosk.ledger import get_setting
from sync.background import BackgroundSync
from sync.client import SyncClient, SyncSummary, pair
from tests.conftest import FakeClock, copy_fact, patron_fact
from tests.sync_helpers import ServerHandle, utc


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
    assert "muontra pair" in client.get("/admin/sync/").get_data(as_text=True)

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
