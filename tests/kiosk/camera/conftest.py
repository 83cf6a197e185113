"""Camera footage and event-stream helpers for the kiosk camera tests and the benchmark."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from tests.scanner.conftest import Effects, H, W, background, finish, paste, quad_at, render_1d, write_video

FPS = 15.0


def label(text: str) -> np.ndarray:
    """A Code 128 label as printed on a student card or a book's spine."""
    return render_1d("code128", text, module_px=3)


def footage(scenes: list[tuple[str | None, int]], seed: int = 0) -> list[np.ndarray]:
    """Frames of a desk under the camera: each scene is (code shown or None, number of frames),
    held by a slightly shaky hand."""
    rng = np.random.default_rng(seed)
    bg = background(rng)
    frames = []
    for code, count in scenes:
        item = label(code) if code else None
        for _ in range(count):
            f = bg.copy()
            if item is not None:
                paste(f, item, quad_at(item, W / 2 + rng.normal(0, 2), H / 2 + rng.normal(0, 2), angle=4))
            frames.append(finish(f, Effects(), rng))
    return frames


def put_video(path: Path, frames: list[np.ndarray], fps: float = FPS) -> Path:
    """Write the video beside ``path`` and move it into place in one step, as a camera that is
    plugged in: the kiosk never sees half a file."""
    tmp = path.with_name(f".{path.stem}.{time.monotonic_ns()}{path.suffix}")
    write_video(tmp, frames, fps)
    os.replace(tmp, path)
    return path


def write_y4m(path: Path, frames: list[np.ndarray], fps: int = 10) -> Path:
    """A YUV4MPEG2 4:2:0 file for Chromium's fake camera (--use-file-for-fake-video-capture)."""
    with open(path, "wb") as out:
        out.write(f"YUV4MPEG2 W{W} H{H} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        chroma = np.full((H // 2, W // 2), 128, np.uint8).tobytes()
        for frame in frames:
            grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame
            out.write(b"FRAME\n" + np.ascontiguousarray(grey).tobytes() + chroma + chroma)
    return path


class EventListener:
    """Reads a kiosk's /api/scan/events in a thread and keeps every event.

    A plain socket (HTTP/1.0, so no chunking) rather than requests: closing it must hang up at
    once, the way a browser tab that is closed does, even while the reader waits for data.
    """

    def __init__(self, url: str) -> None:
        self.events: list[tuple[str, dict]] = []
        host, port = url.removeprefix("http://").split(":")
        self._sock = socket.create_connection((host, int(port)), timeout=10)
        self._sock.sendall(f"GET /api/scan/events HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
        self._sock.settimeout(None)
        self.status_line = ""
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        reader = self._sock.makefile("rb")
        kind = None
        try:
            self.status_line = reader.readline().decode().strip()
            for raw in reader:
                line = raw.decode("utf-8").rstrip("\r\n")
                if line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: ") and kind:
                    self.events.append((kind, json.loads(line[6:])))
                    kind = None
        except (OSError, ValueError):
            pass  # closed by the test

    def of(self, kind: str) -> list[dict]:
        return [data for k, data in self.events if k == kind]

    def wait_for(self, predicate: Callable[[list[tuple[str, dict]]], bool], timeout: float = 30, what: str = "") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self.events):
                return
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}; events so far: {self.events}")

    def close(self) -> None:
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()
