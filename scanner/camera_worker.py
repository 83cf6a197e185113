"""The camera worker seen from the kiosk: a child process that captures, decodes and draws previews.

The kiosk's web server must not load OpenCV, numpy or the decoders (on a Raspberry Pi 3 they are
~50 MB of its resident memory, twice over once the worker maps them too). So one child process,
``python -m scanner.camera_serve``, owns the camera (USB device, recording or image folder),
decodes every frame, encodes the MJPEG preview pictures and decodes tablet JPEGs; this module
imports none of that and only passes small messages. A crash of ZBar (or any death or hang of
the child) costs a frame: the supervisor thread starts a new child and sends it what the old one
was playing, from where it was.

Messages, pickled over a socket pair (``multiprocessing.connection.Connection``):

kiosk → worker
    ``("play", spec | None)``: play a source (see :meth:`CameraWorker.play`) or stop;
    ``("preview", seconds, fps)``: send preview pictures for the next ``seconds``;
    ``("decode", id, jpeg, max_pixels)``: decode one tablet frame; ``None``: quit.
worker → kiosk
    ``("ready", pid)``; ``("alive", seconds decoding or None)`` every 0.5 s;
    ``("opened", spec id, started, opened_at)``; ``("status", word)``;
    ``("frame", timestamp, read_at, decoded)`` for every frame decoded; ``("preview", jpeg)``;
    ``("decoded", id, ("ok", decoded, width, height) | ("refused", reason) | ("error", text))``.
"""

from __future__ import annotations

import itertools
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from .common import Decoded, WorkerError

log = logging.getLogger(__name__)

#: Where the ``scanner`` package lives, for the child's import path.
_ROOT = str(Path(__file__).resolve().parent.parent)

FrameHandler = Callable[[float, float, tuple[Decoded, ...]], None]
StatusHandler = Callable[[str], None]

#: What :meth:`CameraWorker.decode_jpeg` answers when the worker died or hung on the frame.
LOST = ("lost", None)


@dataclass
class _Pending:
    done: threading.Event = field(default_factory=threading.Event)
    answer: tuple = LOST


class CameraWorker:
    """The camera worker process and the kiosk thread that listens to it and restarts it.

    ``on_frame(timestamp, read_at, decoded)`` and ``on_status(word)`` are called from that thread
    for the source last given to :meth:`play` (never for one it replaced). ``timeout`` bounds a
    decode and the worker's silence; ``restarts`` counts replacements of a dead or hung worker.
    """

    def __init__(
        self,
        on_frame: FrameHandler,
        on_status: StatusHandler,
        *,
        timeout: float = 5.0,
        start_timeout: float = 30.0,
    ) -> None:
        self.on_frame, self.on_status = on_frame, on_status
        self.timeout, self.start_timeout = timeout, start_timeout
        self.restarts = 0
        self.opened_at: float | None = None
        self._proc: subprocess.Popen | None = None
        self._conn: Connection | None = None
        self._send_lock = threading.Lock()
        self._state = threading.Condition()  # guards everything below and wakes preview readers
        self._spec: dict[str, Any] | None = None
        self._active: int | None = None  # the spec id the worker is playing now
        self._last_timestamp: float | None = None
        self._ids = itertools.count(1)
        self._pending: dict[int, _Pending] = {}
        self._preview: tuple[int, bytes] = (0, b"")
        self._heard = 0.0
        self._decoding_for: float | None = None
        self._why: str | None = None
        self._closed = False
        self._start()
        self._thread = threading.Thread(target=self._run, name="muontra-camera-worker", daemon=True)
        self._thread.start()

    @property
    def pid(self) -> int | None:
        """Process id of the current worker (None when closed or being replaced)."""
        proc = self._proc
        return proc.pid if proc is not None else None

    # ------------------------------------------------------------------ the process

    def _start(self) -> None:
        ours, theirs = socket.socketpair()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [_ROOT, os.environ.get("PYTHONPATH")]))}
        try:
            # A fresh interpreter rather than multiprocessing's spawn: it imports only the worker's
            # modules, and starts no resource-tracker process beside it. -P: the kiosk's working
            # directory is not put first on its import path.
            proc = subprocess.Popen([sys.executable, "-P", "-m", "scanner.camera_serve", str(theirs.fileno())],
                                    pass_fds=[theirs.fileno()], env=env, stdin=subprocess.DEVNULL)
        except OSError as e:
            ours.close()
            raise WorkerError(f"camera worker could not start: {e}") from e
        finally:
            theirs.close()
        conn = Connection(ours.detach())
        try:
            if not conn.poll(self.start_timeout):
                raise WorkerError("camera worker did not start")
            conn.recv()
        except (EOFError, OSError, WorkerError) as e:
            proc.kill()
            proc.wait()
            conn.close()
            raise e if isinstance(e, WorkerError) else WorkerError("camera worker died while starting") from e
        with self._state:
            self._proc, self._conn = proc, conn
            self._heard = time.monotonic()
            self._decoding_for = None
            self._active = None
            spec = self._resume_spec()
        if spec is not None:
            self._send(("play", spec))

    def _resume_spec(self) -> dict[str, Any] | None:
        """What the new worker should play: the same source, after the last frame heard of."""
        if self._spec is None:
            return None
        return {**self._spec, "resume_after": self._last_timestamp}

    def _stop_process(self) -> None:
        with self._state:
            proc, conn = self._proc, self._conn
            self._proc, self._conn = None, None
            pending, self._pending = self._pending, {}
        if proc is not None:
            proc.kill()
            proc.wait()
        if conn is not None:
            conn.close()
        for slot in pending.values():
            slot.done.set()  # answered LOST: the frame died with the worker

    def _kill(self, why: str) -> None:
        """Have the supervisor thread replace the worker (it sees the process end)."""
        with self._state:
            proc = self._proc
            self._why = self._why or why
        if proc is not None:
            proc.kill()

    def _run(self) -> None:
        while not self._closed:
            conn = self._conn
            if conn is None:
                try:
                    self._start()
                except WorkerError:
                    log.exception("camera worker could not be started again")
                    time.sleep(2.0)
                if self._closed:  # closed while a replacement was starting: it must not outlive us
                    self._stop_process()
                continue
            try:
                if conn.poll(0.25):
                    message = conn.recv()
                    self._heard = time.monotonic()
                    self._handle(message)
                now = time.monotonic()
                if now - self._heard > self.timeout:
                    self._kill(f"said nothing for {self.timeout:g} s")
                elif self._decoding_for is not None and self._decoding_for > self.timeout:
                    self._kill(f"took more than {self.timeout:g} s on a frame")
            except (EOFError, OSError):
                if self._closed:
                    return
                proc = self._proc
                code = proc.wait() if proc is not None else None
                why, self._why = self._why or f"died (exit code {code})", None
                log.error("camera worker %s %s; restarting it", proc.pid if proc else None, why)
                self._stop_process()
                self.restarts += 1
            except Exception:
                # The supervisor must outlive any handler's bug: a lost message, not a lost camera.
                log.exception("camera worker message failed")

    def _handle(self, message: tuple) -> None:
        kind = message[0]
        if kind == "alive":
            self._decoding_for = message[1]
        elif kind == "frame":
            if self._active is not None and self._spec is not None and self._active == self._spec["id"]:
                self._last_timestamp = message[1]
                self.on_frame(message[1], message[2], message[3])
        elif kind == "status":
            if self._active is not None and self._spec is not None and self._active == self._spec["id"]:
                self.on_status(message[1])
        elif kind == "preview":
            with self._state:
                self._preview = (self._preview[0] + 1, message[1])
                self._state.notify_all()
        elif kind == "opened":
            _, spec_id, started, opened_at = message
            with self._state:
                self._active = spec_id
                if self._spec is not None and self._spec["id"] == spec_id:
                    self._spec["started"] = started  # a restarted worker keeps the same pace
                    self.opened_at = opened_at
        elif kind == "decoded":
            with self._state:
                slot = self._pending.pop(message[1], None)
            if slot is not None:
                slot.answer = message[2]
                slot.done.set()

    def _send(self, message: tuple) -> bool:
        """False when the worker is gone (it is being replaced)."""
        with self._send_lock:
            conn = self._conn
            if conn is None:
                return False
            try:
                conn.send(message)
            except (OSError, ValueError):
                return False
            return True

    # ------------------------------------------------------------------ what the kiosk asks

    def play(self, spec: dict[str, Any] | None) -> None:
        """Play a source from now on, replacing the one before; None stops.

        ``{"kind": "device", "device": 0 | "/dev/videoN", "width", "height", "fps"}`` or
        ``{"kind": "video", "path": file or folder}``, both with optional ``mirror`` and ``roi``.
        """
        with self._state:
            self._spec = None if spec is None else {**spec, "id": next(self._ids)}
            self._last_timestamp = None
            self.opened_at = None
            sent = None if self._spec is None else dict(self._spec)
        self._send(("play", sent))

    def want_preview(self, seconds: float, fps: float) -> None:
        """Ask for preview pictures for the next ``seconds`` (a viewer renews it while watching)."""
        self._send(("preview", seconds, fps))

    def preview_after(self, seen: int, timeout: float) -> tuple[int, bytes] | None:
        """The newest preview picture once it is newer than number ``seen`` (None on timeout)."""
        with self._state:
            self._state.wait_for(lambda: self._preview[0] > seen or self._closed, timeout)
            return self._preview if self._preview[0] > seen else None

    def decode_jpeg(self, data: bytes, max_pixels: int) -> tuple:
        """Decode one tablet JPEG in the worker: ``("ok", decoded, width, height)``,
        ``("refused", "too_large" | "unreadable")``, ``("error", text)``, or :data:`LOST` when
        the worker died or hung on it (it is then replaced)."""
        request_id, slot = next(self._ids), _Pending()
        with self._state:
            self._pending[request_id] = slot
        if not self._send(("decode", request_id, data, max_pixels)):
            with self._state:
                self._pending.pop(request_id, None)
            return LOST
        if not slot.done.wait(self.timeout):
            with self._state:
                self._pending.pop(request_id, None)
            self._kill(f"took more than {self.timeout:g} s on a tablet frame")
            return LOST
        return slot.answer

    def check(self) -> bool:
        """True if a worker process is alive, waiting a little for a replacement (the watchdog's
        question); False once closed, or when none could be started."""
        deadline = time.monotonic() + self.timeout * 3
        while not self._closed:
            proc = self._proc
            if proc is not None and proc.poll() is None and self._thread.is_alive():
                return True
            if time.monotonic() > deadline or not self._thread.is_alive():
                return False
            time.sleep(0.1)
        return False

    def close(self) -> None:
        self._closed = True
        self._send(None)
        proc = self._proc
        if proc is not None:
            try:
                proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                pass
        self._thread.join(timeout=5)
        self._stop_process()
        with self._state:
            self._state.notify_all()

    def __enter__(self) -> CameraWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
