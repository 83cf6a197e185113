"""The camera inside a real kiosk process (waitress on loopback): a missing camera, a decoder
worker killed with SIGKILL, event streams whose page went away."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
import requests

from tests.browser.conftest import seed_school
from tests.conftest import KioskProcess
from tests.kiosk.camera.conftest import EventListener, footage, put_video

pytestmark = pytest.mark.slow


def health(kiosk: KioskProcess) -> dict:
    answer = requests.get(kiosk.url + "/healthz", timeout=5)
    assert answer.status_code == 200
    return answer.json()


def wait_until(check, timeout: float = 30, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what or check}")


def start_kiosk(tmp_path: Path, camera: str, *args: str, **env: str) -> KioskProcess:
    data = tmp_path / "data"
    seed_school(data)
    kiosk = KioskProcess(data, env={"MUONTRA_CAMERA": camera, **env}, args=list(args)).start()
    wait_until(lambda: health(kiosk)["camera"]["status"] != "starting", what="the decoder worker")
    return kiosk


def test_a_missing_camera_is_reported_and_the_kiosk_works_on(tmp_path: Path) -> None:
    # The command-line option wins over the environment (here: no camera at all).
    kiosk = start_kiosk(tmp_path, "", "--camera", "/dev/video97")
    try:
        camera = health(kiosk)["camera"]
        assert camera["mode"] == "device"
        assert camera["status"] == "missing"
        assert camera["worker_pid"] and camera["frames"] == 0
        listener = EventListener(kiosk.url)
        listener.wait_for(lambda events: events, timeout=10)
        assert listener.of("status")[0]["status"] == "missing"
        listener.close()
        # USB scanners and typed codes still work: the whole API answers.
        patron = requests.post(kiosk.url + "/api/patron", json={"patron": "HS002"}, timeout=5)
        assert patron.status_code == 200 and patron.json()["patron"]["code"] == "HS002"
        loan = requests.post(kiosk.url + "/api/checkout", json={"patron": "HS002", "item": "TN-0002"}, timeout=5)
        assert loan.status_code == 200, loan.text
        # The pages render, with the small status, and the preview answers in JSON instead of hanging.
        page = requests.get(kiosk.url + "/borrow", timeout=5)
        assert page.status_code == 200 and 'class="camera-box' in page.text
        preview = requests.get(kiosk.url + "/camera/preview.mjpg", timeout=10)
        assert preview.status_code == 200 and preview.content == b""  # no frame: ends at once
    finally:
        kiosk.stop()
    assert kiosk.proc.returncode is not None


def test_killing_the_decoder_worker_does_not_take_the_kiosk_down(tmp_path: Path) -> None:
    video = tmp_path / "camera.avi"
    kiosk = start_kiosk(tmp_path, str(video))
    try:
        assert health(kiosk)["camera"]["status"] == "missing"  # the "camera" is not plugged in yet
        listener = EventListener(kiosk.url)
        put_video(video, footage([(None, 5), ("TN-0003", 20), (None, 5)], seed=1))
        listener.wait_for(lambda _: listener.of("scan"), what="the first scan")
        assert [s["code"] for s in listener.of("scan")] == ["TN-0003"]

        before = health(kiosk)["camera"]
        old_pid = before["worker_pid"]
        assert _parent_of(old_pid) == kiosk.proc.pid  # it really is the kiosk's own worker
        os.kill(old_pid, signal.SIGKILL)

        # The kiosk keeps serving while the worker is dead and being replaced.
        for _ in range(5):
            assert health(kiosk)["ok"] is True
            answer = requests.post(kiosk.url + "/api/patron", json={"patron": "HS001"}, timeout=5)
            assert answer.status_code == 200
        # A new recording: the first frame through the dead worker notices it and restarts it.
        put_video(video, footage([(None, 5), ("TN-0004", 20), (None, 5)], seed=2))
        listener.wait_for(lambda _: len(listener.of("scan")) >= 2, what="a scan after the restart")
        after = health(kiosk)["camera"]
        assert after["worker_restarts"] == 1
        assert after["worker_pid"] not in (None, old_pid)
        assert _parent_of(after["worker_pid"]) == kiosk.proc.pid
        assert [s["code"] for s in listener.of("scan")] == ["TN-0003", "TN-0004"]
        assert kiosk.proc.poll() is None
        listener.close()
    finally:
        kiosk.stop()
    assert b"restarting it" in kiosk.proc.stderr.read()  # and it was logged


def _parent_of(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def test_an_event_stream_whose_page_went_away_frees_its_thread(tmp_path: Path) -> None:
    kiosk = start_kiosk(tmp_path, "/dev/video97", MUONTRA_CAMERA_HEARTBEAT_SECONDS="0.5")
    try:
        listeners = [EventListener(kiosk.url) for _ in range(3)]
        wait_until(lambda: health(kiosk)["camera"]["listeners"] == 3, what="three listeners")
        for listener in listeners:
            listener.close()
        # The next heartbeat finds each connection closed; waitress closes the stream.
        wait_until(lambda: health(kiosk)["camera"]["listeners"] == 0, timeout=10, what="streams freed")
        # More pages than the limit (4): the newest wins, the oldest stream is ended, and the
        # API still has threads to answer with.
        more = [EventListener(kiosk.url) for _ in range(6)]
        wait_until(lambda: health(kiosk)["camera"]["listeners"] == 4, what="the stream limit")
        assert requests.post(kiosk.url + "/api/patron", json={"patron": "HS001"}, timeout=5).status_code == 200
        for listener in more:
            listener.close()
    finally:
        kiosk.stop()
