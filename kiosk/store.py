"""The data directory: where a kiosk keeps its SQLite file and local secrets."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from peewee import Database

from . import settings
from .db import init_database
from .ledger import get_setting, put_setting
from .migrations import KIOSK, check_schema, migrate
from .services import Circulation

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


@dataclass(frozen=True)
class OpenKiosk:
    database: Database
    circulation: Circulation
    directory: Path


def open_kiosk(data: str | os.PathLike[str] | None = None, *, upgrade: bool = False,
               config: Mapping[str, Any] | None = None) -> OpenKiosk:
    """Open a data directory as a circulation service: the one way the app factory and every command do.

    ``config``: the settings already resolved (the app's config); by default
    ``settings.resolve("kiosk")``, so every ``MUONTRA_*`` setting (time zone, scanner affixes…)
    holds for commands exactly as for the kiosk app.
    """
    values = settings.resolve("kiosk") if config is None else config
    directory = data_dir(data or values.get("DATA_DIR"))
    database = open_store(directory, upgrade=upgrade)
    circulation = Circulation(
        device=get_setting("device_id"),
        clock=values["CLOCK"],
        timezone=ZoneInfo(values["TIMEZONE"]),
        scanner_prefixes=tuple(values["SCANNER_PREFIXES"]),
        scanner_suffixes=tuple(values["SCANNER_SUFFIXES"]),
    )
    return OpenKiosk(database, circulation, directory)


def ensure_device_identity() -> str:
    """Give this kiosk a stable id (for its events) and a secret for its sessions."""
    device = get_setting("device_id")
    if device is None:
        device = "kiosk-" + secrets.token_hex(4)
        put_setting("device_id", device)
    if get_setting("secret_key") is None:
        put_setting("secret_key", secrets.token_hex(32))
    return device
