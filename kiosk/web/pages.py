"""The public kiosk screens: idle, borrow, return (one page; the views switch in the browser).

Everything a student sees goes through the JSON API; this module only renders
the page and hands the script its settings and translated words.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from peewee import PeeweeException

from .. import stored_settings
from ..admin_auth import end_session
from ..i18n import DEFAULT_LANGUAGE, LANGUAGES, translate
from ..webkit import current_session_id, safe_next

bp = Blueprint("pages", __name__)

VIEWS = ("idle", "borrow", "return")


@bp.app_context_processor
def _layout() -> dict[str, Any]:
    """What every page's header needs (base.html)."""
    try:
        school = stored_settings.read("school_name") or current_app.config["SCHOOL_NAME"]
    except PeeweeException:
        school = current_app.config["SCHOOL_NAME"]  # an error page must render even without the database
    return {
        "school_name": school,
        "lang": getattr(g, "lang", DEFAULT_LANGUAGE),
        "languages": LANGUAGES,
    }


def script_words() -> dict[str, str]:
    """Words the kiosk script shows, translated for this request."""
    return {
        "greeting_student": _("Hello %(name)s!"),
        "greeting_teacher": _("Welcome, %(name)s!"),
        "class_label": _("Class %(class_name)s"),
        "overdue_warning": _("You have %(count)s overdue book(s). Please return them soon."),
        "scan_book": _("Now scan the label of each book."),
        "due": _("Return by %(due)s"),
        "borrowed_ok": _("Borrowed!"),
        "returned_late": _("This book came back late. Please return books on time."),
        "class_library": _("This book belongs to the class library %(location)s."),
        "no_connection": _("The kiosk is not responding. Please try again or see the librarian."),
        "scan_card_first": _("Please press Borrow or Return first."),
        "same_card": _("You are already signed in. Scan a book label."),
        "returning_in": _("Going back to the start in %(seconds)s s"),
    }


def render_kiosk(view: str) -> ResponseReturnValue:
    settings = {
        "view": view,
        "lang": g.lang,
        "defaultLang": DEFAULT_LANGUAGE,
        "scanKeyGapMs": int(current_app.config["SCAN_KEY_GAP_MS"]),
        "scanPauseMs": int(current_app.config["SCAN_PAUSE_MS"]),
        "idleSeconds": int(current_app.config["IDLE_SECONDS"]),
        "doubleScanSeconds": float(current_app.config["DOUBLE_SCAN_SECONDS"]),
        "receiptSeconds": int(current_app.config["RECEIPT_SECONDS"]),
        "receiptPrinter": bool(current_app.config.get("RECEIPT_PRINTER")),
        "words": script_words(),
    }
    other = "en" if g.lang == "vi" else "vi"
    other_words = {"borrow": translate("Borrow books", other), "return": translate("Return books", other)}
    return render_template("kiosk/kiosk.html", view=view, settings=settings, other_words=other_words)


@bp.get("/")
def idle() -> ResponseReturnValue:
    return render_kiosk("idle")


@bp.get("/borrow")
def borrow() -> ResponseReturnValue:
    return render_kiosk("borrow")


@bp.get("/return")
def return_books() -> ResponseReturnValue:
    return render_kiosk("return")


@bp.get("/lang/<code>")
def switch_language(code: str) -> ResponseReturnValue:
    if code in LANGUAGES:
        session["lang"] = code
    return redirect(safe_next(request.args.get("next"), url_for("pages.idle")))


@bp.get("/reset")
def reset() -> ResponseReturnValue:
    """Where an idle kiosk goes: the next child starts afresh, in the default language, and a
    librarian who logged in at the kiosk and walked away is logged out (for every copy of the cookie)."""
    end_session(current_session_id())
    session.clear()
    return redirect(url_for("pages.idle"))

