"""The camera inside the kiosk: one background scanner whose scans reach the kiosk pages.

Configuration (``create_app`` config or ``MUONTRA_*`` environment variables):

``CAMERA``
    ``""`` (default): no camera. ``"0"`` / ``"/dev/video0"``: a USB (V4L2) camera, reopened by
    itself when it is missing, busy or unplugged. A path to a video file: played as if it were
    a camera, at its own frame rate (demos, tests, benchmarks); a file that is missing yet, or
    replaced after it was played, is (re)played when it appears. ``"browser"``: the tablet's
    own camera; its page posts frames to ``POST /api/scan/frame``.
``CAMERA_WIDTH`` / ``CAMERA_HEIGHT`` / ``CAMERA_FPS``
    What to ask a USB camera for (640×480 at 30 fps by default).
``CAMERA_MIRROR``
    Flip the picture horizontally (a camera facing the student).
``CAMERA_ROI``
    Region of interest as fractions ``"x,y,width,height"`` (e.g. ``"0.2,0.2,0.6,0.6"``).
``CAMERA_COOLDOWN``
    Seconds the same code stays suppressed after a scan while it is still in view.

Scans are published to the pages as events (``scan`` and ``status``); the page hands each scan
to the same ``handleScan`` a USB scanner uses. Capture, decoding, the preview's pictures and the
tablets' JPEGs are all handled by a :class:`scanner.camera_worker.CameraWorker` process, so a crash
in ZBar costs one frame, never the kiosk, and the kiosk process loads neither OpenCV nor numpy;
it confirms the decoded codes itself (a restarted worker does not scan a code in view twice).
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Only the scanner's light modules: capture, decoding and pictures happen in the camera worker
# process, so this web server loads neither OpenCV nor numpy (tests/kiosk/camera/test_layout.py).
from scanner.camera_worker import CameraWorker
from scanner.common import Decoded, SourceStatus, WorkerError, limit_malloc_arenas
from scanner.confirm import ScanConfirmer

from . import settings
from .errors import N_, MuontraError

log = logging.getLogger(__name__)

OFF, DEVICE, VIDEO, BROWSER = "off", "device", "video", "browser"
#: Status words the page knows, beyond the frame sources' own (ok, missing, busy, reconnecting, ended).
STARTING, FAILED = "starting", "failed"


class CameraOff(MuontraError):
    code = "camera_off"
    message = N_("Camera scanning is not switched on at this kiosk.")
    http_status = 404


class FrameNotJpeg(MuontraError):
    code = "frame_not_jpeg"
    message = N_("Please send the camera picture as a JPEG image.")
    http_status = 415


class FrameUnreadable(MuontraError):
    code = "frame_unreadable"
    message = N_("The camera picture could not be read. It may be damaged or cut short.")
    http_status = 400


class FrameTooLarge(MuontraError):
    code = "frame_too_large"
    message = N_("The camera picture is too large. Please send a smaller one.")
    http_status = 413


class TooManyFrames(MuontraError):
    code = "too_many_frames"
    message = N_("Too many camera pictures at once. Please slow down.")
    http_status = 429


class CameraBusy(MuontraError):
    code = "camera_busy"
    message = N_("The camera reader is busy. Please try again in a moment.")
    http_status = 503


class CameraStarting(CameraBusy):
    code = "camera_starting"
    message = N_("The camera reader is starting. Please wait a moment.")


class TooManyViewers(MuontraError):
    code = "too_many_viewers"
    message = N_("Too many screens are showing the camera. Please close one.")
    http_status = 503


@dataclass(frozen=True)
class CameraSettings:
    mode: str = OFF
    device: int | str | None = None
    # Defaults: kiosk/settings.py (docs/configuration.md).
    width: int = settings.default("CAMERA_WIDTH")
    height: int = settings.default("CAMERA_HEIGHT")
    fps: int = settings.default("CAMERA_FPS")
    mirror: bool = False
    roi: tuple[float, float, float, float] | None = None
    cooldown: float = settings.default("CAMERA_COOLDOWN")
    # Limits that keep the camera from eating the web server's threads and CPU.
    max_streams: int = 4
    max_previews: int = 2
    preview_fps: float = 8.0
    heartbeat: float = settings.default("CAMERA_HEARTBEAT_SECONDS")
    browser_fps: float = settings.default("CAMERA_BROWSER_FPS")
    frame_max_bytes: int = 400 * 1024
    frame_max_pixels: int = 1280 * 960
    frame_rate_limit: float = settings.default("CAMERA_FRAME_RATE_LIMIT")

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> CameraSettings:
        raw = config.get("CAMERA")
        # MUONTRA_CAMERA=0 arrives as the integer 0 (Flask parses env values as JSON).
        value = "" if raw is None or raw is False else str(raw).strip()
        device: int | str | None = None
        if value.lower() in ("", "off", "none"):
            mode = OFF
        elif value.lower() == "browser":
            mode = BROWSER
        elif value.isdigit():
            mode, device = DEVICE, int(value)
        elif value.startswith("/dev/"):
            mode, device = DEVICE, value
        else:
            mode, device = VIDEO, value
        defaults = cls()

        def number(key: str, default: float, kind: type = float) -> Any:
            got = config.get(key)
            return default if got in (None, "") else kind(got)

        return cls(
            mode=mode,
            device=device,
            width=number("CAMERA_WIDTH", defaults.width, int),
            height=number("CAMERA_HEIGHT", defaults.height, int),
            fps=number("CAMERA_FPS", defaults.fps, int),
            mirror=_flag(config.get("CAMERA_MIRROR", False)),
            roi=_roi(config.get("CAMERA_ROI")),
            cooldown=number("CAMERA_COOLDOWN", defaults.cooldown),
            heartbeat=number("CAMERA_HEARTBEAT_SECONDS", defaults.heartbeat),
            browser_fps=number("CAMERA_BROWSER_FPS", defaults.browser_fps),
            frame_rate_limit=number("CAMERA_FRAME_RATE_LIMIT", defaults.frame_rate_limit),
        )


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _roi(value: Any) -> tuple[float, float, float, float] | None:
    if value in (None, "", False):
        return None
    parts = value.split(",") if isinstance(value, str) else list(value)
    x, y, w, h = (float(p) for p in parts)
    return x, y, w, h


@dataclass
class CameraMessage:
    """One Server-Sent Events message to the kiosk pages (not a ledger fact: see models.Event)."""

    id: int
    kind: str  # "scan" or "status"
    data: dict[str, Any]


class _Evicted:
    """Put in a stream's queue to end it: a newer page took its place."""


class MessageHub:
    """Fans camera events out to the pages listening, at most ``limit`` at a time.

    A page that reloads opens a new stream before the server notices the old one is gone, so a
    full hub ends its oldest stream rather than refusing the newest (the page actually on
    screen). A listener that does not keep up loses events instead of growing a queue.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._queues: list[queue.Queue] = []
        self._seq = 0

    @property
    def listeners(self) -> int:
        with self._lock:
            return len(self._queues)

    def subscribe(self) -> queue.Queue:
        q: queue.Queue = queue.Queue(maxsize=64)
        with self._lock:
            while len(self._queues) >= self.limit:
                oldest = self._queues.pop(0)
                _put(oldest, _Evicted())
            self._queues.append(q)
        return q

    def unsubscribe(self, q: queue.Queue) -> None:
        with self._lock:
            if q in self._queues:
                self._queues.remove(q)

    def publish(self, kind: str, data: dict[str, Any]) -> CameraMessage:
        with self._lock:
            self._seq += 1
            event = CameraMessage(self._seq, kind, data)
            for q in self._queues:
                _put(q, event)
        return event


def _put(q: queue.Queue, item: object) -> None:
    try:
        q.put_nowait(item)
    except queue.Full:
        pass


@dataclass
class _TabletClient:
    confirmer: ScanConfirmer
    allowance: float
    checked: float
    busy: bool = False


class CameraRuntime:
    """Owns the kiosk's camera: the camera worker process, what it plays, and the scan events.

    Everything slow (starting the worker process, opening a camera, decoding) happens in the
    worker or in background threads; the web threads only read the latest state, wait on an
    event queue or for the next preview picture, or (tablet frames) take their turn at the worker.
    """

    def __init__(self, settings: CameraSettings) -> None:
        # Before the camera's threads exist: they would each take a malloc arena of their own
        # (bench/bench_camera_memory.py: 11 MB of the kiosk's resident memory).
        limit_malloc_arenas()
        self.settings = settings
        self.hub = MessageHub(settings.max_streams)
        self.worker: CameraWorker | None = None
        self._playing = False
        self._played: tuple[int, int] | None = None  # (inode, mtime) of the video last played
        self._confirmer = ScanConfirmer(cooldown=settings.cooldown)
        self._source_status = SourceStatus.MISSING.value  # what the worker last said of its source
        self._status = STARTING
        self._status_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._clients: OrderedDict[str, _TabletClient] = OrderedDict()
        self._clients_lock = threading.Lock()
        self._decoding = threading.BoundedSemaphore(2)
        self._previews = threading.BoundedSemaphore(settings.max_previews)
        self.frames = 0
        self.scans = 0
        self._last_tablet = 0.0

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> CameraRuntime:
        self._thread = threading.Thread(target=self._supervise, name="muontra-camera", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        if self.worker is not None:
            self.worker.close()

    def _supervise(self) -> None:
        while not self._stop.is_set() and self.worker is None:
            try:
                self.worker = CameraWorker(self._on_frame, self._on_source_status)
            except WorkerError:
                log.exception("camera worker could not start; trying again")
                self._set_status(FAILED)
                self._stop.wait(5)
        while not self._stop.is_set():
            try:
                self._keep_scanning()
            except Exception:
                # The supervisor must outlive anything a file system throws at it.
                log.exception("camera supervisor error")
            self._set_status(self._current_status())
            self._stop.wait(0.2)

    def _keep_scanning(self) -> None:
        if self.settings.mode == BROWSER:
            return
        source: dict[str, Any] = {"mirror": self.settings.mirror, "roi": self.settings.roi}
        if self.settings.mode == DEVICE:
            # One source for good: the worker's CameraSource itself reopens a missing or unplugged camera.
            if not self._playing:
                device = self.settings.device if self.settings.device is not None else 0
                self._play({**source, "kind": "device", "device": device, "width": self.settings.width,
                            "height": self.settings.height, "fps": self.settings.fps})
            return
        # A recording: play it when it appears, and again whenever the file is replaced (also
        # while the last one is still playing, or was not a video at all).
        path = Path(str(self.settings.device))
        try:
            st = path.stat()
        except OSError:
            return
        identity = (st.st_ino, st.st_mtime_ns)
        if identity != self._played:
            self._played = identity
            self._play({**source, "kind": "video", "path": str(path)})

    def _play(self, spec: dict[str, Any]) -> None:
        assert self.worker is not None
        # A new source starts with a fresh confirmation history, as a new camera would.
        self._confirmer = ScanConfirmer(cooldown=self.settings.cooldown)
        self.frames = 0
        self._playing = True
        self.worker.play(spec)

    def _on_frame(self, timestamp: float, read_at: float, decoded: tuple[Decoded, ...]) -> None:
        """One frame the worker decoded (called from the worker's listening thread)."""
        self.frames += 1
        for scan in self._confirmer.feed(decoded, timestamp):
            self.scans += 1
            self.hub.publish("scan", {"code": scan.text, "symbology": scan.symbology,
                                      "frame_time": round(scan.timestamp, 4), "read_at": read_at,
                                      "sent_at": time.time()})

    def _on_source_status(self, status: str) -> None:
        self._source_status = status
        self._set_status(self._current_status())

    # ------------------------------------------------------------------ status

    def _current_status(self) -> str:
        if self.worker is None:
            return self._status if self._status == FAILED else STARTING
        if self.settings.mode == BROWSER:
            return SourceStatus.OK.value if self._recent_tablet() else SourceStatus.MISSING.value
        if not self._playing:
            return SourceStatus.MISSING.value
        return self._source_status

    def _set_status(self, status: str) -> None:
        # From the supervisor and the worker's listening thread: publish each change once.
        with self._status_lock:
            if status == self._status:
                return
            self._status = status
        log.info("camera status: %s", status)
        self.hub.publish("status", self.status_event())

    @property
    def status(self) -> str:
        return self._status

    def status_event(self) -> dict[str, Any]:
        data: dict[str, Any] = {"status": self._status, "mode": self.settings.mode}
        opened_at = self.worker.opened_at if self.worker is not None else None
        if opened_at is not None:
            data["opened_at"] = opened_at
        return data

    def health(self) -> dict[str, Any]:
        """For /healthz: what a technician checking the kiosk wants to see."""
        worker = self.worker
        return {
            "mode": self.settings.mode,
            "status": self._status,
            "frames": self.frames,
            "scans": self.scans,
            "worker_pid": worker.pid if worker is not None else None,
            "worker_restarts": worker.restarts if worker is not None else 0,
            "listeners": self.hub.listeners,
        }

    # ------------------------------------------------------------------ pages

    def events(self) -> Iterator[str]:
        """A Server-Sent Events stream for one page: the current status, then every event.

        The heartbeat comment is also how a page that went away is noticed: waitress only finds
        a closed connection when it writes, and then closes this generator, freeing its thread.
        """
        q = self.hub.subscribe()
        try:
            yield "retry: 2000\n\n"
            yield _sse(CameraMessage(0, "status", self.status_event()))
            while True:
                try:
                    item = q.get(timeout=self.settings.heartbeat)
                except queue.Empty:
                    yield ": heartbeat\n\n"
                    continue
                if isinstance(item, _Evicted):
                    return
                yield _sse(item)
        finally:
            self.hub.unsubscribe(q)

    def preview(self) -> _PreviewStream:
        """MJPEG parts of the latest frames with the decoded codes outlined (drawn and encoded
        by the worker, which does so only while somebody watches).

        Ends when the camera stops delivering (the page reopens it on the next ``ok`` status),
        so a preview never holds a thread without writing to it.
        """
        if self.settings.mode not in (DEVICE, VIDEO):
            raise CameraOff()
        if not self._previews.acquire(blocking=False):
            raise TooManyViewers()
        return _PreviewStream(self._preview_parts(), self._previews.release)

    def _preview_parts(self) -> Iterator[bytes]:
        worker = self.worker
        if worker is None:
            return
        seen, _ = worker.preview_after(-1, 0)  # only pictures drawn from now on
        idle_since = renewed = 0.0
        while not self._stop.is_set():
            now = time.monotonic()
            if now - renewed > 1.0:  # keep the worker drawing while this viewer is here
                worker.want_preview(3.0, self.settings.preview_fps)
                renewed = now
                idle_since = idle_since or now
            latest = worker.preview_after(seen, 0.25) if self._source_status == SourceStatus.OK else None
            if latest is not None:
                seen, jpeg = latest
                idle_since = time.monotonic()
                yield (b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: "
                       + str(len(jpeg)).encode() + b"\r\n\r\n" + jpeg + b"\r\n")
            elif not self._playing or self._source_status != SourceStatus.OK or now - idle_since > 3.0:
                return

    # ------------------------------------------------------------------ tablet frames

    def tablet_frame(self, client: str, data: bytes, content_type: str) -> dict[str, Any]:
        """Decode one JPEG from a tablet (in the worker) and confirm it with that tablet's own history.

        Each tablet gets its own confirmer (its scans go back to it, never to another screen)
        and its own token bucket of ``frame_rate_limit`` frames a second. The size and the JPEG's
        markers are checked here; the picture's own size and its pixels in the worker.
        """
        if self.settings.mode != BROWSER:
            raise CameraOff()
        require_jpeg(content_type)
        if len(data) > self.settings.frame_max_bytes:
            raise FrameTooLarge()
        # A JPEG starts with SOI and a complete one ends with EOI: a cut-off upload is refused
        # rather than decoded into half a grey picture.
        if not (data.startswith(b"\xff\xd8\xff") and data.rstrip(b"\x00").endswith(b"\xff\xd9")):
            raise FrameUnreadable()
        worker = self.worker
        if worker is None:
            raise CameraStarting()
        state = self._admit(client)
        try:
            if not self._decoding.acquire(timeout=2.0):
                raise CameraBusy()
            try:
                answer = worker.decode_jpeg(data, self.settings.frame_max_pixels)
            finally:
                self._decoding.release()
            if answer[0] == "refused":
                raise FrameTooLarge() if answer[1] == "too_large" else FrameUnreadable()
            if answer[0] == "ok":
                decoded, width, height = answer[1], answer[2], answer[3]
            else:  # the worker died on it (and is being replaced) or its decoder failed: no codes
                if answer[0] == "error":
                    log.error("decoder failed on a tablet frame: %s", answer[1])
                decoded, width, height = [], 0, 0
            scans = state.confirmer.feed(decoded, time.monotonic())
        finally:
            state.busy = False
        self._last_tablet = time.monotonic()
        self.scans += len(scans)
        return {
            "scans": [{"code": s.text, "symbology": s.symbology} for s in scans],
            "codes": [{"symbology": d.symbology, "polygon": [list(p) for p in d.polygon]} for d in decoded],
            "width": width,
            "height": height,
        }

    def _recent_tablet(self) -> bool:
        return time.monotonic() - self._last_tablet < 5.0


    def _admit(self, client: str) -> _TabletClient:
        """The client's state, after charging one frame to its bucket (or refusing it)."""
        now = time.monotonic()
        rate = self.settings.frame_rate_limit
        with self._clients_lock:
            state = self._clients.get(client)
            if state is None:
                state = _TabletClient(ScanConfirmer(cooldown=self.settings.cooldown), allowance=rate, checked=now)
                self._clients[client] = state
                while len(self._clients) > 32:  # forget the tablets not seen for longest
                    self._clients.popitem(last=False)
            self._clients.move_to_end(client)
            state.allowance = min(rate, state.allowance + (now - state.checked) * rate)
            state.checked = now
            # One frame at a time per tablet: the page waits for each answer before sending on.
            if state.allowance < 1.0 or state.busy:
                raise TooManyFrames()
            state.allowance -= 1.0
            state.busy = True
        return state


class _PreviewStream:
    """The preview's parts, giving its viewer slot back when the server closes the response
    (even one closed before its first part was sent, which a bare generator would not notice)."""

    def __init__(self, parts: Iterator[bytes], release: Any) -> None:
        self._parts = parts
        self._release = release
        self._released = False

    def __iter__(self) -> Iterator[bytes]:
        return self._parts

    def close(self) -> None:
        self._parts.close()
        if not self._released:
            self._released = True
            self._release()


def require_jpeg(content_type: str) -> None:
    """Tablet frames are JPEGs (what canvas.toBlob makes everywhere); anything else is refused."""
    if content_type.split(";")[0].strip().lower() not in ("image/jpeg", "image/jpg"):
        raise FrameNotJpeg()


def _sse(event: CameraMessage) -> str:
    return f"id: {event.id}\nevent: {event.kind}\ndata: {json.dumps(event.data, ensure_ascii=False)}\n\n"


def init_camera(app: Any) -> CameraRuntime | None:
    """Start the camera runtime when ``CAMERA`` is set; keep it in ``app.extensions["camera"]``."""
    settings = CameraSettings.from_config(app.config)
    app.extensions["camera_settings"] = settings
    if settings.mode == OFF:
        app.extensions["camera"] = None
        return None
    runtime = CameraRuntime(settings).start()
    app.extensions["camera"] = runtime
    log.info("camera: %s %s", settings.mode, settings.device if settings.device is not None else "")
    return runtime
