"""The JSON API used by the kiosk page (documented in the README)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask import Blueprint, current_app, g, jsonify

from ..db import db
from ..errors import N_
from ..i18n import translate
from ..migrations import KIOSK, current_version
from ..services import CheckinReceipt, PatronSummary
from ..webkit import json_body

bp = Blueprint("api", __name__)


def _circulation():
    return current_app.extensions["circulation"]


def patron_json(summary: PatronSummary) -> dict[str, Any]:
    return asdict(summary)


CHECKIN_MESSAGES = {
    "returned": N_("Returned. Thank you!"),
    "not_on_loan": N_("Thank you! This book was not on loan here; it has been noted for the librarian."),
    "unknown_item": N_(
        "Thank you! This book is not in this kiosk's catalogue; please put it on the returns trolley."
    ),
}


def checkin_json(receipt: CheckinReceipt) -> dict[str, Any]:
    return {**asdict(receipt), "message": translate(CHECKIN_MESSAGES[receipt.outcome], g.lang)}


@bp.get("/healthz")
def healthz():
    return jsonify(
        {
            "ok": True,
            "device": _circulation().device,
            "schema": current_version(db.obj, KIOSK),
            "time": _circulation().now().isoformat() + "Z",
            "camera": camera.health() if (camera := current_app.extensions.get("camera")) else None,
        }
    )


@bp.post("/api/patron")
def patron():
    body = json_body("patron")
    return jsonify({"patron": patron_json(_circulation().patron_summary(body["patron"]))})


@bp.post("/api/checkout")
def checkout():
    body = json_body("patron", "item")
    receipt = _circulation().checkout(body["patron"], body["item"])
    return jsonify(
        {
            "loan": {"item": receipt.item, "title": receipt.title, "due": receipt.due.isoformat()},
            "patron": patron_json(receipt.patron),
        }
    )


@bp.post("/api/checkin")
def checkin():
    body = json_body("item")
    return jsonify({"checkin": checkin_json(_circulation().checkin(body["item"]))})


@bp.post("/api/renew")
def renew():
    body = json_body("patron", "item")
    receipt = _circulation().renew(body["patron"], body["item"])
    return jsonify({"loan": {"item": receipt.item, "title": receipt.title, "due": receipt.due.isoformat()}})
