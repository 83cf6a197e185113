"""The homeroom teacher's read-only class page on the school server.

The librarian makes a revocable link on any kiosk (Báo cáo → class links); the link is a shared
setting, so it syncs here and the teacher can open it on the school network without a PIN. It
shows one class only, never another class or the students' card codes.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, render_template
from flask.typing import ResponseReturnValue

from kiosk.clock import DEFAULT_TIMEZONE
from kiosk.reports import class_links, overdue, stats
from kiosk.reports.common import school_year_of

bp = Blueprint("server_class", __name__, url_prefix="/class")


@bp.get("/<token>")
def class_page(token: str) -> ResponseReturnValue:
    class_name = class_links.class_of(token)
    timezone = ZoneInfo(current_app.config.get("TIMEZONE", DEFAULT_TIMEZONE))
    today = current_app.config["CLOCK"]().astimezone(timezone).date()
    year = stats.period_from(school_year_of(today))
    return render_template(
        "server/class.html", class_name=class_name, today=today, year=year,
        late=overdue.overdue_loans(class_name, today, timezone),
        readers=class_links.reading_counts(class_name, year, today, timezone),
    )
