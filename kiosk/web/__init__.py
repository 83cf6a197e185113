"""Views: parse the request, call a service, render.

:func:`circulation` is the one way a view (here or in ``sync.kiosk_panel``) reaches the
circulation service the app factory built for this data directory.
"""

from __future__ import annotations

from flask import current_app

from ..services import Circulation


def circulation() -> Circulation:
    """The app's circulation service (device, clock, time zone, scanner affixes)."""
    return current_app.extensions["circulation"]
