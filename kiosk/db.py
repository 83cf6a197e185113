"""Database handle, opened late from a path or URL (flaskr/scout style).

Every write goes through :func:`write_transaction`, which on SQLite takes the
write lock up front (``BEGIN IMMEDIATE``) so two writers never deadlock on a
lock upgrade, and the WAL + ``synchronous=FULL`` pragmas make a committed
checkout survive a power cut.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from peewee import Database, DatabaseProxy, SqliteDatabase

db = DatabaseProxy()

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "synchronous": 2,  # FULL: fsync the WAL on every commit
    "foreign_keys": 1,
    "busy_timeout": 10_000,
    "cache_size": -16_000,
}


def connect(url: str | Path) -> Database:
    """Open (not yet connect) a database from a SQLite path or a database URL."""
    text = str(url)
    if text.startswith(("postgres://", "postgresql://")):
        from playhouse.db_url import connect as url_connect

        return url_connect(text.replace("postgres://", "postgresql://", 1))
    if text.startswith("sqlite:///"):
        text = text[len("sqlite:///"):]
    return SqliteDatabase(text, pragmas=SQLITE_PRAGMAS, check_same_thread=False)


def init_database(url: str | Path) -> Database:
    """Bind the global proxy to the database at ``url`` and return it."""
    database = connect(url)
    db.initialize(database)
    return database


def is_sqlite(database: Database | None = None) -> bool:
    target = database or db.obj
    return isinstance(target, SqliteDatabase)


@contextlib.contextmanager
def write_transaction() -> Iterator[None]:
    """The one write path: an immediate transaction on SQLite, a plain one elsewhere."""
    target = db.obj
    if isinstance(target, SqliteDatabase) and not target.in_transaction():
        with target.atomic(lock_type="IMMEDIATE"):
            yield
    else:
        with target.atomic():
            yield
