"""HTTPS for tablets: the school CA's download page, and what plain HTTP from the LAN answers.

When the kiosk (or server) also listens with TLS (``--https-port``), a tablet that reaches it over
plain HTTP gets a page that explains why (no camera without HTTPS), links to the certificate and
goes on to the HTTPS address by itself as soon as the certificate is trusted. The kiosk's own
screen (a browser on the same machine, at 127.0.0.1) keeps plain HTTP: loopback pages are secure
contexts already. JSON clients (the API, the sync protocol) are never redirected: they carry no
camera, and a redirect would break them.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from urllib.parse import urlsplit

import segno
from flask import Blueprint, Flask, Response, current_app, make_response, render_template, request
from flask.typing import ResponseReturnValue

from .. import tls
from ..webkit import CONTENT_SECURITY_POLICY, csp_nonce

bp = Blueprint("tls", __name__)

# Paths plain HTTP keeps serving to LAN clients even when HTTPS is on.
HOST_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?")
PLAIN_HTTP_PATHS = ("/ca", "/ca.crt", "/healthz", "/static/", "/api/", "/sync/", "/camera/")


def _data() -> Path:
    return Path(current_app.config["DATA_DIR"])


def _school() -> str:
    return current_app.config.get("SCHOOL_NAME", "") or ""


def https_url(path: str = "/") -> str | None:
    """This request's page at the HTTPS port, or None when HTTPS is off."""
    port = current_app.config.get("HTTPS_PORT")
    if not port:
        return None
    try:
        host = urlsplit(request.host_url).hostname or ""
    except ValueError:
        host = ""
    if ":" in host:  # an IPv6 literal
        try:
            host = f"[{ipaddress.IPv6Address(host)}]"
        except ValueError:
            return None
    # The Host header is the client's word: only a plain name or address goes into a link.
    elif not HOST_NAME.fullmatch(host):
        return None
    return f"https://{host}:{int(port)}{path}"


def qr_svg(text: str) -> str:
    """A QR code as an inline SVG data URI (scale large enough to read off a screen)."""
    return segno.make_qr(text, error="m").svg_data_uri(scale=6, border=2)


def _is_loopback(address: str | None) -> bool:
    try:
        return ipaddress.ip_address(address or "").is_loopback
    except ValueError:
        return False


def _plain_http_from_the_lan() -> ResponseReturnValue | None:
    if not current_app.config.get("HTTPS_PORT") or request.scheme == "https":
        return None
    if _is_loopback(request.remote_addr) or request.path.startswith(PLAIN_HTTP_PATHS) or request.method != "GET":
        return None
    if request.routing_exception is not None or https_url() is None:
        return None  # an unknown page or a Host we would not link to: the usual answer
    target = https_url(request.full_path.rstrip("?"))
    response = make_response(render_template("tls/explain.html", https=target,
                                             ca_page=request.host_url.rstrip("/") + "/ca"))
    # The page asks the HTTPS address whether the certificate is trusted yet: that one origin is allowed.
    origin = target.split("/", 3)[:3]
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY.format(nonce=csp_nonce()).replace(
        "connect-src 'self'", f"connect-src 'self' {'/'.join(origin)}")
    return response


@bp.get("/ca")
def ca_page() -> ResponseReturnValue:
    page = request.host_url.rstrip("/") + "/ca"
    return render_template("tls/ca.html", qr=qr_svg(page), page=page, https=https_url("/"),
                           fingerprint=tls.ca_fingerprint(_data()))


@bp.get("/ca.crt")
def ca_certificate() -> ResponseReturnValue:
    tls.ensure_ca(_data(), _school())
    return Response(tls.ca_der(_data()), mimetype="application/x-x509-ca-cert",
                    headers={"Content-Disposition": 'attachment; filename="muontra-school-ca.crt"'})


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.before_request(_plain_http_from_the_lan)
