"""The camera worker process: capture, decoding, preview pictures and tablet frames, away from the kiosk.

Run by :class:`scanner.camera_worker.CameraWorker` as ``python -m scanner.camera_serve FD``, FD being
its end of a socket pair. Everything that needs OpenCV, numpy, Pillow or the decoders happens here,
so the kiosk's web server loads none of them (on a Raspberry Pi 3 with 1 GB that is the difference
between ~85 MB and ~140 MB for the kiosk process: docs/benchmarks.md, camera-memory). A crash of
ZBar kills this process only; the kiosk starts a new one and sends it what it was playing.

The messages (pickled over the socket) are listed in :mod:`scanner.camera_worker`.
"""

from __future__ import annotations

import io
import logging
import os
import queue
import sys
import threading
import time
import warnings
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from .common import Decoded, SourceStatus, limit_malloc_arenas
from .decode import Decoder
from .images import UnreadableImage, decode_image_bytes
from .normalize import LIBRARY_SYMBOLOGIES
from .sources import CameraSource, FrameSource, ImageFolderSource, VideoFileSource

log = logging.getLogger(__name__)

HEARTBEAT = 0.5  # seconds between "alive" messages: the kiosk replaces a worker that goes quiet


class LiveReplay:
    """A recording replayed the way a webcam delivers: at the recording's pace, and a reader
    that falls behind gets the current frame, not a backlog of old ones (a live camera drops
    frames too). Without this a slow decoder would see a code seconds after it was shown.

    ``started`` (``time.monotonic()``, the same clock in every process) is when frame 0 was due:
    a worker restarted in the middle of a recording catches up with it as a camera would have
    gone on filming."""

    def __init__(self, source: VideoFileSource, started: float) -> None:
        self.source = source
        self.fps = source.fps
        self.started = started

    @property
    def status(self) -> SourceStatus:
        return self.source.status

    @property
    def timestamp(self) -> float:
        return self.source.timestamp

    def read(self) -> np.ndarray | None:
        frame = self.source.read()
        while frame is not None and time.monotonic() - self.started > self.source.timestamp + 1.5 / self.fps:
            frame = self.source.read()
        return frame

    def close(self) -> None:
        self.source.close()


def open_source(spec: dict[str, Any], started: float) -> FrameSource:
    """The frame source a ``play`` message describes (see CameraWorker.play)."""
    mirror, roi = bool(spec.get("mirror")), spec.get("roi")
    if spec["kind"] == "device":
        return CameraSource(spec["device"], width=spec["width"], height=spec["height"], fps=spec["fps"],
                            mirror=mirror, roi=roi)
    path = Path(spec["path"])
    if path.is_dir():
        return ImageFolderSource(path, repeat=5, fps=10, mirror=mirror, roi=roi)
    return LiveReplay(VideoFileSource(path, realtime=True, mirror=mirror, roi=roi, started=started), started)


_GREEN = (40, 200, 60)


def preview_jpeg(frame: np.ndarray, decoded: list[Decoded], width: int = 480) -> bytes:
    """The frame, shrunk for the preview box, with each decoded code outlined in green."""
    if frame.ndim == 2:
        frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    scale = min(1.0, width / frame.shape[1])
    if scale < 1.0:
        frame = cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    else:
        frame = frame.copy()
    for code in decoded:
        if len(code.polygon) >= 2:
            pts = (np.array(code.polygon, np.float32) * scale).astype(np.int32)
            cv2.polylines(frame, [pts], True, _GREEN, 3)
    ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 70])
    return buf.tobytes() if ok else b""


def read_tablet_jpeg(data: bytes, max_pixels: int) -> np.ndarray | str:
    """A tablet's JPEG as a grey frame, or why it is refused: ``"too_large"`` or ``"unreadable"``.

    The size is read from the header first, so a small file declaring a giant picture is refused
    before anything is decoded."""
    try:
        with warnings.catch_warnings():
            # Pillow warns, then refuses (DecompressionBombError), on a header declaring a giant
            # picture; our own limit below is far smaller, so both mean "too large".
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as header:  # reads the size only, not the pixels
                width, height = header.size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return "too_large"
    except (UnidentifiedImageError, OSError, ValueError):
        return "unreadable"
    if width * height > max_pixels:
        return "too_large"
    try:
        return decode_image_bytes(data)
    except UnreadableImage:
        return "unreadable"


def plain(decoded: list[Decoded]) -> tuple[Decoded, ...]:
    """The codes with Python numbers only: a numpy integer in a polygon would make the kiosk
    import numpy to unpickle it."""
    return tuple(Decoded(str(d.symbology), str(d.text), tuple((int(x), int(y)) for x, y in d.polygon), bool(d.agreed))
                 for d in decoded)


class _Gone(Exception):
    """The kiosk closed its end: time to stop."""


@dataclass
class _Playing:
    """What the capture thread is playing."""

    source: FrameSource | None = None
    status: str | None = None
    skip_through: float | None = None  # after a restart: frames up to here were already seen
    last_preview: float = 0.0


class CameraServer:
    """The worker's three threads: commands (main), capture + decoding, heartbeat."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.decoder = Decoder(LIBRARY_SYMBOLOGIES, use_zxing=True)
        self._send_lock = threading.Lock()
        self._decode_lock = threading.Lock()
        self._decoding_since: float | None = None
        self._wake = threading.Condition()
        self._wanted: tuple[dict[str, Any] | None] | None = None  # a play message not acted on yet
        self._preview_until = 0.0
        self._preview_interval = 0.125
        self._tablet: queue.Queue = queue.Queue()
        self._stop = threading.Event()

    def send(self, message: tuple) -> None:
        with self._send_lock:
            try:
                self.conn.send(message)
            except OSError as e:
                self._stop.set()
                raise _Gone() from e

    def decode(self, frame: np.ndarray) -> list[Decoded]:
        with self._decode_lock:
            self._decoding_since = time.monotonic()
            try:
                return self.decoder.decode(frame, still=False)
            finally:
                self._decoding_since = None

    def run(self) -> None:
        for target, name in ((self._capture, "capture"), (self._heartbeat, "heartbeat"), (self._tablets, "tablet")):
            threading.Thread(target=target, name=f"muontra-camera-{name}", daemon=True).start()
        self.send(("ready", os.getpid()))
        try:
            while True:
                try:
                    message = self.conn.recv()
                except (EOFError, OSError):
                    return  # the kiosk is gone
                if message is None:
                    return
                kind = message[0]
                if kind == "play":
                    with self._wake:
                        self._wanted = (message[1],)
                        self._wake.notify_all()
                elif kind == "preview":
                    self._preview_interval = 1.0 / max(0.5, message[2])
                    self._preview_until = time.monotonic() + message[1]
                elif kind == "decode":
                    self._tablet.put(message[1:])
        finally:
            self._stop.set()
            with self._wake:
                self._wake.notify_all()

    def _heartbeat(self) -> None:
        # From a thread of its own: a decoder stuck in C code (GIL released) still lets this
        # say for how long it has been stuck, and the kiosk decides to replace the process.
        while not self._stop.wait(HEARTBEAT):
            since = self._decoding_since
            try:
                self.send(("alive", None if since is None else time.monotonic() - since))
            except _Gone:
                return

    def _tablets(self) -> None:
        while not self._stop.is_set():
            try:
                request_id, data, max_pixels = self._tablet.get(timeout=0.5)
            except queue.Empty:
                continue
            try:
                frame = read_tablet_jpeg(data, max_pixels)
                if isinstance(frame, str):
                    answer: tuple = ("refused", frame)
                else:
                    answer = ("ok", plain(self.decode(frame)), int(frame.shape[1]), int(frame.shape[0]))
            except Exception as e:  # a decoder bug must not kill the worker; report it instead
                log.exception("tablet frame failed")
                answer = ("error", f"{type(e).__name__}: {e}")
            try:
                self.send(("decoded", request_id, answer))
            except _Gone:
                return

    def _capture(self) -> None:
        state = _Playing()
        try:
            while not self._stop.is_set():
                try:
                    self._capture_one(state)
                except _Gone:
                    return
                except Exception:
                    # A camera driver, a file or a decoder bug costs this frame, not the camera.
                    log.exception("camera worker failed on a frame")
                    self._stop.wait(0.2)
        finally:
            if state.source is not None:
                state.source.close()

    def _capture_one(self, state: _Playing) -> None:
        """Take up a new source if one was asked for, then read, decode and report one frame."""
        with self._wake:
            wanted, self._wanted = self._wanted, None
            if wanted is None and state.source is None:
                self._wake.wait(0.2)
                return
        if wanted is not None:
            if state.source is not None:
                state.source.close()
            state.source, state.status = None, None
            spec = wanted[0]
            if spec is None:
                return
            started = spec.get("started") or time.monotonic()
            try:
                state.source = open_source(spec, started)
            except Exception:  # e.g. a folder that cannot be listed: as if there were no camera
                log.exception("camera worker could not open %s", spec.get("path", spec.get("device")))
                self.send(("opened", spec["id"], started, time.time()))
                self.send(("status", SourceStatus.MISSING.value))
                return
            state.skip_through = spec.get("resume_after")
            self.send(("opened", spec["id"], started, time.time() - (time.monotonic() - started)))
        source = state.source
        assert source is not None
        frame = source.read()
        if source.status.value != state.status:
            state.status = source.status.value
            self.send(("status", state.status))
        if frame is None:
            self._stop.wait(0.2 if state.status == SourceStatus.ENDED else 0.02)
            return
        if state.skip_through is not None:
            # A restarted worker goes on after the last frame the kiosk heard of, and skips the
            # one after it too: the frame that may have crashed its predecessor.
            if source.timestamp > state.skip_through:
                state.skip_through = None
            return
        read_at = time.time()
        decoded = self.decode(frame)
        self.send(("frame", float(source.timestamp), read_at, plain(decoded)))
        now = time.monotonic()
        if now < self._preview_until and now - state.last_preview >= self._preview_interval:
            state.last_preview = now
            self.send(("preview", preview_jpeg(frame, decoded)))
        # Let the command and heartbeat threads have the GIL between frames.
        time.sleep(0)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s muontra-camera[%(process)d] %(levelname)s %(name)s: %(message)s")
    limit_malloc_arenas()
    CameraServer(Connection(int(args[0]))).run()


if __name__ == "__main__":
    main()
