"""The JSON API used by the kiosk page (documented in the README)."""

from __future__ import annotations

from dataclasses import asdict, fields
from typing import Any

from flask import Blueprint, current_app, g, jsonify

from .. import catalogue
from ..db import db
from ..errors import N_, MuontraError
from ..i18n import translate
from ..migrations import KIOSK, current_version
from ..rules import NotYourLoan
from ..services import CheckinReceipt, PatronSummary
from ..webkit import client_key, json_body
from . import circulation

bp = Blueprint("api", __name__)


def _seconds() -> float:
    return current_app.config["CLOCK"]().timestamp()


def admit_card(raw: str) -> None:
    """Count the card this request names against the public screen's limits (kiosk/throttle.py)."""
    try:
        code = circulation().clean(raw)
    except MuontraError:
        return  # no code at all: the service refuses it without looking anything up
    current_app.extensions["card_limiter"].admit(client_key(), code, _seconds())


def patron_json(summary: PatronSummary) -> dict[str, Any]:
    """The card holder's own summary, for their own session: their name, their loans, and why they
    cannot borrow (worded for them), never anyone else's."""
    data = {f.name: getattr(summary, f.name) for f in fields(summary) if f.name not in ("loans", "blocked")}
    data["loans"] = [{**asdict(line), "due": line.due.isoformat()} for line in summary.loans]
    data["blocked"] = summary.blocked.to_dict(g.lang) if summary.blocked else None
    return data


CHECKIN_MESSAGES = {
    "returned": N_("Returned. Thank you!"),
    "not_on_loan": N_("Thank you! This book was not on loan here; it has been noted for the librarian."),
    "unknown_copy": N_(
        "Thank you! This book is not in this kiosk's catalogue; please put it on the returns trolley."
    ),
}


HOLD_SHELF_MESSAGE = N_("Set aside for a reader who reserved it: please put it on the hold shelf.")


def checkin_json(receipt: CheckinReceipt) -> dict[str, Any]:
    """Whoever hands a book back may not hold the card it was lent on: the answer says whether it
    was late, never by how many days (that is the borrower's record, on the librarian's pages)."""
    answer = {key: value for key, value in asdict(receipt).items() if key != "overdue_days"}
    answer = {**answer, "late": receipt.overdue_days > 0,
              "message": translate(CHECKIN_MESSAGES[receipt.outcome], g.lang)}
    if receipt.hold_shelf:
        answer["hold_message"] = translate(HOLD_SHELF_MESSAGE, g.lang)
    return answer


@bp.get("/healthz")
def healthz():
    return jsonify(
        {
            "ok": True,
            "device": circulation().device,
            "schema": current_version(db.obj, KIOSK),
            "time": circulation().now().isoformat() + "Z",
            "camera": camera.health() if (camera := current_app.extensions.get("camera")) else None,
        }
    )


@bp.post("/api/patron")
def patron():
    body = json_body("patron")
    admit_card(body["patron"])
    return jsonify({"patron": patron_json(circulation().patron_summary(body["patron"]))})


@bp.post("/api/checkout")
def checkout():
    body = json_body("patron", "item")
    admit_card(body["patron"])
    receipt = circulation().checkout(body["patron"], body["item"])
    return jsonify(
        {
            "loan": {"item": receipt.item, "title": receipt.title, "due": receipt.due.isoformat()},
            "patron": patron_json(receipt.patron),
        }
    )


@bp.post("/api/checkin")
def checkin():
    body = json_body("item")
    return jsonify({"checkin": checkin_json(circulation().checkin(body["item"]))})


@bp.post("/api/renew")
def renew():
    """Only the borrower's card renews a loan; a client trying other cards on one book (to learn who
    holds it) is stopped after RENEW_WRONG_CARD_LIMIT tries."""
    body = json_body("patron", "item")
    wrong_cards = current_app.extensions["renew_failures"]
    wrong_cards.check(client_key(), _seconds())
    admit_card(body["patron"])
    try:
        receipt = circulation().renew(body["patron"], body["item"])
    except NotYourLoan:
        wrong_cards.failed(client_key(), _seconds())
        current_app.logger.warning("renewal with a card that does not hold the book, from %s", client_key())
        raise
    return jsonify({"loan": {"item": receipt.item, "title": receipt.title, "due": receipt.due.isoformat()}})


@bp.post("/api/search")
def search():
    """Tra cứu: the catalogue for anyone at the kiosk — where copies are, never who has them."""
    from ..workflows.rules import location_label

    body = json_body("q")
    return jsonify({"results": [
        {"title": r.title, "author": r.author, "isbn": r.isbn, "available": r.available, "item": r.item,
         "places": [{"location": p.location, "where": location_label(p.location, g.lang), "shelf": p.shelf,
                     "status": p.status, "count": p.count, "due": p.due.isoformat() if p.due else None}
                    for p in r.places]}
        for r in catalogue.search(body["q"])
    ]})
