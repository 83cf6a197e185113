"""Backups and restore, for real: a running kiosk with loans is backed up, changed, and restored."""

from __future__ import annotations

import hashlib
import sqlite3
import stat
from pathlib import Path

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.backup import BackupDamaged, back_up, inspect, restore
from kiosk.db import db
from kiosk.migrations import SchemaTooNew
from kiosk.store import database_path
from tests.conftest import KioskProcess, copy_fact, muontra, patron_fact


def _load_school(data: Path) -> None:
    from kiosk.app import create_app

    app = create_app({"DATA_DIR": str(data), "TESTING": True})
    db.connect(reuse_if_open=True)
    app.extensions["circulation"].record_facts([
        patron_fact("HS001", "Nguyễn Văn An"), patron_fact("HS002", "Trần Thị Bình"),
        copy_fact("TN-0001", "Dế Mèn phiêu lưu ký"), copy_fact("TN-0002", "Đất rừng phương Nam"),
        copy_fact("TN-0003", "Tuổi thơ dữ dội"),
    ])
    db.close()


def _checkout(kiosk: KioskProcess, patron: str, item: str) -> None:
    answer = requests.post(kiosk.url + "/api/checkout", json={"patron": patron, "item": item}, timeout=10)
    assert answer.status_code == 200, answer.text


def _checkin(kiosk: KioskProcess, item: str) -> str:
    answer = requests.post(kiosk.url + "/api/checkin", json={"item": item}, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()["checkin"]["outcome"]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.slow
def test_a_kiosk_backed_up_while_lending_gets_its_loans_back(data_dir: Path, tmp_path: Path):
    _load_school(data_dir)
    stick = tmp_path / "stick"
    (stick / "muontra-backup").mkdir(parents=True)
    kiosk = KioskProcess(data_dir).start()
    try:
        _checkout(kiosk, "HS001", "TN-0001")
        _checkout(kiosk, "HS002", "TN-0002")
        made = muontra("--lang", "en", "backup", "--data", str(data_dir), env_extra={"MUONTRA_BACKUP_MOUNTS": str(stick)})
        assert made.returncode == 0, made.stderr
        (backup,) = (data_dir / "backups").glob("kiosk-*.sqlite3")
        assert f"Backup checked and saved: {backup}" in made.stdout
        assert stat.S_IMODE(backup.stat().st_mode) == 0o600
        assert stat.S_IMODE((data_dir / "backups").stat().st_mode) == 0o700
        (on_stick,) = (stick / "muontra-backup").glob("*/kiosk-*.sqlite3")
        assert _digest(on_stick) == _digest(backup)

        # After the backup: one book comes back, another goes out.
        assert _checkin(kiosk, "TN-0001") == "returned"
        _checkout(kiosk, "HS001", "TN-0003")
    finally:
        kiosk.stop()

    refused = muontra("--lang", "en", "restore", str(backup), "--data", str(data_dir), input="n\n")
    assert refused.returncode == 1 and "Nothing changed." in refused.stdout
    assert "2 open loans" in refused.stdout  # what the backup holds, shown before anything changes
    restored = muontra("--lang", "en", "restore", str(backup), "--data", str(data_dir), "--yes")
    assert restored.returncode == 0, restored.stderr
    (aside,) = data_dir.glob("muontra.sqlite3.before-restore-*")
    assert stat.S_IMODE(aside.stat().st_mode) == 0o600
    assert stat.S_IMODE(database_path(data_dir).stat().st_mode) == 0o600
    assert inspect(aside).counts["loan"] == 2  # the replaced database, whole (TN-0002 and TN-0003)

    kiosk = KioskProcess(data_dir).start()
    try:
        assert _checkin(kiosk, "TN-0001") == "returned"  # on loan again, as at the backup
        assert _checkin(kiosk, "TN-0003") == "not_on_loan"  # lent after the backup: not in it
        assert _checkin(kiosk, "TN-0002") == "returned"
    finally:
        kiosk.stop()


def _future(backup: Path, tmp_path: Path) -> Path:
    newer = tmp_path / "newer.sqlite3"
    newer.write_bytes(backup.read_bytes())
    with sqlite3.connect(newer) as connection:
        connection.execute("INSERT INTO schema_migration VALUES ('kiosk', '9999_from_the_future', 'x')")
    connection.close()
    return newer


def test_a_backup_from_a_newer_version_is_refused_and_nothing_changes(data_dir: Path, tmp_path: Path):
    _load_school(data_dir)
    backup = back_up(data_dir).files[0]
    newer = _future(backup, tmp_path)
    before = _digest(database_path(data_dir))
    with pytest.raises(SchemaTooNew):
        restore(newer, data_dir)
    answer = muontra("--lang", "en", "restore", str(newer), "--data", str(data_dir), "--yes")
    assert answer.returncode == 1 and "only knows up to" in answer.stderr
    assert _digest(database_path(data_dir)) == before
    assert not list(data_dir.glob("*.before-restore-*"))


def test_backups_are_rotated(data_dir: Path):
    from datetime import UTC, datetime, timedelta

    start = datetime(2026, 3, 1, tzinfo=UTC)
    for day in range(4):
        back_up(data_dir, keep=2, usb_roots=[], now=start + timedelta(days=day))
    kept = sorted(p.name for p in (data_dir / "backups").glob("kiosk-*"))
    assert kept == ["kiosk-20260303T000000000000Z.sqlite3", "kiosk-20260304T000000000000Z.sqlite3"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.integers(min_value=0, max_value=40_000), junk=st.binary(max_size=64))
def test_a_damaged_backup_is_refused_and_nothing_changes(data_dir: Path, tmp_path: Path, cut: int, junk: bytes):
    source = back_up(data_dir, usb_roots=[]).files[0] if not (tmp_path / "good.sqlite3").exists() else None
    good = tmp_path / "good.sqlite3"
    if source is not None:
        source.rename(good)
    raw = good.read_bytes()
    damaged = tmp_path / "damaged.sqlite3"
    damaged.write_bytes(raw[:cut] + junk + raw[cut + len(junk):] if cut < len(raw) else raw[:cut % max(1, len(raw))])
    before = _digest(database_path(data_dir))
    asides = set(data_dir.glob("*.before-restore-*"))
    try:
        restore(damaged, data_dir)
    except (BackupDamaged, SchemaTooNew):
        assert _digest(database_path(data_dir)) == before
        assert set(data_dir.glob("*.before-restore-*")) == asides
    else:  # the change fell where SQLite doesn't look (free space): then it is a sound database
        assert inspect(database_path(data_dir)).migrations
