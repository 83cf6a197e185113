"""Real processes: a gunicorn server on loopback, real kiosks with their own SQLite files, a faulty network.

After every fault the invariants are the same: each kiosk event applied on the
server exactly once and in order, none lost, kiosks agreeing with the server.
"""

from __future__ import annotations

import contextlib
import json
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from kiosk.db import write_transaction
from kiosk.ledger import get_setting
from kiosk.services import Circulation
from tests.conftest import copy_fact, free_port, muontra, patron_fact, subprocess_env, wait_for_http
from tests.sync.conftest import (
    ServerProcess,
    assert_exactly_once,
    bound,
    fresh_postgres_database,
    kiosk_database,
    kiosk_events,
    open_loans,
    pair_kiosk,
    seed_server,
    server_applied,
    server_database,
    sync_cli,
)
from tests.sync.faultproxy import FaultProxy

pytestmark = pytest.mark.slow

PATRONS = [patron_fact(f"HS{n:03d}", f"Học Sinh {n}") for n in range(1, 11)]
COPIES = [copy_fact(f"TN-{n:04d}", f"Truyện số {n}") for n in range(1, 21)]


def _running_server(data: Path, url: str | None = None) -> ServerProcess:
    seed_server(data, PATRONS + COPIES, url)
    return ServerProcess(data, db_url=url).start()


@pytest.fixture
def server(tmp_path):
    proc = _running_server(tmp_path / "server")
    yield proc
    proc.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_server(request, tmp_path):
    """The crash test on both databases: gunicorn workers SIGKILLed mid-transaction."""
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(fresh_postgres_database()) if request.param == "postgres" else None
        proc = _running_server(tmp_path / "server", url)
        yield proc
        proc.stop()


def start_kiosk(data: Path, server_interval: int = 1) -> subprocess.Popen:
    port = free_port()
    env = subprocess_env(MUONTRA_SYNC_INTERVAL=str(server_interval), MUONTRA_SYNC_MAX_BACKOFF="3")
    proc = subprocess.Popen([sys.executable, "-m", "kiosk", "kiosk", "--data", str(data), "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    proc.url = f"http://127.0.0.1:{port}"
    wait_for_http(proc.url + "/healthz")
    # The sync panel's status is behind the librarian's PIN, like every admin page.
    proc.admin = requests.Session()
    login = proc.admin.get(proc.url + "/admin/login", timeout=10).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', login).group(1)
    proc.admin.post(proc.url + "/admin/login", data={"pin": "1234", "csrf_token": token}, timeout=10)
    return proc


def wait_until_synced(kiosk: subprocess.Popen, after: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = kiosk.admin.get(kiosk.url + "/admin/sync/status", timeout=5).json()
        if status["waiting"] == 0 and (status["last_success"] or "") > after and not status["running"]:
            return status
        time.sleep(0.3)
    raise AssertionError(f"kiosk never finished syncing: {status}")


def _utc_text() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def test_two_kiosks_sync_in_the_background_through_a_faulty_network(server, tmp_path):
    proxy = FaultProxy(server.port)
    kiosk_dirs = [tmp_path / "a", tmp_path / "b"]
    for data, name in zip(kiosk_dirs, ("A", "B"), strict=True):
        pair_kiosk(server, data, name, url=proxy.url)
    rng = random.Random(4)
    proxy.schedule = [rng.choice(["pass", "pass", "drop_request", "drop_reply", "truncate", "reset", "delay"])
                      for _ in range(30)]
    proxy.delay = 0.5
    kiosks = [start_kiosk(data) for data in kiosk_dirs]
    try:
        for kiosk in kiosks:
            wait_until_synced(kiosk, "")  # the first background sync brings the catalogue
        for n in range(1, 6):
            assert requests.post(kiosks[0].url + "/api/checkout",
                                 json={"patron": f"HS{n:03d}", "item": f"TN-{n:04d}"}).status_code == 200
            assert requests.post(kiosks[1].url + "/api/checkout",
                                 json={"patron": f"HS{n + 5:03d}", "item": f"TN-{n + 5:04d}"}).status_code == 200
        for _round in range(2):  # the second round starts after both kiosks have pushed
            mark = _utc_text()
            for kiosk in kiosks:
                wait_until_synced(kiosk, mark)
        # Returns at the other kiosk, of loans it learned about from the server.
        for n in (1, 2):
            reply = requests.post(kiosks[1].url + "/api/checkin", json={"item": f"TN-{n:04d}"}).json()
            assert reply["checkin"]["outcome"] == "returned"
        reply = requests.post(kiosks[0].url + "/api/checkin", json={"item": "TN-0006"}).json()
        assert reply["checkin"]["outcome"] == "returned"
        for _round in range(2):
            mark = _utc_text()
            for kiosk in kiosks:
                wait_until_synced(kiosk, mark)
    finally:
        for kiosk in kiosks:
            kiosk.terminate()
            kiosk.wait(10)
        proxy.close()
    assert {"drop_request", "drop_reply", "truncate", "reset"} & set(proxy.seen)
    assert_exactly_once(server, *kiosk_dirs)
    on_server = open_loans(server_database(server.data, server.db_url))
    assert {item for _, item, _ in on_server} == {"TN-0003", "TN-0004", "TN-0005", "TN-0007", "TN-0008",
                                                  "TN-0009", "TN-0010"}
    for data in kiosk_dirs:
        assert open_loans(kiosk_database(data)) == on_server


def _make_events(data: Path, count: int) -> None:
    database = kiosk_database(data)
    with bound(database):
        circ = Circulation(device=get_setting("device_id"))
        circ.record_facts([patron_fact(f"NEW{n:05d}", f"Bạn đọc {n}") for n in range(count)])
    database.close()


def test_server_killed_mid_batch_then_restarted_applies_everything_once(any_server, tmp_path):
    server = any_server
    data = tmp_path / "k"
    pair_kiosk(server, data, "K")
    _make_events(data, 1500)
    sync = subprocess.Popen([sys.executable, "-m", "kiosk", "--lang", "en", "sync", "--data", str(data), "--quiet"],
                            env=subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not server_applied(server):
        time.sleep(0.05)
    server.kill()  # mid-push: some batches committed, one maybe half-done (rolled back)
    _out, err = sync.communicate(timeout=60)
    assert sync.returncode != 0 and "No answer from the server" in err
    applied_before = sum(len(v) for v in server_applied(server).values())
    assert 0 < applied_before < 1500
    server.start()
    result = sync_cli(data)
    assert result.returncode == 0, result.stderr
    assert f"Sent {1500 - applied_before}," in result.stdout
    assert_exactly_once(server, data)


def test_kiosk_killed_while_waiting_for_the_reply_resends_harmlessly(server, tmp_path):
    data = tmp_path / "k"
    pair_kiosk(server, data, "K")
    _make_events(data, 300)
    proxy = FaultProxy(server.port, default="delay", delay=5)
    database = kiosk_database(data)
    with bound(database):
        pairing = get_setting("sync.pairing")
        with write_transaction():
            from kiosk.ledger import put_setting

            put_setting("sync.pairing", {**pairing, "server": proxy.url})
    database.close()
    sync = subprocess.Popen([sys.executable, "-m", "kiosk", "sync", "--data", str(data), "--quiet"],
                            env=subprocess_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and len(server_applied(server).get(kiosk_events(data)[0], [])) < 300:
        time.sleep(0.05)
    sync.send_signal(signal.SIGKILL)  # the server has applied the batch; the kiosk never hears it
    sync.wait(10)
    database = kiosk_database(data)
    with bound(database):
        assert get_setting("sync.acked_seq", 0) == 0
    database.close()
    proxy.default = "pass"
    result = sync_cli(data)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Sent 0,")  # all duplicates: acknowledged, not applied again
    proxy.close()
    assert_exactly_once(server, data)
    status = json.loads(muontra("server", "status", "--data", str(server.data), "--json").stdout)
    assert status["events_applied"] == 300 and status["devices"][0]["last_seq"] == 300


def _point_at(data: Path, url: str) -> None:
    """Send this kiosk's syncs to ``url`` (a fault proxy in front of its server)."""
    database = kiosk_database(data)
    with bound(database):
        from kiosk.ledger import put_setting

        with write_transaction():
            put_setting("sync.pairing", {**get_setting("sync.pairing"), "server": url})
    database.close()


def test_a_reply_cut_inside_its_headers_is_no_answer_not_a_crash(server, tmp_path):
    """Issue 11: requests hands back a 200 with an empty body; `muontra sync` crashed with KeyError."""
    data = tmp_path / "k"
    pair_kiosk(server, data, "K")
    _make_events(data, 20)
    proxy = FaultProxy(server.port, default="cut_headers")
    _point_at(data, proxy.url)
    try:
        result = sync_cli(data)
        assert result.returncode == 2, result.stderr
        assert "cut off or unreadable" in result.stderr and "Traceback" not in result.stderr
        assert set(proxy.seen) == {"cut_headers"}
        database = kiosk_database(data)
        with bound(database):
            assert get_setting("sync.acked_seq", 0) == 0  # nothing believed, nothing acknowledged
        database.close()
        proxy.default = "pass"
        result = sync_cli(data)
        assert result.returncode == 0, result.stderr
    finally:
        proxy.close()
    assert_exactly_once(server, data)


def test_two_syncs_of_one_data_directory_take_turns_across_processes(server, tmp_path):
    """`muontra sync` while another sync of the same data directory waits for its reply: the second
    waits a few seconds, then says so and exits 3; the first finishes and nothing is sent twice."""
    data = tmp_path / "k"
    pair_kiosk(server, data, "K")
    _make_events(data, 30)
    proxy = FaultProxy(server.port, default="delay", delay=8)
    _point_at(data, proxy.url)
    first = subprocess.Popen([sys.executable, "-m", "kiosk", "--lang", "en", "sync", "--data", str(data), "--quiet"],
                             env=subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not proxy.seen:
            time.sleep(0.05)
        assert proxy.seen, "the first sync never reached the network"
        second = sync_cli(data)
        assert second.returncode == 3, second.stderr
        assert "A sync is already running" in second.stderr and "Traceback" not in second.stderr
        vietnamese = muontra("sync", "--data", str(data), "--quiet")
        assert vietnamese.returncode == 3 and "đang đồng bộ" in vietnamese.stderr
        proxy.default, proxy.delay = "pass", 0
        out, err = first.communicate(timeout=120)
        assert first.returncode == 0, err
    finally:
        if first.poll() is None:
            first.kill()
            first.wait(10)
        proxy.close()
    assert_exactly_once(server, data)
