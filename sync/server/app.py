"""The central server's Flask app: the sync API for kiosks and pages for the librarian."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask
from jinja2 import ChoiceLoader, FileSystemLoader

from kiosk import settings
from kiosk.webkit import csrf, init_web

from .store import master_key, open_server_store, session_key

TEMPLATES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "templates")
KIOSK_TEMPLATES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                               "kiosk", "templates")


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    app = Flask(__name__, template_folder=TEMPLATES)
    app.jinja_loader = ChoiceLoader([FileSystemLoader(TEMPLATES), FileSystemLoader(KIOSK_TEMPLATES)])
    app.config.from_mapping(settings.resolve("server", config))  # kiosk/settings.py, docs/configuration.md
    data = app.config["DATA_DIR"] = str(app.config["DATA_DIR"])
    database = open_server_store(data, app.config["DB"], upgrade=app.config["AUTO_MIGRATE"],
                                 busy_timeout_ms=int(app.config["SQLITE_BUSY_TIMEOUT_MS"]))
    database.close()
    app.extensions["server_db"] = database
    key = app.config["MASTER_KEY"] or master_key(data)
    app.extensions["master_key"] = key.encode() if isinstance(key, str) else key
    if not app.config.get("SECRET_KEY"):  # Flask's defaults hold None, so setdefault would not fill it
        app.config["SECRET_KEY"] = session_key(app.extensions["master_key"])

    init_web(app, database, login_endpoint="server_admin.login")

    from . import views_admin, views_class, views_sync

    app.register_blueprint(views_sync.bp)
    csrf.exempt(views_sync.bp)
    app.register_blueprint(views_admin.bp)
    app.register_blueprint(views_class.bp)
    return app

