"""systemd's watchdog: "still alive" is said only while the service can really lend books.

A unit with ``WatchdogSec=`` is restarted by systemd when it stops hearing ``WATCHDOG=1``. A thread
that merely runs would keep saying it while the database is gone or the decoder is dead; this one
says it only after its checks pass (the database answers a query on a fresh connection, the
decoder worker process is alive). ``READY=1`` tells a ``Type=notify`` unit the port is open.
Messages go straight to ``$NOTIFY_SOCKET`` (a unix datagram socket; ``@`` = abstract namespace),
which is all the ``sdnotify`` package does.
"""

from __future__ import annotations

import logging
import os
import socket
import sqlite3
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

Check = Callable[[], str | None]  # None when fine, else what is wrong (for STATUS= and the log)


def notify(message: str, address: str | None = None) -> bool:
    """Send one sd_notify message; False when not run by systemd (or the socket is gone)."""
    address = address if address is not None else os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    target = "\0" + address[1:] if address.startswith("@") else address
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.sendto(message.encode(), target)
    except OSError as exc:
        log.warning("sd_notify to %s failed: %s", address, exc)
        return False
    return True


def watchdog_interval(environ: Mapping[str, str] | None = None) -> float | None:
    """How often to say "alive": a third of systemd's ``WATCHDOG_USEC`` (None if no watchdog)."""
    environ = os.environ if environ is None else environ
    usec = environ.get("WATCHDOG_USEC", "")
    pid = environ.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0 or (pid.isdigit() and int(pid) != os.getpid()):
        return None
    return int(usec) / 1_000_000 / 3


def database_check(url: str | os.PathLike[str]) -> Check:
    """The database answers on a new connection (a SQLite file read-only: never created by a check)."""
    text = str(url)

    def check() -> str | None:
        try:
            if text.startswith(("postgres://", "postgresql://")):
                from .db import connect

                database = connect(text)
                try:
                    database.execute_sql("SELECT count(*) FROM schema_migration").fetchone()
                finally:
                    database.close()
            else:
                path = Path(text.removeprefix("sqlite:///"))
                connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=10)
                try:
                    connection.execute("SELECT count(*) FROM schema_migration").fetchone()
                finally:
                    connection.close()
        except Exception as exc:  # any failure means "not working", whatever the driver raised
            return f"database: {exc}"
        return None

    return check


def decoder_check(camera: Any) -> Check:
    """The camera worker process (capture and decoding) is alive (a dead one is being replaced:
    this waits a few seconds for the new one)."""

    def check() -> str | None:
        if camera is None:
            return None
        if camera.status == "failed":
            return "decoder: the camera's decoder could not start"
        worker = camera.worker
        if worker is not None and not worker.check():
            return "decoder: worker process dead and not restartable"
        return None

    return check


class Watchdog:
    """Runs the checks every ``interval`` seconds and sends ``WATCHDOG=1`` only when all pass."""

    def __init__(self, checks: Sequence[Check], interval: float, address: str | None = None) -> None:
        self.checks, self.interval, self.address = list(checks), interval, address
        self.failing: list[str] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def beat(self) -> bool:
        """One round: True if every check passed and systemd was told."""
        problems = [problem for check in self.checks if (problem := check())]
        if problems != self.failing:
            for problem in problems:
                log.error("watchdog: %s", problem)
        self.failing = problems
        if problems:
            notify("STATUS=" + "; ".join(problems), self.address)
            return False
        return notify("WATCHDOG=1\nSTATUS=ok", self.address)

    def start(self) -> Watchdog:
        self._thread = threading.Thread(target=self._run, name="muontra-watchdog", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.beat()
            except Exception:  # the watchdog thread must not die of a check's bug: that is a missed beat
                log.exception("watchdog check failed")
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.interval + 5)


def start_for_systemd(checks: Sequence[Check]) -> Watchdog | None:
    """Tell systemd the service is ready and, under ``WatchdogSec=``, start the watchdog thread."""
    notify("READY=1")
    interval = watchdog_interval()
    if interval is None:
        return None
    return Watchdog(checks, interval).start()
