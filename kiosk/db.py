"""Database handle, opened late from a path or URL (flaskr/scout style).

Every write goes through :func:`write_transaction`, which on SQLite takes the
write lock up front (``BEGIN IMMEDIATE``) so two writers never deadlock on a
lock upgrade, and the WAL + ``synchronous=FULL`` pragmas make a committed
checkout survive a power cut.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import groupby
from operator import itemgetter
from pathlib import Path
from typing import Any

from peewee import Database, DatabaseProxy, Model, SqliteDatabase
from peewee import __exception_wrapper__ as peewee_errors  # driver errors as Peewee's IntegrityError…

db = DatabaseProxy()

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "synchronous": 2,  # FULL: fsync the WAL on every commit
    "foreign_keys": 1,
    "busy_timeout": 10_000,  # ms a writer waits for the lock before "database is locked"
    "cache_size": -16_000,
}


PRIVATE_MODE = 0o600  # database files, their backups and key files: readable by their owner only


def make_private(path: str | os.PathLike[str]) -> Path:
    """Create ``path`` (empty) readable only by its owner, or take group/other rights off it.

    SQLite gives the -wal and -shm files it makes the database file's mode, so a private
    database file keeps its journal private too.
    """
    target = Path(path)
    try:
        os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_MODE))
    except FileExistsError:
        pass
    for name in (target, target.with_name(target.name + "-wal"), target.with_name(target.name + "-shm")):
        with contextlib.suppress(FileNotFoundError):
            if name.stat().st_mode & 0o077:
                name.chmod(PRIVATE_MODE)
    return target


def connect(url: str | Path, busy_timeout_ms: int | None = None) -> Database:
    """Open (not yet connect) a database from a SQLite path or a database URL."""
    text = str(url)
    if text.startswith(("postgres://", "postgresql://")):
        from playhouse.db_url import connect as url_connect

        return url_connect(text.replace("postgres://", "postgresql://", 1))
    if text.startswith("sqlite:///"):
        text = text[len("sqlite:///"):]
    if text and text != ":memory:" and not text.startswith("file:") and Path(text).parent.is_dir():
        make_private(text)
    pragmas = SQLITE_PRAGMAS if busy_timeout_ms is None else {**SQLITE_PRAGMAS, "busy_timeout": busy_timeout_ms}
    return SqliteDatabase(text, pragmas=pragmas, check_same_thread=False)


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


MAX_PARAMETERS = 999  # per statement: SQLite's historical limit, far below PostgreSQL's


def quoted(name: str) -> str:
    """A table or column name in the database's own quote characters."""
    return name.join(db.obj.quote)


def execute_many(sql: str, params: Sequence[Sequence[Any]]) -> None:
    """One statement run for many parameter rows by the driver (sqlite3 and psycopg2 alike).

    Errors come out as Peewee's (IntegrityError…), as for any query.
    """
    if params:
        with peewee_errors:
            db.obj.cursor().executemany(sql, params)


def insert_rows(model: type[Model], rows: Sequence[Mapping[str, Any]], *, conflict: Sequence[str] = (),
                update: Sequence[str] = ()) -> None:
    """Insert many rows in order, a few hundred per statement, each value converted by its field.

    Peewee builds a query node per value, which for the thousands of rows a sync
    batch, a first pull or an import writes costs far more than the database's
    own work; this writes the same multi-row INSERT directly. A field a row
    leaves out is NULL. With ``conflict`` (the fields of a unique key), a row
    whose key exists overwrites that row's ``update`` fields instead.
    """
    if not rows:
        return
    meta = model._meta
    fields = [meta.fields[name] for name in dict.fromkeys(name for row in rows for name in row)]
    head = f"INSERT INTO {quoted(meta.table_name)} ({', '.join(quoted(f.column_name) for f in fields)}) VALUES "
    tail = ""
    if conflict:
        keys = ", ".join(quoted(meta.fields[name].column_name) for name in conflict)
        columns = [quoted(meta.fields[name].column_name) for name in update]
        tail = f" ON CONFLICT ({keys}) DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in columns)
    placeholders = "(" + ", ".join([db.obj.param] * len(fields)) + ")"
    per_statement = max(1, MAX_PARAMETERS // len(fields))
    for start in range(0, len(rows), per_statement):
        chunk = rows[start:start + per_statement]
        values = [field.db_value(row.get(field.name)) for row in chunk for field in fields]
        db.obj.execute_sql(head + ", ".join([placeholders] * len(chunk)) + tail, values)


def update_rows(model: type[Model], updates: Iterable[tuple[int, Mapping[str, Any]]]) -> None:
    """``UPDATE … WHERE id = ?`` for each (id, changed fields), one statement per set of fields."""
    meta = model._meta
    by_fields = sorted(((tuple(values), row_id, values) for row_id, values in updates if values),
                       key=itemgetter(0, 1))
    for names, group in groupby(by_fields, key=itemgetter(0)):
        fields = [meta.fields[name] for name in names]
        assignments = ", ".join(f"{quoted(field.column_name)} = {db.obj.param}" for field in fields)
        execute_many(f"UPDATE {quoted(meta.table_name)} SET {assignments} "
                      f"WHERE {quoted(meta.primary_key.column_name)} = {db.obj.param}",
                      [(*(field.db_value(values[field.name]) for field in fields), row_id)
                       for _names, row_id, values in group])
