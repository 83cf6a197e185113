"""The kiosk web app factory."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask

from . import settings
from .ledger import get_setting
from .store import open_kiosk
from .throttle import DistinctLimiter, FailureLimiter
from .webkit import csrf, init_web

STATIC_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "static")


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
    init_web(app, opened.database, login_endpoint="admin.login")
    # The public screen's limits (kiosk/throttle.py): different cards a minute, wrong cards per 10 minutes.
    app.extensions["card_limiter"] = DistinctLimiter(int(app.config["CARD_LOOKUPS_PER_MINUTE"]),
                                                     int(app.config["CARD_LOOKUPS_PER_MINUTE_ALL"]))
    app.extensions["renew_failures"] = FailureLimiter(int(app.config["RENEW_WRONG_CARD_LIMIT"]), 600.0)
    app.extensions["helper_failures"] = FailureLimiter(int(app.config["HELPER_WRONG_CARD_LIMIT"]), 600.0)

    from sync import kiosk_panel

    from .web import admin, api, pages
    from .web import receipt as receipt_api
    from .web import tls as tls_pages

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
