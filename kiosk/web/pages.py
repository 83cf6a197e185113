"""The public kiosk screens: idle, borrow, return (one page; the views switch in the browser).

Everything a student sees goes through the JSON API; this module only renders
the page and hands the script its settings and translated words.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from peewee import PeeweeException

from .. import stored_settings
from ..admin_auth import end_session
from ..errors import N_
from ..i18n import AUDIENCES, DEFAULT_LANGUAGE, LANGUAGES, translate, translate_for
from ..webkit import current_session_id, safe_next

bp = Blueprint("pages", __name__)

VIEWS = ("idle", "borrow", "return", "search")


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


# Words the kiosk script shows. Those that speak to the reader come once per audience
# (kiosk.i18n.address: em for a student, thầy / cô for a teacher); the script picks the reader's.
SCRIPT_WORDS = {
    "greeting": N_("Hello %(name)s!"),
    "greeting_helper": N_("Hello %(name)s, library helper!"),
    "class_label": N_("Class %(class_name)s"),
    "overdue_warning": N_("You have %(count)s overdue book(s). Please return them soon."),
    "scan_book": N_("Now scan the label of each book."),
    "due": N_("Return by %(due)s"),
    "borrowed_ok": N_("Borrowed!"),
    "returned_late": N_("This book came back late. Please return books on time."),
    "class_library": N_("This book belongs to the class library %(location)s."),
    "no_connection": N_("The kiosk is not responding. Please try again or see the librarian."),
    "same_card": N_("You are already signed in. Scan a book label."),
    "returning_in": N_("Going back to the start in %(seconds)s s"),
    "books_you_have": N_("Books you have"),
    "may_borrow": N_("You may still borrow"),
    "your_receipt": N_("Your receipt"),
    "receipt_thanks": N_("Please look after the books and return them on time. Thank you!"),
    "receipt_empty": N_("You did not borrow any books this time."),
    "my_books": N_("Your books"),
    "overdue_days": N_("%(days)s day(s) overdue"),
    "renew": N_("Renew"),
    "renewed": N_("Renewed: %(title)s"),
    "return_this": N_("Return this book?"),
    "search_none": N_("No book found for “%(q)s”. Try fewer words, or without accents."),
    "search_available": N_("%(count)s on the shelf"),
    "search_none_available": N_("All copies are out"),
    "search_shelf": N_("shelf %(shelf)s"),
    "search_copies": N_("%(count)s copies"),
    "search_on_loan": N_("on loan, back by %(due)s"),
    "search_read_here": N_("read in the library only"),
    "search_repair": N_("being repaired"),
    "yes_return": N_("Yes, return it"),
    "hold_button": N_("Reserve"),
    "hold_scan_card": N_("Scan your library card to reserve “%(title)s”."),
    "hold_placed": N_("Reserved: %(title)s. You are number %(position)s in line."),
    "hold_ready": N_("Your reserved book is here: %(title)s. Ask the librarian for it by %(until)s."),
    "hold_waiting": N_("Reserved: %(title)s (number %(position)s in line)."),
    "no": N_("No"),
}


def script_words(lang: str) -> dict[str, dict[str, str]]:
    """The script's words in ``lang``, for each audience."""
    return {audience: {key: translate_for(message, lang, audience) for key, message in SCRIPT_WORDS.items()}
            for audience in AUDIENCES}


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
        "words": script_words(g.lang),
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


@bp.get("/search")
def search() -> ResponseReturnValue:
    return render_kiosk("search")


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

