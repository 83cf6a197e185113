"""What every Mượn Trả web app shares, below their views: the kiosk app, its sync panel and the server.

Languages, CSRF and a database connection per request; security headers on every response; the
session cookie's flags; JSON bodies; HTTP error pages in the user's language; the librarian's PIN
session (one guard for every protected page) and the one check that a ``next=`` target stays on
this site. Views import from here; nothing here imports a view.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import wraps
from typing import Any

from flask import (
    Flask,
    Response,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.globals import request_ctx
from flask.sessions import SecureCookieSessionInterface
from flask.typing import ResponseReturnValue
from flask_babel import Babel
from flask_wtf.csrf import CSRFProtect
from peewee import Database
from werkzeug.exceptions import HTTPException

from .admin_auth import pin_is_short, session_is_live
from .errors import N_, ExpectedObject, FieldMustBeText, InvalidJson, MuontraError, PayloadTooLarge
from .i18n import DEFAULT_LANGUAGE, LANGUAGES, TRANSLATIONS_DIR, translate

csrf = CSRFProtect()
babel = Babel()

# ---------------------------------------------------------------- app setup

# Scripts and styles only from this site or carrying this response's nonce; nothing may frame a page.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'nonce-{nonce}'; "
    "img-src 'self' data: blob:; media-src 'self' blob: mediastream:; connect-src 'self'; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def select_language() -> str:
    wanted = request.args.get("lang") or session.get("lang")
    if wanted in LANGUAGES:
        return wanted
    return DEFAULT_LANGUAGE


def csp_nonce() -> str:
    """This response's nonce for the few inline ``<script>``/``<style>`` blocks (templates: ``csp_nonce()``)."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


class SessionCookie(SecureCookieSessionInterface):
    """The signed session cookie, marked ``Secure`` whenever the request came over TLS (directly or
    through a proxy the WSGI server trusts), so a kiosk on plain http still works."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or (bool(request) and request.is_secure)


def init_web(app: Flask, database: Database, login_endpoint: str) -> None:
    """Languages, CSRF, a connection per request, headers, cookie flags; ``login_endpoint`` is the PIN page
    that :func:`login_required` sends a visitor to."""
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(TRANSLATIONS_DIR)
    app.config["BABEL_DEFAULT_LOCALE"] = DEFAULT_LANGUAGE
    app.config.setdefault("SESSION_COOKIE_SAMESITE", "Lax")
    if not app.config.get("SESSION_COOKIE_SAMESITE"):
        app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.session_interface = SessionCookie()
    app.extensions["login_endpoint"] = login_endpoint
    babel.init_app(app, locale_selector=select_language)

    @app.before_request
    def _upload_limit() -> None:
        # Before CSRFProtect reads the form: only the import page takes large files.
        if request.endpoint == "admin.check_import" and "IMPORT_MAX_CONTENT_LENGTH" in app.config:
            request.max_content_length = app.config["IMPORT_MAX_CONTENT_LENGTH"]

    csrf.init_app(app)
    app.jinja_env.globals["csp_nonce"] = csp_nonce
    app.jinja_env.globals["librarian_signed_in"] = librarian_signed_in
    app.jinja_env.globals["pin_is_short"] = pin_is_short

    @app.before_request
    def _connect() -> None:
        database.connect(reuse_if_open=True)
        g.lang = select_language()

    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY.format(nonce=csp_nonce()))
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    @app.teardown_request
    def _close(_exc: BaseException | None) -> None:
        if not database.is_closed():
            database.close()

    register_errors(app)


# ---------------------------------------------------------------- JSON bodies


class NotJson(MuontraError):
    code = "not_json"
    message = N_("Please send JSON.")
    http_status = 415


def _has_lone_surrogate(value: Any) -> bool:
    """JSON's ``\\udXXX`` escapes can name half a character, which no database or page can store."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_lone_surrogate(v) for v in value)
    return False


def json_body(*fields: str) -> dict[str, str]:
    """The request's JSON object with each named field as text, or a 4xx error saying what is wrong.

    Only ``application/json``: a browser sends that cross-site only after asking (CORS preflight, which
    nothing here answers), so a page elsewhere on the LAN cannot post a checkout as ``text/plain``."""
    if request.mimetype != "application/json":
        raise NotJson()
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
        if _has_lone_surrogate(value):
            raise InvalidJson()
        values[name] = value
    if isinstance(body.get("lang"), str) and body["lang"] in LANGUAGES:
        g.lang = body["lang"]
    return values


# ---------------------------------------------------------------- errors

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


def http_message(status: int) -> str:
    return HTTP_MESSAGES.get(status, HTTP_MESSAGES[400] if status < 500 else HTTP_MESSAGES[500])


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


def register_errors(app: Flask) -> None:
    """Every failure answers in the user's language: JSON under /api, a page elsewhere; never a traceback."""

    def lang() -> str:
        return getattr(g, "lang", DEFAULT_LANGUAGE)

    @app.errorhandler(MuontraError)
    def _domain_error(exc: MuontraError):
        response = error_response(exc.code, exc.message_in(lang()), exc.http_status, exc.aliases)
        retry = exc.params.get("retry_after")
        if retry and isinstance(response, tuple):
            response[0].headers["Retry-After"] = str(int(retry))
        return response

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        status = exc.code or 500
        return error_response(f"http_{status}", translate(http_message(status), lang()), status)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        app.logger.exception("unhandled error on %s", request.path)
        return error_response("internal", translate(HTTP_MESSAGES[500], lang()), 500)


# ---------------------------------------------------------------- redirects

# A local path: "/" then no second "/" or "\" (browsers read "//host" and "/\host" as another site),
# and only characters a URL path or query may hold unescaped — browsers drop tabs and newlines, so
# "/\t/host" would become "//host" in their hands.
_LOCAL_PATH = re.compile(r"/(?![/\\])[A-Za-z0-9\-._~%!$&'()*+,;=:@/?]*")


def safe_next(target: str | None, fallback: str, prefix: str = "/") -> str:
    """``target`` when it is a path on this site under ``prefix``, else ``fallback``: a crafted link
    must not send anyone to another site."""
    if target and _LOCAL_PATH.fullmatch(target) and target.startswith(prefix):
        return target
    return fallback


# ---------------------------------------------------------------- the librarian's PIN session

SESSION_KEY = "librarian"  # {"id": server-side session id, "seen": iso time of the last page}


def _now() -> datetime:
    return current_app.config["CLOCK"]().astimezone(UTC).replace(tzinfo=None)


def _session_minutes() -> int:
    return int(current_app.config["ADMIN_SESSION_MINUTES"])


def start_librarian_session(session_id: str) -> None:
    """After a right PIN: ``session_id`` comes from :func:`kiosk.admin_auth.verify_admin_pin`."""
    session[SESSION_KEY] = {"id": session_id, "seen": _now().isoformat()}


def librarian_signed_in(touch: bool = False) -> bool:
    """A PIN entered on this browser less than ADMIN_SESSION_MINUTES ago (sliding), in a session
    the server still knows (logout and a PIN change end it)."""
    state = session.get(SESSION_KEY)
    if not isinstance(state, dict) or not isinstance(state.get("id"), str):
        return False
    try:
        seen = datetime.fromisoformat(state["seen"])
    except (KeyError, TypeError, ValueError):
        return False
    now = _now()
    if now - seen > timedelta(minutes=_session_minutes()) or not session_is_live(state["id"]):
        session.pop(SESSION_KEY, None)
        return False
    if touch:
        session[SESSION_KEY] = {"id": state["id"], "seen": now.isoformat()}
    return True


def current_session_id() -> str | None:
    state = session.get(SESSION_KEY)
    return state.get("id") if isinstance(state, dict) else None


def require_login() -> ResponseReturnValue | None:
    """A ``before_request`` for a blueprint of librarian pages (the login page itself passes)."""
    login = current_app.extensions["login_endpoint"]
    if request.endpoint == login:
        return None
    had_session = session.get(SESSION_KEY) is not None
    if librarian_signed_in(touch=True):
        return None
    session.pop(SESSION_KEY, None)
    lang = getattr(g, "lang", DEFAULT_LANGUAGE)
    if request.is_json or request.path.startswith("/api/"):
        # A script whose session ended: say so, change nothing.
        return error_response("login_required", translate(N_("Please enter the librarian's PIN first."), lang),
                              401)
    if had_session:
        flash(translate(N_("Your session has ended. Please enter the PIN again."), lang), "warning")
    return redirect(url_for(login, next=request.full_path.rstrip("?")))


def login_required(view: Callable) -> Callable:
    """The same guard as :func:`require_login`, for one view."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> ResponseReturnValue:
        refused = require_login()
        if refused is not None:
            return refused
        return view(*args, **kwargs)

    return wrapper


def client_key() -> str:
    """Who is trying, for per-client limits: the address the request came from (a proxy that sets
    X-Forwarded-For must be trusted explicitly by the WSGI server, which then rewrites it)."""
    return request.remote_addr or "?"
