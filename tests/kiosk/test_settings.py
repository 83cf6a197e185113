"""One settings registry (kiosk/settings.py) behind both app factories and every command."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from kiosk import settings
from kiosk.store import database_path
from sync.protocol import MAX_BODY_BYTES
from tests.conftest import subprocess_env

ROOT = Path(__file__).resolve().parents[2]
# Flask's and Flask-Babel's own keys, set by the factories or by tests, not ours to document.
FLASK_KEYS = {"TESTING", "DEBUG", "BABEL_DEFAULT_LOCALE", "BABEL_TRANSLATION_DIRECTORIES", "WTF_CSRF_ENABLED",
              "SESSION_COOKIE_SAMESITE", "SESSION_COOKIE_SECURE"}


@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "Etc/GMT+12"])
def test_every_command_honours_the_time_zone(school, data_dir, zone):
    """`muontra intake` dates new copies in MUONTRA_TIMEZONE. The two zones are 26 hours apart, so
    at any moment one of them is on another day than Vietnam's default: a command ignoring the
    setting fails one of the two cases."""
    from kiosk.db import db

    db.close()
    before = datetime.now(ZoneInfo(zone)).date()
    done = subprocess.run([sys.executable, "-m", "kiosk", "intake", "--data", str(data_dir), "--title", "Hoàng tử bé",
                           "--prefix", "TN", "--count", "1"], env=subprocess_env(MUONTRA_TIMEZONE=zone),
                          capture_output=True, text=True, timeout=120)
    after = datetime.now(ZoneInfo(zone)).date()
    assert done.returncode == 0, done.stderr
    code = done.stdout.split(":")[1].split()[0]
    with sqlite3.connect(database_path(data_dir)) as connection:
        (added,) = connection.execute("SELECT added_on FROM copy WHERE code = ?", (code,)).fetchone()
    assert added in (before.isoformat(), after.isoformat())


def test_the_environment_sets_each_type_and_a_bad_value_is_refused_with_its_reason():
    values = settings.resolve("kiosk", environ={
        "MUONTRA_IDLE_SECONDS": "90", "MUONTRA_CAMERA_MIRROR": "yes", "MUONTRA_SCANNER_PREFIXES": '["]C0", "~"]',
        "MUONTRA_SCANNER_SUFFIXES": "#, !", "MUONTRA_TIMEZONE": "Asia/Bangkok", "MUONTRA_DATA": "/tmp/x"})
    assert (values["IDLE_SECONDS"], values["CAMERA_MIRROR"], values["SCANNER_PREFIXES"], values["SCANNER_SUFFIXES"],
            values["TIMEZONE"], values["DATA_DIR"]) == (90, True, ("]C0", "~"), ("#", "!"), "Asia/Bangkok", "/tmp/x")
    assert settings.resolve("server", environ={})["ADMIN_SESSION_MINUTES"] == 30
    assert settings.resolve("kiosk", {"IDLE_SECONDS": 5}, environ={"MUONTRA_IDLE_SECONDS": "90"})["IDLE_SECONDS"] == 5
    assert "DB" not in settings.resolve("kiosk", environ={}) and "CAMERA" not in settings.resolve("server", environ={})
    for name, raw in (("MUONTRA_IDLE_SECONDS", "soon"), ("MUONTRA_TIMEZONE", "Mars/Olympus"),
                      ("MUONTRA_AUTO_MIGRATE", "maybe"), ("MUONTRA_SCANNER_PREFIXES", "[1, 2]")):
        with pytest.raises(settings.BadSetting) as refused:
            settings.resolve("kiosk", environ={name: raw})
        assert name in refused.value.message_in("en") and raw in refused.value.message_in("en")


def test_a_bad_setting_stops_a_command_with_a_sentence_not_a_traceback(data_dir):
    done = subprocess.run([sys.executable, "-m", "kiosk", "--lang", "en", "rotation", "list", "--data", str(data_dir)],
                          env=subprocess_env(MUONTRA_TIMEZONE="Mars/Olympus"), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "MUONTRA_TIMEZONE" in done.stderr and "Mars/Olympus" in done.stderr


def _config_keys_read() -> set[str]:
    """Every app.config key the code reads (config["X"], config.get("X"…), number("X"…))."""
    pattern = re.compile(r"""config(?:\[|\.get\(|\.setdefault\()\s*["']([A-Z][A-Z0-9_]+)["']|number\(\s*["']([A-Z][A-Z0-9_]+)["']""")
    keys: set[str] = set()
    for package in ("kiosk", "sync", "scanner"):
        for path in (ROOT / package).rglob("*.py"):
            for match in pattern.finditer(path.read_text(encoding="utf-8")):
                keys.add(match.group(1) or match.group(2))
    return keys


def test_every_setting_the_code_reads_is_registered():
    read = _config_keys_read()
    assert {"TIMEZONE", "CAMERA_WIDTH", "SYNC_MAX_BACKOFF"} <= read
    assert sorted(read - set(settings.BY_NAME) - FLASK_KEYS) == []


def test_the_server_accepts_a_whole_sync_push():
    assert settings.resolve("server", environ={})["MAX_CONTENT_LENGTH"] >= MAX_BODY_BYTES
