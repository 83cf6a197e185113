"""The kiosk web app factory."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask, g, request, session
from flask_babel import Babel
from flask_wtf.csrf import CSRFProtect
from peewee import Database

from . import settings
from .i18n import DEFAULT_LANGUAGE, LANGUAGES, TRANSLATIONS_DIR
from .ledger import get_setting
from .store import open_kiosk

STATIC_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "static")

csrf = CSRFProtect()
babel = Babel()


def select_language() -> str:
    wanted = request.args.get("lang") or session.get("lang")
    if wanted in LANGUAGES:
        return wanted
    return DEFAULT_LANGUAGE


def init_web(app: Flask, database: Database) -> None:
    """What every Mượn Trả web app shares: languages, CSRF, a connection per request."""
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(TRANSLATIONS_DIR)
    app.config["BABEL_DEFAULT_LOCALE"] = DEFAULT_LANGUAGE
    babel.init_app(app, locale_selector=select_language)

    @app.before_request
    def _upload_limit() -> None:
        # Before CSRFProtect reads the form: only the import page takes large files.
        if request.endpoint == "admin.check_import" and "IMPORT_MAX_CONTENT_LENGTH" in app.config:
            request.max_content_length = app.config["IMPORT_MAX_CONTENT_LENGTH"]

    csrf.init_app(app)

    @app.before_request
    def _connect() -> None:
        database.connect(reuse_if_open=True)
        g.lang = select_language()

    @app.teardown_request
    def _close(_exc: BaseException | None) -> None:
        if not database.is_closed():
            database.close()


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    app = Flask(__name__, static_folder=STATIC_DIR, static_url_path="/static")
    app.config.from_mapping(settings.resolve("kiosk", config))  # kiosk/settings.py, docs/configuration.md
    opened = open_kiosk(upgrade=app.config["AUTO_MIGRATE"], config=app.config)
    app.config["DATA_DIR"] = str(opened.directory)
    # Flask's own defaults hold SECRET_KEY = None, so setdefault would never fill it.
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = get_setting("secret_key")
    opened.database.close()
    app.extensions["circulation"] = opened.circulation
    init_web(app, opened.database)

    from sync import kiosk_panel

    from .web import admin, api, errors, pages
    from .web import receipt as receipt_api
    from .web import tls as tls_pages

    errors.register(app)
    app.register_blueprint(api.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(admin.bp)
    tls_pages.init_app(app)
    app.register_blueprint(receipt_api.bp)
    csrf.exempt(receipt_api.bp)
    from .web import holds as hold_views  # reservations: the card holder's API and the librarian's page

    app.register_blueprint(hold_views.api)
    csrf.exempt(hold_views.api)
    app.register_blueprint(hold_views.pages)
    kiosk_panel.init_app(app)  # sync panel on the admin page + background sync
    csrf.exempt(api.bp)
    from .web import workflows as staff_pages  # helper mode, rotation, stock-take, intake
    app.register_blueprint(staff_pages.bp)
    from .web import reports as report_pages  # overdue lists, statistics, registers, labels, cards
    app.register_blueprint(report_pages.bp)
    app.register_blueprint(report_pages.teacher_bp)
    from .camera import init_camera
    from .web import camera as camera_pages  # scan events, live preview, tablet frames

    init_camera(app)
    app.register_blueprint(camera_pages.bp)
    csrf.exempt(camera_pages.bp)
    return app

