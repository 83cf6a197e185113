"""The data directory: where a kiosk keeps its SQLite file and local secrets."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from peewee import Database

from .db import init_database
from .ledger import get_setting, put_setting
from .migrations import KIOSK, check_schema, migrate

DB_FILENAME = "muontra.sqlite3"
DEFAULT_DATA_DIR = "data"


def data_dir(path: str | os.PathLike[str] | None = None) -> Path:
    return Path(path or os.environ.get("MUONTRA_DATA") or DEFAULT_DATA_DIR)


def database_path(directory: Path) -> Path:
    return directory / DB_FILENAME


def open_store(directory: str | os.PathLike[str] | None, *, upgrade: bool = False) -> Database:
    """Bind the database of a data directory; create or upgrade it only when asked."""
    directory = data_dir(directory)
    directory.mkdir(parents=True, exist_ok=True)
    database = init_database(database_path(directory))
    database.connect(reuse_if_open=True)
    if upgrade:
        migrate(database, KIOSK)
        ensure_device_identity()
    else:
        check_schema(database, KIOSK, data=str(directory))
    return database


def ensure_device_identity() -> str:
    """Give this kiosk a stable id (for its events) and a secret for its sessions."""
    device = get_setting("device_id")
    if device is None:
        device = "kiosk-" + secrets.token_hex(4)
        put_setting("device_id", device)
    if get_setting("secret_key") is None:
        put_setting("secret_key", secrets.token_hex(32))
    return device
