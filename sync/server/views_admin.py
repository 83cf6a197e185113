"""The librarian's pages on the server: devices, conflicts, loans. PIN login, CSRF on every form."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from ipaddress import ip_address
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from kiosk.admin_auth import end_session, verify_admin_pin
from kiosk.clock import DEFAULT_TIMEZONE
from kiosk.errors import MuontraError
from kiosk.models import Copy, Loan, Patron, Title
from kiosk.tls import local_names
from kiosk.web.tls import qr_svg
from kiosk.webkit import (
    SESSION_KEY,
    client_key,
    current_session_id,
    login_required,
    safe_next,
    start_librarian_session,
)

from ..protocol import pairing_qr
from ..schema import DEFAULT_ROLE, ROLE_LABELS, ROLES
from . import service
from .clock import now
from .models import Conflict, Device

bp = Blueprint("server_admin", __name__)


@bp.route("/login", methods=["GET", "POST"])
def login():
    error, status = None, 200
    if request.method == "POST":
        try:
            session_id = verify_admin_pin(request.form.get("pin", ""), now(), current_app.config["PIN_MAX_ATTEMPTS"],
                                          current_app.config["PIN_LOCKOUT_MINUTES"], client_key())
        except MuontraError as exc:
            current_app.logger.warning("wrong librarian PIN from %s (%s)", client_key(), exc.code)
            error, status = exc.message_in(g.lang), exc.http_status
        else:
            start_librarian_session(session_id)
            return redirect(safe_next(request.args.get("next"), url_for("server_admin.devices")))
    # Nothing here tells an anonymous visitor whether the default PIN is still in use.
    return render_template("server/login.html", error=error), status


@bp.post("/logout")
def logout():
    end_session(current_session_id())
    session.pop(SESSION_KEY, None)
    return redirect(url_for("server_admin.login"))


@bp.get("/")
@login_required
def home():
    return redirect(url_for("server_admin.devices"))


def _devices_page(pairing: dict | None = None):
    labels = {role: _(label) for role, label in ROLE_LABELS.items()}
    return render_template("server/devices.html", status=service.status(), pairing=pairing, roles=ROLES,
                           role_labels=labels, default_role=DEFAULT_ROLE)


def _pairing_shown(name: str, code: str, made_at: datetime) -> dict:
    # The librarian reads the expiry on the school's clock; the database keeps UTC.
    expires = (made_at + timedelta(hours=service.PAIRING_HOURS)).replace(tzinfo=UTC).astimezone(
        ZoneInfo(current_app.config.get("TIMEZONE", DEFAULT_TIMEZONE)))
    server = request.host_url.rstrip("/")
    return {"code": code, "name": name, "expires": expires.strftime("%H:%M %d/%m/%Y"),
            "server": server, "qr": qr_svg(pairing_qr(server, code)), "lan": _lan_addresses_if_loopback()}


@bp.get("/devices")
@login_required
def devices():
    return _devices_page()


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
    role = request.form.get("role", DEFAULT_ROLE)
    if role not in ROLES:
        flash(_("Choose what the device may do."))
        return redirect(url_for("server_admin.devices"))
    made_at = now()
    code = service.add_device(name, made_at, role)
    return _devices_page(_pairing_shown(name, code, made_at))


@bp.post("/devices/<device_id>/pair-again")
@login_required
def pair_again(device_id: str):
    """A new code for this device only; its old key stops working at once."""
    made_at = now()
    try:
        device, code = service.repair_device(device_id, made_at)
    except MuontraError as exc:
        flash(exc.message_in(g.lang))
        return redirect(url_for("server_admin.devices"))
    return _devices_page(_pairing_shown(device.name, code, made_at))


@bp.post("/devices/<device_id>/role")
@login_required
def set_role(device_id: str):
    role = request.form.get("role", "")
    if role not in ROLES:
        flash(_("Choose what the device may do."))
    else:
        device = service.set_role(device_id, role)
        flash(_("%(name)s is now: %(role)s.", name=device.name, role=_(ROLE_LABELS[role])))
    return redirect(url_for("server_admin.devices"))


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
