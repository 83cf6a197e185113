"""Holds (đặt trước): the public kiosk's JSON API for the card holder, and the librarian's page."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask import Blueprint, flash, g, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from ..errors import MuontraError
from ..holds import HoldLine, Holds
from ..webkit import require_login
from . import circulation
from .api import admit_card, json_body

api = Blueprint("holds_api", __name__)
pages = Blueprint("holds_admin", __name__, url_prefix="/admin/holds")
pages.before_request(require_login)  # the librarian's PIN session, as the other admin pages


def _holds() -> Holds:
    return Holds(circulation())


def hold_json(line: HoldLine) -> dict[str, Any]:
    """What the card holder sees of their own hold: never anyone else's name."""
    data = asdict(line)
    data["until"] = line.until.isoformat() if line.until else None
    data["placed_at"] = line.placed_at.isoformat()
    for private in ("patron_name", "class_name"):
        data.pop(private)
    return data


@api.post("/api/hold")
def place() -> ResponseReturnValue:
    body = json_body("patron", "item")
    admit_card(body["patron"])  # the public screen's card limit (kiosk/throttle.py)
    return jsonify({"hold": hold_json(_holds().place(body["patron"], body["item"]))})


@api.post("/api/holds")
def mine() -> ResponseReturnValue:
    body = json_body("patron")
    admit_card(body["patron"])  # the public screen's card limit (kiosk/throttle.py)
    holds = _holds()
    circulation().find_patron(body["patron"])  # unknown or inactive card: the usual refusal
    lines = [line for line in holds.lines(patron_code=body["patron"]) if line.state in ("waiting", "ready", "expired")]
    return jsonify({"holds": [hold_json(line) for line in lines]})


@api.post("/api/hold/cancel")
def cancel_mine() -> ResponseReturnValue:
    body = json_body("patron", "hold")
    admit_card(body["patron"])  # the public screen's card limit (kiosk/throttle.py)
    _holds().cancel(body["hold"], patron_code=body["patron"])
    return jsonify({"cancelled": body["hold"]})


@pages.get("/")
def index() -> ResponseReturnValue:
    return render_template("admin/holds.html", holds=_holds().lines(active_only=True), entered={})


@pages.post("/")
def place_for_reader() -> ResponseReturnValue:
    entered = {"patron": request.form.get("patron", "").strip()[:64], "item": request.form.get("item", "").strip()[:64]}
    try:
        line = _holds().place(entered["patron"], entered["item"])
    except MuontraError as exc:
        flash(exc.message_in(g.lang), "error")
        return render_template("admin/holds.html", holds=_holds().lines(active_only=True), entered=entered), \
            exc.http_status
    flash(_("Reserved “%(title)s” for %(name)s.", title=line.title, name=line.patron_name), "success")
    return redirect(url_for("holds_admin.index"))


@pages.post("/<hold_uuid>/cancel")
def cancel(hold_uuid: str) -> ResponseReturnValue:
    try:
        _holds().cancel(hold_uuid, by="librarian")
    except MuontraError as exc:
        flash(exc.message_in(g.lang), "error")
    else:
        flash(_("The reservation was cancelled."), "success")
    return redirect(url_for("holds_admin.index"))
