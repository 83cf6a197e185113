"""Every failure answers in the user's language: JSON under /api, a page elsewhere."""

from __future__ import annotations

from flask import Flask, Response, g, jsonify, render_template, request
from flask.globals import request_ctx
from werkzeug.exceptions import HTTPException

from ..errors import N_, MuontraError
from ..i18n import DEFAULT_LANGUAGE, translate

HTTP_MESSAGES = {
    400: N_("The request could not be understood."),
    403: N_("You are not allowed to do that."),
    404: N_("There is nothing at this address."),
    405: N_("This address does not accept that kind of request."),
    413: N_("What was sent is too large."),
    415: N_("Please send JSON."),
    429: N_("Too many requests. Please wait a moment."),
    500: N_("Something went wrong on the kiosk. The librarian has been told; please try again."),
}


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.path == "/healthz" or request.is_json


def error_response(code: str, message: str, status: int,
                   aliases: tuple[str, ...] = ()) -> Response | tuple[Response, int]:
    if wants_json():
        error = {"code": code, "message": message}
        if aliases:  # former names of a renamed code (README: renamed codes)
            error["aliases"] = list(aliases)
        return jsonify({"error": error}), status
    if request_ctx.url_adapter is None:
        # The request was too broken to route (a Host header no URL can be built for): the page's
        # links could not be made either, so answer in plain text rather than fail again (500).
        return Response(message, status=status, mimetype="text/plain")
    return render_template("error.html", code=code, message=message), status


def register(app: Flask) -> None:
    @app.errorhandler(MuontraError)
    def _domain_error(exc: MuontraError):
        return error_response(exc.code, exc.message_in(getattr(g, "lang", DEFAULT_LANGUAGE)), exc.http_status,
                              exc.aliases)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        status = exc.code or 500
        message = HTTP_MESSAGES.get(status, HTTP_MESSAGES[400] if status < 500 else HTTP_MESSAGES[500])
        return error_response(f"http_{status}", translate(message, getattr(g, "lang", DEFAULT_LANGUAGE)), status)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        app.logger.exception("unhandled error on %s", request.path)
        return error_response("internal", translate(HTTP_MESSAGES[500], getattr(g, "lang", DEFAULT_LANGUAGE)), 500)
