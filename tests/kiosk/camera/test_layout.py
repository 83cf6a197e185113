"""Where the camera's work happens: the kiosk's web server loads neither OpenCV nor numpy.

On a Raspberry Pi 3 with 1 GB the kiosk and its camera worker must stay under 200 MB resident
(docs/benchmarks.md, camera-memory). OpenCV and numpy are ~45 MB of a process's resident memory,
so they live in the camera worker only: capture, decoding, the preview's pictures and the
tablets' JPEGs. These tests fail as soon as something pulls them back into the kiosk process.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import cv2
import pytest
import requests

from tests.conftest import KioskProcess
from tests.kiosk.camera.conftest import EventListener, footage, put_video
from tests.kiosk.camera.test_kiosk import health, start_kiosk, wait_until

pytestmark = pytest.mark.slow

# Shared objects of the libraries that belong in the worker only.
HEAVY = ("/cv2/", "/numpy/", "/numpy.libs/", "/opencv_python", "libzbar", "/zxingcpp")


def mapped_files(pid: int) -> set[str]:
    with open(f"/proc/{pid}/maps") as f:
        return {line.split(None, 5)[5].strip() for line in f if len(line.split(None, 5)) == 6}


def heavy_in(pid: int) -> list[str]:
    return sorted(path for path in mapped_files(pid) if any(part in path for part in HEAVY))


def children_of(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(entry))
            except OSError:
                continue
    return found


def preview_parts(kiosk: KioskProcess, count: int) -> list[bytes]:
    """The first ``count`` JPEGs of the live preview, as the kiosk's screen receives them."""
    parts: list[bytes] = []
    with requests.get(kiosk.url + "/camera/preview.mjpg", stream=True, timeout=10) as answer:
        assert answer.status_code == 200
        assert answer.headers["Content-Type"].startswith("multipart/x-mixed-replace")
        buffer = b""
        for chunk in answer.iter_content(8192):
            buffer += chunk
            while b"\r\n\r\n" in buffer:
                head, rest = buffer.split(b"\r\n\r\n", 1)
                length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
                if len(rest) < length + 2:
                    break
                parts.append(rest[:length])
                buffer = rest[length + 2:]
            if len(parts) >= count:
                return parts
    return parts


def test_the_kiosk_process_serves_the_camera_without_opencv_or_numpy(tmp_path: Path) -> None:
    video = tmp_path / "camera.avi"
    put_video(video, footage([(None, 20), ("TN-0001", 30), (None, 100)], seed=5))
    kiosk = start_kiosk(tmp_path, str(video))
    try:
        listener = EventListener(kiosk.url)
        wait_until(lambda: health(kiosk)["camera"]["status"] == "ok", what="the recording playing")
        parts = preview_parts(kiosk, 3)
        assert len(parts) == 3 and all(p.startswith(b"\xff\xd8\xff") and p.endswith(b"\xff\xd9") for p in parts)
        listener.wait_for(lambda _: listener.of("scan"), what="the scan")
        assert [s["code"] for s in listener.of("scan")] == ["TN-0001"]
        listener.close()

        camera = health(kiosk)["camera"]
        assert camera["frames"] > 0
        worker = camera["worker_pid"]
        # The worker does the work, with OpenCV and numpy; the kiosk process has none of them.
        assert any("/cv2/" in path for path in heavy_in(worker)) and any("/numpy" in p for p in heavy_in(worker))
        assert heavy_in(kiosk.proc.pid) == []
        # And the worker is the kiosk's only other process (multiprocessing's spawn would add a
        # resource tracker of ~10 MB): what bench/bench_camera_memory.py counts.
        assert children_of(kiosk.proc.pid) == [worker]
    finally:
        kiosk.stop()


def test_tablet_frames_are_read_without_opencv_or_numpy_in_the_kiosk(tmp_path: Path) -> None:
    kiosk = start_kiosk(tmp_path, "browser")
    try:
        frame = cv2.imencode(".jpg", footage([("TN-0002", 1)], seed=7)[0])[1].tobytes()
        answer = requests.post(kiosk.url + "/api/scan/frame", data=frame, timeout=30,
                               headers={"Content-Type": "image/jpeg", "X-Camera-Client": "tablet"})
        assert answer.status_code == 200, answer.text
        assert [c["symbology"] for c in answer.json()["codes"]] == ["CODE128"] and answer.json()["width"] == 640
        assert heavy_in(kiosk.proc.pid) == []
        assert children_of(kiosk.proc.pid) == [health(kiosk)["camera"]["worker_pid"]]
    finally:
        kiosk.stop()


def test_a_worker_killed_mid_recording_goes_on_from_where_it_was(tmp_path: Path) -> None:
    # The recording plays on while the worker is replaced, as a camera would go on filming: the
    # code still in view is not scanned again (the kiosk keeps the confirmation history) and
    # the next code of the same recording is scanned (it is not replayed from the start).
    video = tmp_path / "camera.avi"
    put_video(video, footage([(None, 10), ("TN-0005", 30), (None, 45), ("TN-0006", 45), (None, 10)], seed=6))
    kiosk = start_kiosk(tmp_path, str(video))
    try:
        listener = EventListener(kiosk.url)
        listener.wait_for(lambda _: listener.of("scan"), what="the first scan")
        old = health(kiosk)["camera"]["worker_pid"]
        os.kill(old, signal.SIGKILL)
        listener.wait_for(lambda _: len(listener.of("scan")) >= 2 or listener.of("status")[-1]["status"] == "ended",
                          what="the second code or the end")
        time.sleep(0.5)
        assert [s["code"] for s in listener.of("scan")] == ["TN-0005", "TN-0006"]
        camera = health(kiosk)["camera"]
        assert camera["worker_restarts"] == 1 and camera["worker_pid"] not in (None, old)
        listener.close()
    finally:
        kiosk.stop()
    assert b"restarting it" in kiosk.proc.stderr.read()
