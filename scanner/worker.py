"""Decoding in a separate process, restarted when it dies.

ZBar is C code that can abort or crash on a malformed image; in the kiosk process that would
take the web server down with it. :class:`DecoderWorker` sends each frame over a pipe to a child
process and waits for the answer with a deadline. If the child dies (or hangs past the deadline)
it is killed, a new one is started, the event is logged, and that one frame yields nothing.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import threading
import time
from multiprocessing.connection import Connection

import numpy as np

from .common import WorkerError, limit_malloc_arenas
from .decode import Decoded, Decoder, to_gray
from .normalize import LIBRARY_SYMBOLOGIES

log = logging.getLogger(__name__)


def _serve(conn: Connection, symbologies: frozenset[str], use_zxing: bool) -> None:
    limit_malloc_arenas()
    decoder = Decoder(symbologies, use_zxing=use_zxing)
    conn.send(("ready", None))
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            return
        img, still = msg
        try:
            conn.send(("ok", decoder.decode(img, still=still)))
        except Exception as e:  # a decoder bug must not kill the worker; report it instead
            conn.send(("error", f"{type(e).__name__}: {e}"))


class DecoderWorker:
    """A decoder living in its own process.

    ``decode()`` has the same meaning as :meth:`Decoder.decode`. ``timeout`` bounds one frame;
    ``restarts`` counts replacements of a dead or hung worker. Thread-safe (calls are
    serialised). The start method defaults to ``spawn``: forking a threaded web server is
    unsafe.
    """

    def __init__(
        self,
        symbologies: frozenset[str] = LIBRARY_SYMBOLOGIES,
        *,
        use_zxing: bool = True,
        timeout: float = 5.0,
        start_timeout: float = 30.0,
        start_method: str = "spawn",
    ) -> None:
        self.symbologies = frozenset(symbologies)
        self.use_zxing = use_zxing
        self.timeout = timeout
        self.start_timeout = start_timeout
        self.restarts = 0
        self._ctx = mp.get_context(start_method)
        self._lock = threading.Lock()
        self._proc: mp.process.BaseProcess | None = None
        self._conn: Connection | None = None
        self._sender: threading.Thread | None = None
        self._closed = False
        self._start()

    @property
    def pid(self) -> int | None:
        """Process id of the current worker (None when closed)."""
        return self._proc.pid if self._proc is not None else None

    def _start(self) -> None:
        parent, child = self._ctx.Pipe()
        proc = self._ctx.Process(target=_serve, args=(child, self.symbologies, self.use_zxing),
                                 name="muontra-decoder", daemon=True)
        proc.start()
        child.close()
        if not parent.poll(self.start_timeout):
            proc.kill()
            raise WorkerError("decoder worker did not start")
        try:
            parent.recv()
        except EOFError as e:
            raise WorkerError("decoder worker died while starting") from e
        self._proc, self._conn = proc, parent

    def _restart(self, why: str) -> None:
        log.error("decoder worker %s %s; restarting it", self.pid, why)
        self._stop_process()
        self.restarts += 1
        self._start()

    def _stop_process(self, grace: float = 0.0) -> None:
        # Kill before closing our end: a send blocked on a full pipe then fails and returns.
        if self._proc is not None:
            self._proc.join(timeout=grace)
            if self._proc.is_alive():
                self._proc.kill()
            self._proc.join(timeout=5)
        if self._sender is not None:
            self._sender.join(timeout=2)
            self._sender = None
        if self._conn is not None:
            self._conn.close()
        self._proc, self._conn = None, None

    def _send(self, msg: object) -> bool:
        """Send with the frame deadline: a stopped worker stops reading and a frame is larger
        than the pipe buffer, so a plain send could block forever. False if it timed out."""
        assert self._conn is not None
        conn, failed = self._conn, []

        def send() -> None:
            try:
                conn.send(msg)
            except OSError as e:
                failed.append(e)

        self._sender = threading.Thread(target=send, name="muontra-decoder-send", daemon=True)
        self._sender.start()
        self._sender.join(self.timeout)
        if self._sender.is_alive():
            return False
        self._sender = None
        if failed:
            raise failed[0]
        return True

    def decode(self, img: np.ndarray, *, still: bool = False) -> list[Decoded]:
        """Decode one frame in the worker; [] if the worker died or timed out on it."""
        gray = np.ascontiguousarray(to_gray(img))  # half the bytes through the pipe
        with self._lock:
            if self._closed:
                raise WorkerError("decoder worker is closed")
            if self._conn is None:  # a restart failed earlier: try again now
                self._start()
            try:
                deadline = time.monotonic() + self.timeout
                if not self._send((gray, still)):
                    self._restart(f"did not take a frame within {self.timeout:g} s")
                    return []
                if not self._conn.poll(max(0.0, deadline - time.monotonic())):
                    self._restart(f"took more than {self.timeout:g} s on a frame")
                    return []
                status, payload = self._conn.recv()
            except (EOFError, OSError):
                if self._proc is not None:
                    self._proc.join(timeout=1)
                self._restart(f"died (exit code {self._proc.exitcode if self._proc else None})")
                return []
        if status != "ok":
            log.error("decoder failed on a frame: %s", payload)
            return []
        return payload

    def check(self) -> bool:
        """True if the worker process is alive, after replacing a dead one (for a service's watchdog).

        A worker busy on a frame is alive; one that holds the lock far beyond a frame's deadline,
        or that cannot be started again, is not.
        """
        if not self._lock.acquire(timeout=self.timeout * 3):
            return False
        try:
            if self._closed:
                return False
            if self._proc is None or not self._proc.is_alive():
                try:
                    self._restart(f"was found dead (exit code {self._proc.exitcode if self._proc else None})")
                except WorkerError:
                    log.exception("decoder worker could not be started again")
                    return False
            return True
        finally:
            self._lock.release()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._conn is not None:
                try:
                    self._conn.send(None)
                except OSError:
                    pass
            self._stop_process(grace=1.0)

    def __enter__(self) -> DecoderWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
