"""The kiosk web app factory."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask

from .ledger import get_setting
from .services import Circulation, utc_now
from .store import data_dir, open_store
from .throttle import DistinctLimiter, FailureLimiter
from .webkit import csrf, init_web

STATIC_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "static")

DEFAULTS: Mapping[str, Any] = {
    "IDLE_SECONDS": 60,
    "DOUBLE_SCAN_SECONDS": 2,
    "RECEIPT_SECONDS": 20,
    "SCAN_KEY_GAP_MS": 50,
    "SCAN_PAUSE_MS": 100,
    "SCHOOL_NAME": "",
    "ADMIN_SESSION_MINUTES": 15,
    "PIN_MAX_ATTEMPTS": 5,
    "PIN_LOCKOUT_MINUTES": 5,
    "MAX_CONTENT_LENGTH": 2 * 1024 * 1024,
    "API_MAX_JSON_BYTES": 16 * 1024,
    "SCANNER_PREFIXES": (),
    "SCANNER_SUFFIXES": (),
    "TIMEZONE": "Asia/Ho_Chi_Minh",
    "CLOCK": utc_now,
    "AUTO_MIGRATE": False,
    # The public screen (kiosk/throttle.py): different cards named per minute, per client and in all;
    # wrong cards at renewal and codes that are not a helper's, per client per 10 minutes.
    "CARD_LOOKUPS_PER_MINUTE": 10,
    "CARD_LOOKUPS_PER_MINUTE_ALL": 60,
    "RENEW_WRONG_CARD_LIMIT": 3,
    "HELPER_WRONG_CARD_LIMIT": 5,
}

def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    app = Flask(__name__, static_folder=STATIC_DIR, static_url_path="/static")
    app.config.from_mapping(DEFAULTS)
    app.config.from_prefixed_env("MUONTRA")
    if config:
        app.config.from_mapping(config)
    directory = data_dir(app.config.get("DATA_DIR"))
    app.config["DATA_DIR"] = str(directory)

    database = open_store(directory, upgrade=app.config["AUTO_MIGRATE"])
    # Flask's own defaults hold SECRET_KEY = None, so setdefault would never fill it.
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = get_setting("secret_key")
    device = get_setting("device_id")
    database.close()

    from zoneinfo import ZoneInfo

    app.extensions["circulation"] = Circulation(
        device=device,
        clock=app.config["CLOCK"],
        timezone=ZoneInfo(app.config["TIMEZONE"]),
        scanner_prefixes=tuple(app.config["SCANNER_PREFIXES"]),
        scanner_suffixes=tuple(app.config["SCANNER_SUFFIXES"]),
    )
    init_web(app, database, login_endpoint="admin.login")
    app.extensions["card_limiter"] = DistinctLimiter(int(app.config["CARD_LOOKUPS_PER_MINUTE"]),
                                                     int(app.config["CARD_LOOKUPS_PER_MINUTE_ALL"]))
    app.extensions["renew_failures"] = FailureLimiter(int(app.config["RENEW_WRONG_CARD_LIMIT"]), 600.0)
    app.extensions["helper_failures"] = FailureLimiter(int(app.config["HELPER_WRONG_CARD_LIMIT"]), 600.0)

    from sync import kiosk_panel

    from .web import admin, api, pages

    app.register_blueprint(api.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(admin.bp)
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


def circulation() -> Circulation:
    from flask import current_app

    return current_app.extensions["circulation"]
