"""Sync in the kiosk process: a background thread, and "Sync now" from the admin page.

The thread never holds the kiosk's write lock for longer than one pulled page,
so a scan at the desk waits milliseconds at worst. While the server is out of
reach it backs off exponentially, with jitter so a room of kiosks coming back
online together doesn't arrive at the same instant.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from typing import Any

from kiosk.db import db

from .client import NotPaired, SyncAlreadyRunning, SyncSummary, client_for


class BackgroundSync:
    def __init__(self, interval: float, max_backoff: float = 900.0,
                 make_client: Callable[..., Any] = client_for) -> None:
        self.interval, self.max_backoff, self.make_client = interval, max_backoff, make_client
        self.progress: dict[str, Any] = {"phase": None, "done": 0, "total": None}
        self.last_summary: SyncSummary | None = None
        self.running = False
        self.failures = 0
        self._one_at_a_time = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="muontra-sync", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def _on_progress(self, phase: str, done: int, total: int | None) -> None:
        self.progress = {"phase": phase, "done": done, "total": total}

    def run_once(self, lock_wait: float = 0.0) -> SyncSummary | None:
        """One sync in this thread; None when the kiosk isn't paired.

        The thread lock keeps this process's syncs in turn; the client's file lock keeps
        out a `muontra sync` on the same data directory. ``lock_wait``: how long to wait
        for that one (the timer doesn't: it skips a turn) before :class:`SyncAlreadyRunning`.
        """
        with self._one_at_a_time:
            self.running = True
            self.progress = {"phase": "start", "done": 0, "total": None}
            database = db.obj
            database.connect(reuse_if_open=True)
            try:
                summary = self.make_client(progress=self._on_progress).sync(lock_wait=lock_wait)
            except NotPaired:
                return None
            finally:
                database.close()
                self.running = False
                self.progress = {**self.progress, "phase": "done"}
            self.last_summary = summary
            return summary

    def next_delay(self, summary: SyncSummary | None) -> float:
        if summary is None or summary.complete:
            self.failures = 0
            return self.interval
        self.failures += 1
        ceiling = min(self.max_backoff, self.interval * 2 ** min(self.failures, 16))
        return random.uniform(ceiling / 2, ceiling)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                summary = self.run_once()
            except SyncAlreadyRunning:
                summary = None  # `muontra sync` is doing it right now: our turn comes at the next tick
            except Exception:  # noqa: BLE001 — a bug here must not kill sync for the day
                import logging

                logging.getLogger(__name__).exception("background sync failed")
                summary = SyncSummary(error="internal error")
            self._wake.wait(self.next_delay(summary))
            self._wake.clear()
