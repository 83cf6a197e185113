"""The JSON API used by the kiosk page (documented in the README)."""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from typing import Any

from flask import Blueprint, current_app, g, jsonify, request

from .. import catalogue
from ..db import db
from ..errors import N_, ExpectedObject, FieldMustBeText, InvalidJson, PayloadTooLarge
from ..i18n import translate
from ..migrations import KIOSK, current_version
from ..services import CheckinReceipt, PatronSummary
from . import circulation

bp = Blueprint("api", __name__)


def json_body(*fields: str) -> dict[str, str]:
    """The request's JSON object with each named field as text, or a 4xx error saying what is wrong."""
    limit = current_app.config["API_MAX_JSON_BYTES"]
    if (request.content_length or 0) > limit:
        raise PayloadTooLarge()
    raw = request.stream.read(limit + 1)
    if len(raw) > limit:
        raise PayloadTooLarge()
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        # RecursionError: a small body of deeply nested brackets ("[[[[…") is still not a request.
        raise InvalidJson() from exc
    if not isinstance(body, dict):
        raise ExpectedObject()
    values = {}
    for name in fields:
        value = body.get(name)
        if not isinstance(value, str):
            raise FieldMustBeText(field=name)
        values[name] = value
    if isinstance(body.get("lang"), str) and body["lang"] in ("vi", "en"):
        g.lang = body["lang"]
    return values


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
    answer = {**asdict(receipt), "message": translate(CHECKIN_MESSAGES[receipt.outcome], g.lang)}
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
    return jsonify({"patron": patron_json(circulation().patron_summary(body["patron"]))})


@bp.post("/api/checkout")
def checkout():
    body = json_body("patron", "item")
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
    body = json_body("patron", "item")
    receipt = circulation().renew(body["patron"], body["item"])
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
