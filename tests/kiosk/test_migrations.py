"""Schema versions: fresh databases migrate, re-runs are no-ops, old ones upgrade keeping their data,
and the kiosk refuses to start on an unmigrated or newer database with a clear message."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from kiosk.db import db, init_database
from kiosk.migrations import KIOSK, Component, SchemaNotMigrated, SchemaTooNew, check_schema, migrate
from kiosk.store import database_path, open_store
from tests.conftest import free_port, muontra, patron_fact


def applied(path: Path) -> list[str]:
    connection = sqlite3.connect(path)
    try:
        return [row[0] for row in connection.execute(
            "SELECT name FROM schema_migration WHERE component = 'kiosk' ORDER BY name")]
    finally:
        connection.close()


def backups(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.before-migrate-*"))


def test_a_fresh_database_gets_every_migration_and_the_invariant_indexes(tmp_path):
    database = open_store(tmp_path / "data", upgrade=True)
    names = {row[0] for row in database.execute_sql("SELECT name FROM sqlite_master")}
    db.close()
    assert applied(database_path(tmp_path / "data")) == sorted(name for name, _ in KIOSK.migrations)
    assert {"patron", "title", "copy", "loan", "event", "schema_migration", "loan_one_open_per_copy"} <= names
    assert backups(tmp_path / "data") == []


def test_migrating_again_is_a_no_op(data_dir):
    database = init_database(database_path(data_dir))
    database.connect()
    schema = database.execute_sql("SELECT sql FROM sqlite_master ORDER BY name").fetchall()
    assert migrate(database, KIOSK) == []
    assert database.execute_sql("SELECT sql FROM sqlite_master ORDER BY name").fetchall() == schema
    check_schema(database, KIOSK)
    database.close()
    assert backups(data_dir) == []


def test_check_schema_names_the_command_to_run(tmp_path):
    database = init_database(tmp_path / "empty.sqlite3")
    database.connect()
    with pytest.raises(SchemaNotMigrated) as refused:
        check_schema(database, KIOSK, data="/srv/thu-vien")
    assert "muontra migrate --data /srv/thu-vien" in refused.value.message_in("en")
    assert "muontra migrate --data /srv/thu-vien" in refused.value.message_in("vi")
    database.close()


def test_an_old_database_upgrades_keeping_its_data_and_a_backup(tmp_path):
    """Built at the previous schema version, upgraded by the real `muontra migrate`."""
    assert KIOSK.latest >= 2, "needs a previous version to start from"
    data = tmp_path / "data"
    data.mkdir()
    old = init_database(database_path(data))
    old.connect()
    migrate(old, Component("kiosk", KIOSK.migrations[:-1]))
    old.execute_sql("INSERT INTO patron (code, name, class, kind, school_year, active)"
                    " VALUES ('HS001', 'Nguyễn Văn An', '6A1', 'student', '2025-2026', 1)")
    old.close()

    result = muontra("--lang", "en", "kiosk", "--data", str(data), "--port", str(free_port()), timeout=60)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "muontra migrate" in result.stderr

    result = muontra("migrate", "--data", str(data))
    assert result.returncode == 0, result.stderr
    assert applied(database_path(data)) == sorted(name for name, _ in KIOSK.migrations)
    connection = sqlite3.connect(database_path(data))
    assert connection.execute("SELECT name FROM patron WHERE code = 'HS001'").fetchone() == ("Nguyễn Văn An",)
    connection.close()
    [backup] = backups(data)
    saved = sqlite3.connect(backup)
    assert saved.execute("SELECT code FROM patron").fetchall() == [("HS001",)]
    assert len(saved.execute("SELECT name FROM schema_migration").fetchall()) == KIOSK.latest - 1
    saved.close()


@pytest.mark.parametrize(("lang", "words"), [("vi", "muontra migrate"), ("en", "Run: muontra migrate")])
def test_the_kiosk_refuses_an_unmigrated_database(tmp_path, lang, words):
    result = muontra("--lang", lang, "kiosk", "--data", str(tmp_path / "new"), "--port", str(free_port()),
                     timeout=60)
    assert result.returncode == 1
    assert words in result.stderr
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout


def test_the_kiosk_refuses_a_newer_database(data_dir):
    connection = sqlite3.connect(database_path(data_dir))
    connection.execute("INSERT INTO schema_migration VALUES ('kiosk', '9999_from_the_future', '2030-01-01')")
    connection.commit()
    connection.close()
    result = muontra("--lang", "en", "kiosk", "--data", str(data_dir), "--port", str(free_port()), timeout=60)
    assert result.returncode == 1
    assert "only knows up to" in result.stderr and "newer" in result.stderr
    assert "Traceback" not in result.stderr
    # …and migrate refuses it too, without touching it.
    result = muontra("migrate", "--data", str(data_dir))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert backups(data_dir) == []
    database = init_database(database_path(data_dir))
    database.connect()
    with pytest.raises(SchemaTooNew):
        check_schema(database, KIOSK)
    database.close()


def test_the_app_refuses_an_unmigrated_database_unless_asked_to_upgrade(tmp_path):
    from kiosk.app import create_app

    with pytest.raises(SchemaNotMigrated):
        create_app({"DATA_DIR": str(tmp_path / "fresh"), "TESTING": True})
    app = create_app({"DATA_DIR": str(tmp_path / "fresh"), "TESTING": True, "AUTO_MIGRATE": True})
    assert app.test_client().get("/healthz").get_json()["schema"] == KIOSK.latest


def test_migrate_creates_a_data_directory_from_nothing(tmp_path):
    result = muontra("migrate", "--data", str(tmp_path / "brand-new"))
    assert result.returncode == 0, result.stderr
    assert applied(database_path(tmp_path / "brand-new")) == sorted(name for name, _ in KIOSK.migrations)


def test_facts_recorded_before_an_upgrade_still_replay_after_it(tmp_path):
    """The outbox written at the previous version is still understood by this one."""
    from kiosk import ledger
    from kiosk.models import Patron
    from kiosk.services import Circulation

    data = tmp_path / "data"
    data.mkdir()
    old = init_database(database_path(data))
    old.connect()
    migrate(old, Component("kiosk", KIOSK.migrations[:-1]))
    Circulation("old-kiosk").record_facts([patron_fact("HS001", "Nguyễn Văn An")])
    migrate(old, KIOSK)
    events = list(db.execute_sql("SELECT type, payload FROM event"))
    assert [kind for kind, _ in events] == ["patron.upsert"]
    Patron.delete().execute()
    import json

    ledger.apply(events[0][0], json.loads(events[0][1]))
    assert Patron.get(Patron.code == "HS001").name == "Nguyễn Văn An"
    old.close()
