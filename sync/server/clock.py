"""The server app's clock (its ``CLOCK`` setting), for the views: kept out of ``app.py`` so the views
need not import the factory that imports them."""

from __future__ import annotations

from datetime import datetime

from flask import current_app

from kiosk.clock import as_stored


def now() -> datetime:
    """Server time as naive UTC, the way it is stored."""
    return as_stored(current_app.config["CLOCK"]())


def now_unix() -> float:
    return current_app.config["CLOCK"]().timestamp()
