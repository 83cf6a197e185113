"""Where the server keeps its data: SQLite in the data directory, or a PostgreSQL URL."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from peewee import Database

from kiosk.db import connect, db, make_private
from kiosk.migrations import KIOSK, check_schema, migrate

from .migrations import SERVER

SERVER_DB_FILENAME = "server.sqlite3"
MASTER_KEY_FILENAME = "server.key"


def database_url(data: str | os.PathLike[str], url: str | None = None) -> str:
    return url or os.environ.get("MUONTRA_DB") or str(Path(data) / SERVER_DB_FILENAME)


def open_server_store(data: str | os.PathLike[str], url: str | None = None, *, upgrade: bool = False,
                      busy_timeout_ms: int | None = None) -> Database:
    """Bind the server database (kiosk tables + server tables); create or upgrade only when asked."""
    Path(data).mkdir(parents=True, exist_ok=True)
    database = connect(database_url(data, url), busy_timeout_ms)
    db.initialize(database)
    database.connect(reuse_if_open=True)
    if upgrade:
        for component in (KIOSK, SERVER):
            migrate(database, component)
    else:
        for component in (KIOSK, SERVER):
            check_schema(database, component, data=str(data))
    return database


def master_key(data: str | os.PathLike[str]) -> bytes:
    """The key every device secret is derived from; created once, readable only by its owner."""
    env = os.environ.get("MUONTRA_SERVER_KEY")
    if env:
        return env.encode()
    path = Path(data) / MASTER_KEY_FILENAME
    if not path.exists():
        Path(data).mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another worker made it first
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32))
    make_private(path)  # a key made by an older version, or copied with the wrong rights
    return path.read_text().strip().encode()


def session_key(master: bytes) -> str:
    """What signs the librarian's session cookie: derived from the master key, never stored.

    It used to be a row of the database, so a copy of ``server.sqlite3`` (a backup, a USB stick)
    was enough to sign an admin cookie; now that also takes ``server.key``.
    """
    return hmac.new(master, b"muontra:server-session-cookie:1", hashlib.sha256).hexdigest()
