"""The background scanner: frames from a source, decoded in a worker, confirmed into scans."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .confirm import Scan, ScanConfirmer
from .decode import Decoded, Decoder
from .sources import FrameSource, SourceStatus
from .worker import DecoderWorker

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FrameResult:
    """The latest processed frame, for a live preview with the codes outlined."""

    frame: np.ndarray
    decoded: tuple[Decoded, ...]
    timestamp: float


class Scanner:
    """Runs ``source`` → decoder → :class:`ScanConfirmer` in a daemon thread.

    ``on_scan(scan)`` is called from the scanner thread for each confirmed scan; keep it short
    (hand the scan to the web layer's queue). ``worker=None`` decodes in-process (tests,
    ``scan-camera``); the kiosk passes a :class:`DecoderWorker` so a decoder crash cannot take
    the web server down. The thread ends by itself when a recording/folder source has ended.
    """

    def __init__(
        self,
        source: FrameSource,
        on_scan: Callable[[Scan], None],
        *,
        confirmer: ScanConfirmer | None = None,
        worker: DecoderWorker | None = None,
        decoder: Decoder | None = None,
        idle_sleep: float = 0.02,
    ) -> None:
        self.source = source
        self.on_scan = on_scan
        self.confirmer = confirmer or ScanConfirmer()
        self.worker = worker
        self.decoder = decoder or (None if worker else Decoder())
        self.idle_sleep = idle_sleep
        self.frames = 0
        self._latest: FrameResult | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def status(self) -> SourceStatus:
        """The camera's status, for the kiosk's small indicator."""
        return self.source.status

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def latest(self) -> FrameResult | None:
        """The most recent frame and what was decoded in it (None before the first frame)."""
        return self._latest

    def start(self) -> Scanner:
        if self.running:
            return self
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="muontra-scanner", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the thread to end (a finite source played out); True if it ended."""
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.running

    def process(self, frame: np.ndarray, timestamp: float) -> list[Scan]:
        """Decode and confirm one frame synchronously; also what the thread does per frame."""
        if self.worker is not None:
            decoded = self.worker.decode(frame, still=False)
        else:
            assert self.decoder is not None
            decoded = self.decoder.decode(frame, still=False)
        self.frames += 1
        self._latest = FrameResult(frame, tuple(decoded), timestamp)
        return self.confirmer.feed(decoded, timestamp)

    def _run(self) -> None:
        while not self._stop.is_set():
            frame = self.source.read()
            if frame is None:
                if self.source.status == SourceStatus.ENDED:
                    return
                self._stop.wait(self.idle_sleep)
                continue
            try:
                scans = self.process(frame, self.source.timestamp)
            except Exception:
                # The camera thread must survive anything one frame can throw at it.
                log.exception("scanner failed on a frame")
                continue
            for scan in scans:
                try:
                    self.on_scan(scan)
                except Exception:
                    log.exception("on_scan handler failed for %s", scan.text)
            # Give the web server's threads the GIL between frames.
            time.sleep(0)
