"""Decoder crash isolation: a worker killed or hung mid-frame is replaced and decoding goes on."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from scanner import DecoderWorker, ScanConfirmer, Scanner, VideoFileSource
from tests.scanner.conftest import Effects, H, W, background, finish, paste, quad_at, render_1d, write_video

pytestmark = pytest.mark.slow


def label_frame(text: str, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    bg = background(rng)
    label = render_1d("code128", text, module_px=2)
    paste(bg, label, quad_at(label, W / 2, H / 2, angle=5))
    return finish(bg, Effects(), rng)


def slow_frame() -> np.ndarray:
    # A big noisy still keeps the worker busy for a while: the window in which we kill it.
    rng = np.random.default_rng(7)
    return rng.integers(0, 256, (2400, 3200), dtype=np.uint8)


@pytest.fixture
def worker():
    w = DecoderWorker(timeout=60)
    yield w
    w.close()


def _decode_in_thread(worker: DecoderWorker, frame: np.ndarray, still: bool) -> tuple[threading.Thread, list]:
    result: list = []
    t = threading.Thread(target=lambda: result.append(worker.decode(frame, still=still)))
    t.start()
    return t, result


def test_worker_killed_mid_frame_is_restarted_and_decoding_continues(worker: DecoderWorker) -> None:
    assert [d.text for d in worker.decode(label_frame("SGK-000001"))] == ["SGK-000001"]
    old_pid = worker.pid
    t, result = _decode_in_thread(worker, slow_frame(), still=True)
    time.sleep(0.5)  # the worker is now inside the decoders
    assert t.is_alive(), "the frame finished before we could kill the worker"
    os.kill(old_pid, signal.SIGKILL)
    t.join(30)
    assert result == [[]]  # the frame that killed it yields nothing, no exception
    assert worker.restarts == 1
    assert worker.pid != old_pid
    assert [d.text for d in worker.decode(label_frame("SGK-000002"))] == ["SGK-000002"]


def test_hung_worker_is_replaced_after_the_deadline() -> None:
    with DecoderWorker(timeout=1.0) as w:
        old_pid = w.pid
        os.kill(old_pid, signal.SIGSTOP)  # a decoder stuck in an endless loop looks like this
        start = time.monotonic()
        assert w.decode(label_frame("SGK-000003")) == []
        assert 0.9 < time.monotonic() - start < 20
        assert w.restarts == 1 and w.pid != old_pid
        assert [d.text for d in w.decode(label_frame("SGK-000004"))] == ["SGK-000004"]


def test_scanner_keeps_scanning_across_a_worker_crash(tmp_path: Path, worker: DecoderWorker) -> None:
    frames = [label_frame("SGK-000010", i) for i in range(6)] + [label_frame("SGK-000011", i) for i in range(6)]
    video = write_video(tmp_path / "crash.avi", frames, 15.0)
    source = VideoFileSource(video)
    scans = []
    scanner = Scanner(source, scans.append, confirmer=ScanConfirmer(), worker=worker)
    # Drive the scanner frame by frame so the crash lands exactly between the two codes.
    for i in range(12):
        frame = source.read()
        assert frame is not None
        if i == 6:
            os.kill(worker.pid, signal.SIGKILL)
        scans += scanner.process(frame, source.timestamp)
    assert [s.text for s in scans] == ["SGK-000010", "SGK-000011"]
    assert worker.restarts == 1


def test_worker_reports_a_bad_frame_without_dying(worker: DecoderWorker) -> None:
    pid = worker.pid
    assert worker.decode(np.zeros((0, 0), np.uint8)) == []
    assert worker.decode(cv2.cvtColor(label_frame("SGK-000005"), cv2.COLOR_BGR2BGRA))[0].text == "SGK-000005"
    assert worker.pid == pid and worker.restarts == 0


def test_check_replaces_a_worker_that_died_while_idle(worker: DecoderWorker) -> None:
    """The service watchdog's check: a decoder that died between frames is replaced at once."""
    assert worker.check()
    old_pid = worker.pid
    os.kill(old_pid, signal.SIGKILL)
    time.sleep(0.2)
    assert worker.check()
    assert worker.pid != old_pid and worker.restarts == 1
    assert [d.text for d in worker.decode(label_frame("SGK-000005"))] == ["SGK-000005"]
    worker.close()
    assert not worker.check()  # a closed worker is not "alive"
