"""Schema versions and the runner that brings a database up to date.

A kiosk in the field upgrades with ``muontra migrate``; ``muontra kiosk`` refuses
to start on a database that is older (unmigrated) or newer than this code.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from peewee import Database, SqliteDatabase

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
    """A set of tables with its own version line (the kiosk, later the sync server)."""

    name: str
    migrations: Sequence[Migration]

    @property
    def latest(self) -> int:
        return len(self.migrations)


def _ensure_version_table(database: Database) -> None:
    database.execute_sql(
        "CREATE TABLE IF NOT EXISTS schema_version (component VARCHAR(64) PRIMARY KEY, version INTEGER NOT NULL)"
    )


def current_version(database: Database, component: Component) -> int:
    _ensure_version_table(database)
    p = database.param
    row = database.execute_sql(
        f"SELECT version FROM schema_version WHERE component = {p}", (component.name,)
    ).fetchone()
    return row[0] if row else 0


def check_schema(database: Database, component: Component, data: str = "DIR") -> None:
    found = current_version(database, component)
    if found > component.latest:
        raise SchemaTooNew(found=found, known=component.latest)
    if found < component.latest:
        raise SchemaNotMigrated(found=found, known=component.latest, data=data)


def backup_sqlite(database: SqliteDatabase) -> Path | None:
    """Copy the database file aside before changing its schema (online backup API)."""
    path = Path(database.database)
    if not path.exists() or path.stat().st_size == 0:
        return None
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = path.with_name(f"{path.stem}.before-migrate-{stamp}{path.suffix}")
    database.backup_to_file(str(target))
    return target


def migrate(database: Database, component: Component) -> list[int]:
    """Apply every pending migration, each in its own transaction; returns the versions applied."""
    found = current_version(database, component)
    if found > component.latest:
        raise SchemaTooNew(found=found, known=component.latest)
    if found == component.latest:
        return []
    if found > 0 and isinstance(database, SqliteDatabase):
        backup_sqlite(database)
    applied = []
    p = database.param
    for version in range(found + 1, component.latest + 1):
        with database.atomic():
            component.migrations[version - 1](database)
            if version == 1:
                database.execute_sql(
                    f"INSERT INTO schema_version (component, version) VALUES ({p}, {p})",
                    (component.name, version),
                )
            else:
                database.execute_sql(
                    f"UPDATE schema_version SET version = {p} WHERE component = {p}",
                    (version, component.name),
                )
        applied.append(version)
    return applied


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


KIOSK = Component("kiosk", [_kiosk_v1])
