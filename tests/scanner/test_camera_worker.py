"""The camera worker process (capture + decoding + pictures away from the kiosk): what it reports,
and how a dead or hung one is replaced without losing the source it was playing."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from scanner import CameraWorker, ScanConfirmer
from tests.scanner.conftest import write_video
from tests.scanner.test_worker import label_frame

pytestmark = pytest.mark.slow


class Reports:
    def __init__(self) -> None:
        self.frames: list[tuple[float, float, tuple]] = []
        self.statuses: list[str] = []
        self.lock = threading.Lock()

    def frame(self, timestamp: float, read_at: float, decoded: tuple) -> None:
        with self.lock:
            self.frames.append((timestamp, read_at, decoded))

    def texts(self) -> list[str]:
        confirmer = ScanConfirmer()
        with self.lock:
            return [s.text for t, _, decoded in self.frames for s in confirmer.feed(decoded, t)]


def wait_for(check, timeout: float = 30, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def reports():
    return Reports()


@pytest.fixture
def worker(reports):
    w = CameraWorker(reports.frame, reports.statuses.append, timeout=2.0)
    yield w
    w.close()


def jpeg(frame: np.ndarray) -> bytes:
    return cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes()


def test_a_recording_is_decoded_in_the_worker_and_previews_only_while_wanted(tmp_path: Path, worker, reports) -> None:
    frames = [label_frame("SGK-000020", i) for i in range(20)]
    worker.play({"kind": "video", "path": str(write_video(tmp_path / "a.avi", frames, 15.0))})
    wait_for(lambda: "ended" in reports.statuses, what="the end of the recording")
    assert reports.statuses[0] == "ok" and reports.texts() == ["SGK-000020"]
    assert worker.opened_at is not None and abs(worker.opened_at - time.time()) < 30
    assert worker.preview_after(0, 0.5) is None  # nobody asked for a preview: none was drawn
    worker.want_preview(5.0, 8.0)
    worker.play({"kind": "video", "path": str(write_video(tmp_path / "b.avi", frames[:8], 15.0))})
    seen = worker.preview_after(0, 10)
    assert seen is not None and seen[1].startswith(b"\xff\xd8\xff")
    assert cv2.imdecode(np.frombuffer(seen[1], np.uint8), cv2.IMREAD_COLOR).shape[1] == 480


def test_a_hung_worker_is_replaced_and_plays_on(tmp_path: Path, worker, reports) -> None:
    first = [label_frame("SGK-000021", i) for i in range(15)]
    frames = first + [np.full_like(first[0], 128)] * 45 + [label_frame("SGK-000022", i) for i in range(30)]
    worker.play({"kind": "video", "path": str(write_video(tmp_path / "c.avi", frames, 15.0))})
    wait_for(lambda: reports.texts(), what="the first code")
    old = worker.pid
    os.kill(old, signal.SIGSTOP)  # a decoder stuck in an endless loop looks like this to the kiosk
    wait_for(lambda: worker.restarts == 1 and worker.pid not in (None, old), what="the replacement")
    wait_for(lambda: len(reports.texts()) == 2, what="the second code, after the restart")
    assert reports.texts() == ["SGK-000021", "SGK-000022"]
    # Frame times go on from where the first worker was (the same recording, same pace).
    times = [t for t, _, _ in reports.frames]
    assert times == sorted(times)


def test_tablet_jpegs_are_checked_and_decoded_in_the_worker(worker) -> None:
    answer = worker.decode_jpeg(jpeg(label_frame("SGK-000023")), 1280 * 960)
    assert answer[0] == "ok" and [d.text for d in answer[1]] == ["SGK-000023"] and answer[2:] == (640, 480)
    flat = jpeg(np.full((2000, 2000), 128, np.uint8))
    assert worker.decode_jpeg(flat, 1280 * 960) == ("refused", "too_large")
    assert worker.decode_jpeg(b"\xff\xd8\xff" + b"rubbish" * 50 + b"\xff\xd9", 1280 * 960) == ("refused", "unreadable")
    assert worker.restarts == 0


def test_check_finds_a_replacement_for_a_dead_worker_and_none_once_closed(reports) -> None:
    worker = CameraWorker(reports.frame, reports.statuses.append)
    old = worker.pid
    os.kill(old, signal.SIGKILL)
    time.sleep(0.2)  # the watchdog asks between frames, after the worker died
    assert worker.check()
    assert worker.pid != old and worker.restarts == 1
    assert worker.decode_jpeg(jpeg(label_frame("SGK-000024")), 1280 * 960)[0] == "ok"
    new = worker.pid
    worker.close()
    assert not worker.check()
    with pytest.raises(ProcessLookupError):  # and the process is gone, not left behind
        os.kill(new, 0)


def test_a_source_that_cannot_be_opened_is_missing_and_the_next_one_plays(tmp_path: Path, worker, reports) -> None:
    frames = [label_frame("SGK-000025", i) for i in range(10)]
    video = str(write_video(tmp_path / "d.avi", frames, 15.0))
    worker.play({"kind": "video", "path": video, "roi": (0.5, 0.5, 0.9, 0.9)})  # reaches past the frame
    wait_for(lambda: reports.statuses == ["missing"], what="the refusal")
    worker.play({"kind": "video", "path": video})
    wait_for(lambda: "ended" in reports.statuses, what="the recording")
    assert reports.texts() == ["SGK-000025"] and worker.restarts == 0
