"""Schema versions and the runner that brings a database up to date.

A kiosk in the field upgrades with ``muontra migrate``; ``muontra kiosk`` refuses
to start on a database that is older (unmigrated) or newer than this code.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from peewee import Database, SqliteDatabase

from .db import make_private
from .errors import N_, MuontraError

Migration = Callable[[Database], None]


class SchemaError(MuontraError):
    code = "schema"
    http_status = 503


class SchemaTooNew(SchemaError):
    code = "schema_too_new"
    message = N_(
        "The database is at schema version %(found)s but this program only knows up to %(known)s. "
        "Install the newer Mượn Trả version that wrote it."
    )


class SchemaNotMigrated(SchemaError):
    code = "schema_not_migrated"
    message = N_(
        "The database is at schema version %(found)s and needs version %(known)s. "
        "Run: muontra migrate --data %(data)s"
    )


@dataclass(frozen=True)
class Component:
    """A set of tables with its own migration line (the kiosk, the sync server…).

    Migrations are named, not numbered, so work merged from several branches
    applies in list order without renumbering; the version is how many are applied.
    """

    name: str
    migrations: Sequence[tuple[str, Migration]]

    @property
    def latest(self) -> int:
        return len(self.migrations)


def _ensure_table(database: Database) -> None:
    database.execute_sql(
        "CREATE TABLE IF NOT EXISTS schema_migration ("
        "component VARCHAR(64) NOT NULL, name VARCHAR(128) NOT NULL, applied_at VARCHAR(40) NOT NULL, "
        "PRIMARY KEY (component, name))"
    )


def applied_migrations(database: Database, component: Component) -> set[str]:
    _ensure_table(database)
    cursor = database.execute_sql(
        f"SELECT name FROM schema_migration WHERE component = {database.param}", (component.name,)
    )
    return {row[0] for row in cursor.fetchall()}


def current_version(database: Database, component: Component) -> int:
    return len(applied_migrations(database, component))


def _unknown(applied: set[str], component: Component) -> set[str]:
    return applied - {name for name, _ in component.migrations}


def check_schema(database: Database, component: Component, data: str = "DIR") -> None:
    applied = applied_migrations(database, component)
    if _unknown(applied, component):
        raise SchemaTooNew(found=len(applied), known=component.latest)
    if len(applied) < component.latest:
        raise SchemaNotMigrated(found=len(applied), known=component.latest, data=data)


def backup_sqlite(database: SqliteDatabase) -> Path | None:
    """Copy the database file aside before changing its schema (online backup API)."""
    path = Path(database.database)
    if not path.exists() or path.stat().st_size == 0:
        return None
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = path.with_name(f"{path.stem}.before-migrate-{stamp}{path.suffix}")
    # sqlite3's own backup API: peewee's backup_to_file exists only on playhouse's extension classes.
    make_private(target)  # a backup holds every reader's name, like the database itself
    copy = sqlite3.connect(target)
    try:
        database.connection().backup(copy)
    finally:
        copy.close()
    return target


def migrate(database: Database, component: Component) -> list[str]:
    """Apply every pending migration, each in its own transaction; returns the names applied."""
    applied = applied_migrations(database, component)
    if _unknown(applied, component):
        raise SchemaTooNew(found=len(applied), known=component.latest)
    pending = [(name, step) for name, step in component.migrations if name not in applied]
    if not pending:
        return []
    if applied and isinstance(database, SqliteDatabase):
        backup_sqlite(database)
    p = database.param
    for name, step in pending:
        with database.atomic():
            step(database)
            database.execute_sql(
                f"INSERT INTO schema_migration (component, name, applied_at) VALUES ({p}, {p}, {p})",
                (component.name, name, datetime.now(UTC).isoformat()),
            )
    return [name for name, _ in pending]


def _kiosk_v1(database: Database) -> None:
    from .models import KIOSK_MODELS

    database.create_tables(KIOSK_MODELS)
    # At most one open loan per copy, whatever the code above it does.
    database.execute_sql(
        "CREATE UNIQUE INDEX IF NOT EXISTS loan_one_open_per_copy ON loan (copy_id) WHERE returned_at IS NULL"
    )
    database.execute_sql(
        "CREATE INDEX IF NOT EXISTS loan_open_by_patron ON loan (patron_id) WHERE returned_at IS NULL"
    )


def _workflows(database: Database) -> None:
    from .models import WORKFLOW_MODELS

    database.create_tables(WORKFLOW_MODELS)
    # A copy is in at most one batch that has not come back yet.
    database.execute_sql(
        "CREATE UNIQUE INDEX IF NOT EXISTS rotation_item_one_out_per_copy ON rotation_item (copy_id) "
        "WHERE returned_at IS NULL"
    )


def _title_lookup(database: Database) -> None:
    # A catalogue row without an ISBN finds its title by title + author (ledger.find_title):
    # without this index every such row scanned the whole title table (quadratic imports).
    database.execute_sql("CREATE INDEX IF NOT EXISTS title_by_name ON title (title, author)")


def _patron_gender(database: Database) -> None:
    # Optional, for addressing a teacher as thầy or cô; 0001 on a fresh database already has it.
    if "gender" not in {column.name for column in database.get_columns("patron")}:
        database.execute_sql("ALTER TABLE patron ADD COLUMN gender VARCHAR(255) NOT NULL DEFAULT '' "
                             "CHECK (gender IN ('','male','female'))")


def _loan_notes(database: Database) -> None:
    from .models import LoanNote

    database.create_tables([LoanNote])  # IF NOT EXISTS: 0001 on a fresh database already made it


def _holds(database: Database) -> None:
    from .models import Hold

    database.create_tables([Hold])


KIOSK = Component("kiosk", [
    ("0001_initial", _kiosk_v1),
    ("0002_workflows", _workflows),
    ("0003_title_lookup", _title_lookup),
    ("0004_patron_gender", _patron_gender),
    ("0005_loan_notes", _loan_notes),
    ("0006_holds", _holds),
])
