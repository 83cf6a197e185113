"""Frame sources behind one small interface.

Every source has ``read() -> np.ndarray | None`` (a BGR or grey frame, or None when no frame is
available right now), a ``status`` (see :class:`SourceStatus`), a ``timestamp`` (seconds, of the
last frame returned; monotonic clock for live sources, position in the file for recordings, so
tests replay deterministically) and ``close()``. Mirroring and a region of interest are applied
by every source the same way; polygons of decoded codes are then in ROI coordinates.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from .common import SourceStatus
from .images import UnreadableImage, decode_image_bytes, load_image

log = logging.getLogger(__name__)

#: A region of interest as fractions of the frame: (x, y, width, height), each in 0..1.
Roi = tuple[float, float, float, float]


class FrameSource(Protocol):
    status: SourceStatus

    @property
    def timestamp(self) -> float: ...

    def read(self) -> np.ndarray | None: ...

    def close(self) -> None: ...


def _prepare(frame: np.ndarray, mirror: bool, roi: Roi | None) -> np.ndarray:
    if roi is not None:
        h, w = frame.shape[:2]
        x, y, rw, rh = roi
        x0, y0 = int(round(x * w)), int(round(y * h))
        x1, y1 = int(round((x + rw) * w)), int(round((y + rh) * h))
        frame = frame[max(0, y0):min(h, y1), max(0, x0):min(w, x1)]
    if mirror:
        frame = cv2.flip(frame, 1)
    return frame


def _check_roi(roi: Roi | None) -> Roi | None:
    if roi is not None:
        x, y, w, h = roi
        if not (0 <= x < 1 and 0 <= y < 1 and 0 < w <= 1 - x + 1e-9 and 0 < h <= 1 - y + 1e-9):
            raise ValueError(f"ROI must be fractions inside the frame, got {roi}")
    return roi


class CameraSource:
    """A V4L2/USB camera by index (``0``) or device path (``/dev/video2``).

    Never raises on a missing, busy or unplugged camera: ``read()`` returns None, ``status``
    says why, and the camera is reopened every ``retry_interval`` seconds until it is back.
    """

    def __init__(
        self,
        device: int | str = 0,
        *,
        width: int = 640,
        height: int = 480,
        fps: int = 30,
        mirror: bool = False,
        roi: Roi | None = None,
        retry_interval: float = 2.0,
        backend: int = cv2.CAP_ANY,
    ) -> None:
        self.device = device
        self.width, self.height, self.fps = width, height, fps
        self.mirror, self.roi = mirror, _check_roi(roi)
        self.retry_interval = retry_interval
        self.backend = backend
        self.status = SourceStatus.MISSING
        self._cap: cv2.VideoCapture | None = None
        self._next_try = 0.0
        self._timestamp = 0.0
        self._was_ok = False

    @property
    def timestamp(self) -> float:
        return self._timestamp

    def _device_path(self) -> str | None:
        if isinstance(self.device, int):
            return f"/dev/video{self.device}"
        return self.device if self.device.startswith("/dev/") else None

    def _open(self) -> None:
        path = self._device_path()
        if path is not None and os.name == "posix" and not os.path.exists(path):
            self.status = SourceStatus.RECONNECTING if self._was_ok else SourceStatus.MISSING
            return
        cap = cv2.VideoCapture(self.device, self.backend)
        if not cap.isOpened():
            cap.release()
            # The device node is there but will not open: most likely another program has it.
            self.status = SourceStatus.BUSY if path is not None else SourceStatus.MISSING
            return
        cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
        cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
        cap.set(cv2.CAP_PROP_FPS, self.fps)
        # Keep the driver from queueing stale frames: we want the newest one.
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        self._cap = cap
        self.status = SourceStatus.OK
        log.info("camera %s opened", self.device)

    def read(self) -> np.ndarray | None:
        if self._cap is None:
            now = time.monotonic()
            if now < self._next_try:
                return None
            self._next_try = now + self.retry_interval
            self._open()
            if self._cap is None:
                return None
        ok, frame = self._cap.read()
        if not ok or frame is None:
            log.warning("camera %s stopped delivering frames; reconnecting", self.device)
            self._cap.release()
            self._cap = None
            self._was_ok = True
            self.status = SourceStatus.RECONNECTING
            self._next_try = time.monotonic() + self.retry_interval
            return None
        self._was_ok = True
        self.status = SourceStatus.OK
        self._timestamp = time.monotonic()
        return _prepare(frame, self.mirror, self.roi)

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


class VideoFileSource:
    """A recorded video played through ``cv2.VideoCapture``, frame by frame.

    ``timestamp`` is the frame's position in the recording (frame index / fps), so the
    confirmation window and cooldown behave the same however fast the machine decodes.
    With ``realtime=True`` frames are paced at the recording's rate (for demos); with
    ``loop=True`` it starts over at the end instead of ending. ``started`` (``time.monotonic()``)
    is when frame 0 is due in real time (default: now).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        loop: bool = False,
        realtime: bool = False,
        mirror: bool = False,
        roi: Roi | None = None,
        started: float | None = None,
    ) -> None:
        self.path = str(path)
        self.loop, self.realtime = loop, realtime
        self.mirror, self.roi = mirror, _check_roi(roi)
        self._cap = cv2.VideoCapture(self.path)
        self.status = SourceStatus.OK if self._cap.isOpened() else SourceStatus.MISSING
        fps = self._cap.get(cv2.CAP_PROP_FPS) if self._cap.isOpened() else 0
        self.fps = fps if fps and fps > 0 else 30.0
        self._index = 0
        self._offset = 0.0
        self._timestamp = 0.0
        self._started = time.monotonic() if started is None else started

    @property
    def timestamp(self) -> float:
        return self._timestamp

    def read(self) -> np.ndarray | None:
        if self.status != SourceStatus.OK:
            return None
        ok, frame = self._cap.read()
        if not ok and self.loop and self._index:
            self._offset += self._index / self.fps
            self._index = 0
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, frame = self._cap.read()
        if not ok:
            self.status = SourceStatus.ENDED
            return None
        self._timestamp = self._offset + self._index / self.fps
        self._index += 1
        if self.realtime:
            delay = self._started + self._timestamp - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        return _prepare(frame, self.mirror, self.roi)

    def close(self) -> None:
        self._cap.release()


_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".pgm", ".ppm", ".gif"}


class ImageFolderSource:
    """The images of a folder in name order, each shown ``repeat`` times at ``fps``.

    Unreadable files are skipped with a warning. Handy for debugging a camera setup from
    saved snapshots.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        repeat: int = 1,
        fps: float = 10.0,
        mirror: bool = False,
        roi: Roi | None = None,
    ) -> None:
        folder = Path(path)
        self.files = sorted(p for p in folder.iterdir() if p.suffix.lower() in _IMAGE_SUFFIXES) \
            if folder.is_dir() else []
        self.repeat, self.fps = max(1, repeat), fps
        self.mirror, self.roi = mirror, _check_roi(roi)
        self.status = SourceStatus.OK if self.files else SourceStatus.MISSING
        self._i = 0
        self._current: np.ndarray | None = None
        self._timestamp = 0.0

    @property
    def timestamp(self) -> float:
        return self._timestamp

    def read(self) -> np.ndarray | None:
        while self._i < len(self.files) * self.repeat:
            i = self._i
            self._i += 1
            if i % self.repeat == 0:
                try:
                    self._current = load_image(self.files[i // self.repeat])
                except (OSError, UnreadableImage) as e:
                    log.warning("skipping %s: %s", self.files[i // self.repeat], e)
                    self._current = None
            if self._current is not None:
                self._timestamp = i / self.fps
                return _prepare(self._current, self.mirror, self.roi)
        if self.status == SourceStatus.OK:
            self.status = SourceStatus.ENDED
        return None

    def close(self) -> None:
        self._current = None


class PushedFrameSource:
    """Frames pushed from elsewhere, e.g. JPEGs a tablet browser POSTs to the kiosk.

    ``push`` is called from the web thread and ``read`` from the scanner thread. Only the
    newest frame is kept: a slow decoder skips frames rather than falling behind. ``status`` is
    ``missing`` when nothing arrived for ``stale_after`` seconds.
    """

    def __init__(
        self,
        *,
        mirror: bool = False,
        roi: Roi | None = None,
        max_pixels: int = 1920 * 1080,
        stale_after: float = 3.0,
    ) -> None:
        self.mirror, self.roi = mirror, _check_roi(roi)
        self.max_pixels = max_pixels
        self.stale_after = stale_after
        self._lock = threading.Condition()
        self._frame: np.ndarray | None = None
        self._pushed_at: float | None = None
        self._timestamp = 0.0
        self._closed = False

    @property
    def status(self) -> SourceStatus:
        with self._lock:
            if self._pushed_at is None or time.monotonic() - self._pushed_at > self.stale_after:
                return SourceStatus.MISSING
            return SourceStatus.OK

    @property
    def timestamp(self) -> float:
        return self._timestamp

    def push(self, frame: np.ndarray | bytes) -> None:
        """Queue a frame (an array or encoded image bytes). Raises UnreadableImage/ValueError."""
        img = decode_image_bytes(frame) if isinstance(frame, bytes | bytearray) else frame
        if img.ndim < 2 or img.shape[0] * img.shape[1] > self.max_pixels:
            raise ValueError(f"frame too large: {img.shape[1]}x{img.shape[0]}")
        with self._lock:
            self._frame = img
            self._pushed_at = time.monotonic()
            self._lock.notify_all()

    def read(self, timeout: float = 0.05) -> np.ndarray | None:
        with self._lock:
            if self._frame is None and not self._closed:
                self._lock.wait(timeout)
            frame, self._frame = self._frame, None
            if frame is None:
                return None
            self._timestamp = self._pushed_at or time.monotonic()
        return _prepare(frame, self.mirror, self.roi)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._frame = None
            self._lock.notify_all()
