"""The central server's Flask app: the sync API for kiosks and pages for the librarian."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from flask import Flask
from jinja2 import ChoiceLoader, FileSystemLoader

from kiosk.ledger import get_setting
from kiosk.webkit import csrf, init_web

from ..protocol import MAX_BODY_BYTES
from .store import master_key, open_server_store

TEMPLATES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "templates")
KIOSK_TEMPLATES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                               "kiosk", "templates")


def utc_now() -> datetime:
    return datetime.now(UTC)


DEFAULTS: Mapping[str, Any] = {
    "CLOCK": utc_now,
    "AUTO_MIGRATE": False,
    "MAX_CONTENT_LENGTH": MAX_BODY_BYTES,
    "API_MAX_JSON_BYTES": 16 * 1024,
    "ADMIN_SESSION_MINUTES": 30,
    "PIN_MAX_ATTEMPTS": 5,
    "PIN_LOCKOUT_MINUTES": 5,
    "DB": None,
    # SQLite: how long a request waits for another writer before answering 503 (busy) instead.
    "SQLITE_BUSY_TIMEOUT_MS": 10_000,
}


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    app = Flask(__name__, template_folder=TEMPLATES)
    app.jinja_loader = ChoiceLoader([FileSystemLoader(TEMPLATES), FileSystemLoader(KIOSK_TEMPLATES)])
    app.config.from_mapping(DEFAULTS)
    app.config.from_prefixed_env("MUONTRA")
    if config:
        app.config.from_mapping(config)
    data = app.config.get("DATA_DIR") or os.environ.get("MUONTRA_DATA") or "data"
    app.config["DATA_DIR"] = str(data)
    database = open_server_store(data, app.config["DB"], upgrade=app.config["AUTO_MIGRATE"],
                                 busy_timeout_ms=int(app.config["SQLITE_BUSY_TIMEOUT_MS"]))
    if not app.config.get("SECRET_KEY"):  # Flask's defaults hold None, so setdefault would not fill it
        app.config["SECRET_KEY"] = get_setting("secret_key")
    database.close()
    app.extensions["server_db"] = database
    app.extensions["master_key"] = app.config.get("MASTER_KEY") or master_key(data)

    init_web(app, database, login_endpoint="server_admin.login")

    from . import views_admin, views_class, views_sync

    app.register_blueprint(views_sync.bp)
    csrf.exempt(views_sync.bp)
    app.register_blueprint(views_admin.bp)
    app.register_blueprint(views_class.bp)
    return app


def now() -> datetime:
    """Server time as naive UTC, the way it is stored."""
    from flask import current_app

    return current_app.config["CLOCK"]().astimezone(UTC).replace(tzinfo=None)


def now_unix() -> float:
    from flask import current_app

    return current_app.config["CLOCK"]().timestamp()
