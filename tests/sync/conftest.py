"""Helpers for the sync tests: a server and kiosks in one process, each with its own database.

The kiosk and server share model classes bound to one database proxy, so the
in-process transport points the proxy at the server's database for the length
of each request and back at the kiosk's afterwards.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest import mock

import pytest
from peewee import Database

from kiosk import services as kiosk_services
from kiosk.db import db
from kiosk.ledger import get_setting
from kiosk.models import Event, Loan
from kiosk.services import Circulation
from kiosk.store import open_store
from sync.client import SyncClient, pair
from sync.server import service
from sync.server.app import create_app as create_server_app
from sync.server.models import AppliedEvent
from tests.conftest import muontra


@contextlib.contextmanager
def bound(database: Database) -> Iterator[None]:
    previous = db.obj
    db.initialize(database)
    try:
        database.connect(reuse_if_open=True)
        yield
    finally:
        db.initialize(previous)


class AppTransport:
    """The server's Flask app behind the client's transport interface, in this process."""

    def __init__(self, app) -> None:
        self.app = app
        self.client = app.test_client()
        self.calls = 0

    def post(self, path: str, body: bytes, headers: Mapping[str, str]) -> tuple[int, dict[str, Any]]:
        self.calls += 1
        with bound(self.app.extensions["server_db"]):
            response = self.client.post(path, data=body, headers=dict(headers))
        return response.status_code, response.get_json(silent=True) or {}


class ServerHandle:
    def __init__(self, data: Path, clock, url: str | None = None) -> None:
        previous = db.obj
        self.app = create_server_app({"DATA_DIR": str(data), "DB": url, "AUTO_MIGRATE": True, "TESTING": True,
                                      "CLOCK": clock, "MASTER_KEY": b"test-master-key"})
        self.database = self.app.extensions["server_db"]
        if previous is not None:
            db.initialize(previous)
        self.transport = AppTransport(self.app)

    def run(self):
        return bound(self.database)

    def new_code(self, name: str, role: str = "desk") -> str:
        """A pairing code; a librarian desk unless the test says otherwise (most tests' kiosks edit too)."""
        with self.run():
            return service.add_device(name, self.app.config["CLOCK"]().astimezone(UTC).replace(tzinfo=None), role)

    def facts(self, facts) -> None:
        with self.run():
            service.record_server_facts(facts)


class KioskHandle:
    """A kiosk: its own SQLite data directory, a Circulation service and a sync client."""

    def __init__(self, data: Path, clock) -> None:
        self.database = open_store(data, upgrade=True)
        self.device = get_setting("device_id")
        self.circ = Circulation(device=self.device, clock=clock)
        self.client: SyncClient | None = None

    def run(self):
        return bound(self.database)

    def pair(self, server: ServerHandle, name: str, role: str = "desk") -> None:
        code = server.new_code(name, role)
        with self.run():
            paired = pair("http://server", code, self.device, transport=server.transport)
        # check_gap 0: the digest comparison runs whenever something moved, so every test exercises it.
        self.client = SyncClient(server.transport, paired.device, paired.secret, clock=lambda: _unix_of(server),
                                 check_gap=timedelta(0))

    def sync(self):
        with self.run():
            return self.client.sync()


def paired_kiosks(server: ServerHandle, clock, base: Path, names: Iterable[str]) -> list[KioskHandle]:
    """Kiosks with their own data directories under ``base``, paired with ``server`` and synced once."""
    kiosks = []
    for name in names:
        kiosk = KioskHandle(base / name, clock)
        kiosk.pair(server, name)
        summary = kiosk.sync()
        assert summary.complete, summary
        kiosks.append(kiosk)
    return kiosks


@contextlib.contextmanager
def school_with_kiosks(base: Path, facts, names: Iterable[str] = ("desk", "corner")) -> Iterator[list]:
    """[clock, server, *kiosks]: a server seeded with ``facts`` and kiosks paired with it, on one fake
    clock; the server's database is closed afterwards, whatever the test did."""
    from tests.conftest import FakeClock

    clock = FakeClock(utc(2026, 3, 2, 2, 0))
    server = ServerHandle(base / "server", clock)
    server.facts(facts)
    try:
        yield [clock, server, *paired_kiosks(server, clock, base, names)]
    finally:
        server.database.close()


@contextlib.contextmanager
def loan_uuids(uuids: Iterable[str]) -> Iterator[None]:
    """Kiosks number their next loans with these instead of random uuids.

    The double-checkout rule keeps the loan with the smaller uuid open, so a test
    that must see one particular side of it chooses the uuids (as FakeClock chooses the time).
    """
    with mock.patch.object(kiosk_services, "uuidlib", SimpleNamespace(uuid4=iter(uuids).__next__)):
        yield


BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]  # a server fixture's params


@contextlib.contextmanager
def server_on(backend: str, data: Path, clock, facts=()) -> Iterator[ServerHandle]:
    """A server app on the embedded SQLite file or on a fresh PostgreSQL database, seeded with ``facts``."""
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(fresh_postgres_database()) if backend == "postgres" else None
        handle = ServerHandle(data, clock, url)
        if facts:
            handle.facts(facts)
        yield handle
        handle.database.close()


def csrf_token(page: str) -> str:
    """The CSRF token of the first form on a server page."""
    import re

    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def _unix_of(server: ServerHandle) -> float:
    return server.app.config["CLOCK"]().timestamp()


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


class ServerProcess:
    """A real ``muontra server`` (gunicorn, several workers) on loopback."""

    def __init__(self, data: Path, port: int | None = None, db_url: str | None = None, workers: int = 2,
                 env: dict[str, str] | None = None, log: Path | None = None, announce: bool = False) -> None:
        from tests.conftest import free_port

        self.data, self.port, self.db_url, self.workers = data, port or free_port(), db_url, workers
        self.announce = announce  # mDNS, on loopback only in tests (tests/conftest.py)
        self.env = env or {}  # MUONTRA_* settings for the server, e.g. its SQLite busy timeout
        self.log = log  # the server's stderr is appended here (a test looks for tracebacks), else dropped
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = None

    def start(self) -> ServerProcess:
        import subprocess
        import sys

        from tests.conftest import subprocess_env, wait_for_http

        args = [sys.executable, "-m", "kiosk", "server", "--data", str(self.data), "--host", "127.0.0.1",
                "--port", str(self.port), "--workers", str(self.workers)]
        if self.db_url:
            args += ["--db", self.db_url]
        if not self.announce:
            args.append("--no-announce")
        stderr = open(self.log, "ab") if self.log else subprocess.DEVNULL  # noqa: SIM115 (the child keeps it)
        try:
            self.proc = subprocess.Popen(args, env=subprocess_env(**self.env), stdout=subprocess.DEVNULL,
                                         stderr=stderr, start_new_session=True)
        finally:
            if self.log:
                stderr.close()
        wait_for_http(self.url + "/healthz")
        return self

    def kill(self) -> None:
        """SIGKILL the whole process group: gunicorn's master and its workers."""
        import os
        import signal

        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        import os
        import signal

        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except Exception:  # noqa: BLE001
                self.kill()


def pair_kiosk(server: ServerProcess, data: Path, name: str, url: str | None = None, role: str = "desk") -> None:
    """Pair the kiosk in ``data`` with a running server, through the real CLI; a librarian desk
    unless the test says otherwise (the tests' kiosks add readers and books as well as lend)."""

    from tests.conftest import muontra

    assert muontra("migrate", "--data", str(data)).returncode == 0
    added = muontra("server", "add-device", name, "--role", role, "--data", str(server.data),
                    *(["--db", server.db_url] if server.db_url else []))
    code = re.search(r"[A-Z0-9]{4}-[A-Z0-9]{4}", added.stdout).group(0)
    paired = muontra("pair", url or server.url, code, "--data", str(data))
    assert paired.returncode == 0, paired.stderr


def seed_server(data: Path, facts, db_url: str | None = None) -> None:
    from sync.server.store import open_server_store

    previous = db.obj
    database = open_server_store(data, db_url, upgrade=True)
    try:
        service.record_server_facts(facts)
    finally:
        database.close()
        if previous is not None:
            db.initialize(previous)


def server_database(data: Path, db_url: str | None = None) -> Database:
    from kiosk.db import connect
    from sync.server.store import database_url

    return connect(database_url(data, db_url))


def on_server(server: ServerProcess, action: Callable[[], Any]) -> Any:
    """``action()`` on a running server process's database, from the test process."""
    previous = db.obj
    database = server_database(server.data, server.db_url)
    try:
        with bound(database):
            return action()
    finally:
        database.close()
        db.initialize(previous)


def kiosk_database(data: Path) -> Database:
    from kiosk.db import connect
    from kiosk.store import database_path

    return connect(database_path(data))


PG_ADMIN_DSN = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "dbname": "test"}


def postgres_reachable() -> bool:
    import socket

    try:
        with socket.create_connection((PG_ADMIN_DSN["host"], PG_ADMIN_DSN["port"]), timeout=1):
            return True
    except OSError:
        return False


@contextlib.contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """A new, empty PostgreSQL database for one test; dropped afterwards. Yields its URL."""
    import os
    import secrets

    import psycopg2
    import pytest

    if not postgres_reachable():
        if os.environ.get("CI"):
            raise RuntimeError("PostgreSQL on 127.0.0.1:5432 is required in CI")
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432 (and CI is not set)")
    name = "muontra_sync_" + secrets.token_hex(5)
    admin = psycopg2.connect(**PG_ADMIN_DSN)
    admin.autocommit = True
    admin.cursor().execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        admin.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


# ---------------------------------------------------------------- real kiosk and server processes

def sync_cli(data: Path, timeout: float = 60) -> subprocess.CompletedProcess:
    return muontra("--lang", "en", "sync", "--data", str(data), "--quiet", timeout=timeout)


def server_applied(server: ServerProcess) -> dict[str, list[tuple[int, str]]]:
    database = server_database(server.data, server.db_url)
    with bound(database):
        rows = list(AppliedEvent.select().order_by(AppliedEvent.device, AppliedEvent.seq))
    database.close()
    applied: dict[str, list[tuple[int, str]]] = {}
    for row in rows:
        applied.setdefault(row.device, []).append((row.seq, row.uuid))
    return applied


def kiosk_events(data: Path) -> tuple[str, list[tuple[int, str]]]:
    database = kiosk_database(data)
    with bound(database):
        device = get_setting("device_id")
        events = [(e.seq, e.uuid) for e in Event.select().where(Event.device == device).order_by(Event.seq)]
    database.close()
    return device, events


def open_loans(database) -> set[tuple[str, str, str]]:
    with bound(database):
        result = {(loan.uuid, loan.copy.code, loan.patron.code)
                  for loan in Loan.open_loans()}
    database.close()
    return result


def assert_exactly_once(server: ServerProcess, *kiosks: Path) -> None:
    applied = server_applied(server)
    for data in kiosks:
        device, events = kiosk_events(data)
        assert applied.get(device, []) == events  # every event, once, in seq order, same uuid
