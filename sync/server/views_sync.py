"""The sync API kiosks talk to: pair (with a one-time code), push and pull (signed)."""

from __future__ import annotations

from flask import Blueprint, current_app, g, jsonify, request
from peewee import OperationalError
from werkzeug.exceptions import HTTPException

from kiosk.errors import N_, MuontraError
from kiosk.i18n import DEFAULT_LANGUAGE, translate
from kiosk.webkit import http_message, json_body

from .. import digest
from ..protocol import MAX_SEQ, PROTOCOL_VERSION, MalformedBody, decode_body, validate_events
from . import changes, service
from .auth import verify_request
from .clock import now, now_unix

bp = Blueprint("sync_api", __name__)


def _json_error(code: str, message: str, status: int):
    return jsonify({"error": {"code": code, "message": message}, "server_time": now_unix()}), status


@bp.errorhandler(MuontraError)
def _domain_error(exc: MuontraError):
    return _json_error(exc.code, exc.message_in(getattr(g, "lang", DEFAULT_LANGUAGE)), exc.http_status)


@bp.errorhandler(OperationalError)
def _busy(exc: OperationalError):
    # The database is locked or unreachable right now: nothing was applied, try again shortly.
    response, status = _json_error("busy", translate(N_("The server is busy. Please try again shortly."),
                                                     getattr(g, "lang", DEFAULT_LANGUAGE)), 503)
    response.headers["Retry-After"] = "2"
    return response, status


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    status = exc.code or 500
    message = http_message(status)
    return _json_error(f"http_{status}", translate(message, getattr(g, "lang", DEFAULT_LANGUAGE)), status)


def _signed_document() -> tuple[str, dict]:
    """Authenticate the request, then unpack its gzip JSON body."""
    raw = request.get_data(cache=False)
    device = verify_request(request.headers, request.method, request.path, raw,
                            current_app.extensions["master_key"], now_unix())
    return device.id, decode_body(raw)


@bp.get("/healthz")
def healthz():
    return jsonify({"ok": True, "role": "server", "protocol": PROTOCOL_VERSION, "time": now_unix()})


@bp.post("/sync/pair")
def pair():
    body = json_body("code", "device")
    reply = service.pair(body["code"], body["device"], current_app.extensions["master_key"], now())
    return jsonify({**reply, "server_time": now_unix(), "protocol": PROTOCOL_VERSION})


@bp.post("/sync/push")
def push():
    device, document = _signed_document()
    events = validate_events(document.get("events"))
    reported = document.get("newest_seq", 0)
    if not isinstance(reported, int) or isinstance(reported, bool) or not 0 <= reported <= MAX_SEQ:
        raise MalformedBody(reason="newest_seq must be an event number")
    reply = service.push(device, events, now(), reported)
    return jsonify({**reply, "server_time": now_unix()})


@bp.post("/sync/pull")
def pull():
    device, document = _signed_document()
    cursor, limit = document.get("cursor"), document.get("limit", 500)
    if cursor is not None and not isinstance(cursor, str):
        raise MalformedBody(reason="cursor must be text")
    if not isinstance(limit, int) or isinstance(limit, bool):
        raise MalformedBody(reason="limit must be an integer")
    reply = service.pull(device, cursor, limit, now(), want_total=bool(document.get("total")))
    return jsonify({**reply, "server_time": now_unix()})


@bp.post("/sync/digest")
def digest_compare():
    """Anti-entropy: the kiosk's bucket digests in, the buckets that differ and the server's rows out."""
    _device, document = _signed_document()
    cursor, buckets, skip = document.get("cursor"), document.get("buckets"), document.get("skip", [])
    if cursor is not None and not isinstance(cursor, str):
        raise MalformedBody(reason="cursor must be text")
    if not (isinstance(buckets, list) and len(buckets) == digest.BUCKETS
            and all(isinstance(value, str) and len(value) <= 64 for value in buckets)):
        raise MalformedBody(reason=f"buckets must be {digest.BUCKETS} digests")
    if not (isinstance(skip, list) and len(skip) <= digest.BUCKETS
            and all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n < digest.BUCKETS for n in skip)):
        raise MalformedBody(reason="skip must be bucket numbers")
    return jsonify({**changes.digest_answer(cursor, buckets, skip), "server_time": now_unix()})
