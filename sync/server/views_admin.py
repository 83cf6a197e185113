"""The librarian's pages on the server: devices, conflicts, loans. PIN login, CSRF on every form."""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from ipaddress import ip_address
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from kiosk.admin_auth import pin_is_default, verify_admin_pin
from kiosk.clock import DEFAULT_TIMEZONE
from kiosk.errors import MuontraError
from kiosk.models import Copy, Loan, Patron, Title
from kiosk.tls import local_names
from kiosk.web.tls import qr_svg

from ..protocol import pairing_qr
from . import service
from .clock import now
from .models import Conflict, Device

bp = Blueprint("server_admin", __name__)


def login_required(view):
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        until = session.get("server_admin_until")
        if not until or datetime.fromisoformat(until) < now():
            session.pop("server_admin_until", None)
            return redirect(url_for("server_admin.login", next=request.path))
        _extend_session()
        return view(*args, **kwargs)

    return wrapper


def _extend_session() -> None:
    minutes = current_app.config["ADMIN_SESSION_MINUTES"]
    session["server_admin_until"] = (now() + timedelta(minutes=minutes)).isoformat()


@bp.route("/login", methods=["GET", "POST"])
def login():
    error = None
    if request.method == "POST":
        try:
            verify_admin_pin(request.form.get("pin", ""), now(), current_app.config["PIN_MAX_ATTEMPTS"],
                             current_app.config["PIN_LOCKOUT_MINUTES"])
        except MuontraError as exc:
            error = exc.message_in(session.get("lang", "vi") if "lang" in session else _lang())
        else:
            _extend_session()
            target = request.args.get("next", "")
            return redirect(target if target.startswith("/") and not target.startswith("//")
                            else url_for("server_admin.devices"))
    return render_template("server/login.html", error=error, default_pin=pin_is_default()), (401 if error else 200)


def _lang() -> str:
    from flask import g

    return getattr(g, "lang", "vi")


@bp.post("/logout")
def logout():
    session.pop("server_admin_until", None)
    return redirect(url_for("server_admin.login"))


@bp.get("/")
@login_required
def home():
    return redirect(url_for("server_admin.devices"))


@bp.get("/devices")
@login_required
def devices():
    return render_template("server/devices.html", status=service.status(), pairing=None)


def _lan_addresses_if_loopback() -> list[str]:
    """When the librarian looks at the page on the server itself (localhost), the QR code would send
    kiosks to an address they can't reach: the page then names the server's LAN addresses to use."""
    try:
        loopback = ip_address(urlsplit(request.host_url).hostname or "").is_loopback
    except ValueError:
        loopback = urlsplit(request.host_url).hostname == "localhost"
    if not loopback:
        return []
    return [a for a in local_names()[1] if ":" not in a and not ip_address(a).is_loopback]


@bp.post("/devices")
@login_required
def add_device():
    name = request.form.get("name", "").strip()[:80]
    if not name:
        flash(_("Give the kiosk a name."))
        return redirect(url_for("server_admin.devices"))
    made_at = now()
    code = service.add_device(name, made_at)
    # The librarian reads the expiry on the school's clock; the database keeps UTC.
    expires = (made_at + timedelta(hours=service.PAIRING_HOURS)).replace(tzinfo=UTC).astimezone(
        ZoneInfo(current_app.config.get("TIMEZONE", DEFAULT_TIMEZONE)))
    server = request.host_url.rstrip("/")
    pairing = {"code": code, "name": name, "expires": expires.strftime("%H:%M %d/%m/%Y"),
               "server": server, "qr": qr_svg(pairing_qr(server, code)), "lan": _lan_addresses_if_loopback()}
    return render_template("server/devices.html", status=service.status(), pairing=pairing)


@bp.post("/devices/<device_id>/revoke")
@login_required
def revoke(device_id: str):
    service.revoke_device(device_id)
    flash(_("The device can no longer sync."))
    return redirect(url_for("server_admin.devices"))


@bp.get("/conflicts")
@login_required
def conflicts():
    wanted = request.args.get("status", "open")
    query = Conflict.select().order_by(Conflict.id.desc())
    if wanted in ("open", "resolved"):
        query = query.where(Conflict.status == wanted)
    names = {d.id: d.name for d in Device.select()}
    labels = {kind: _(label) for kind, label in service.CONFLICT_LABELS.items()}
    return render_template("server/conflicts.html", conflicts=list(query.limit(500)), wanted=wanted, names=names,
                           conflict_labels=labels)


@bp.post("/conflicts/<int:conflict_id>/resolve")
@login_required
def resolve(conflict_id: int):
    action = request.form.get("action", "keep")
    if action not in service.RESOLUTIONS:
        action = "keep"
    service.resolve_conflict(conflict_id, action, now(), request.form.get("note", "")[:200])
    flash(_("Conflict resolved."))
    return redirect(url_for("server_admin.conflicts"))


@bp.get("/loans")
@login_required
def loans():
    text = request.args.get("q", "").strip()
    only_open = request.args.get("open", "1") == "1"
    query = (Loan.select(Loan, Copy, Title, Patron).join(Copy).join(Title).switch(Loan).join(Patron)
             .order_by(Loan.checked_out_at.desc()))
    if text:
        query = query.where((Copy.code == text.upper()) | (Patron.code == text.upper())
                            | Patron.name.contains(text) | Title.title.contains(text))
    if only_open:
        query = query.where(Loan.is_open())
    return render_template("server/loans.html", loans=list(query.limit(200)), q=text, only_open=only_open)
