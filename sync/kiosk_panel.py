"""The sync panel on the kiosk's admin page: pairing with the server, online or not, last sync, waiting
events, conflicts, "Sync now"."""

from __future__ import annotations

from flask import (
    Blueprint,
    Flask,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from kiosk.errors import MuontraError
from kiosk.web import circulation
from kiosk.webkit import require_login

from . import client, discovery, kiosk_state
from .background import BackgroundSync
from .protocol import parse_pairing_qr

bp = Blueprint("sync_panel", __name__, url_prefix="/admin/sync", template_folder="templates")
bp.before_request(require_login)  # the same librarian PIN session as the other admin pages


def init_app(app: Flask) -> None:
    """Register the panel; start background sync unless disabled (SYNC_INTERVAL 0) or testing."""
    app.register_blueprint(bp)
    syncer = BackgroundSync(float(app.config["SYNC_INTERVAL"]) or 60.0, float(app.config["SYNC_MAX_BACKOFF"]))
    app.extensions["sync"] = syncer
    if app.config["SYNC_INTERVAL"] and not app.testing:
        syncer.start()


def _syncer() -> BackgroundSync:
    return current_app.extensions["sync"]


def _status() -> dict:
    syncer = _syncer()
    report = kiosk_state.status(circulation().device, g.lang)
    report["online"] = bool(report["paired"] and report["last_attempt"] and not report["last_error"])
    report["running"] = syncer.running
    report["progress"] = syncer.progress
    report["summary"] = syncer.last_summary.as_dict() if syncer.last_summary else None
    return report


@bp.get("/")
def panel() -> ResponseReturnValue:
    return render_template("sync/panel.html", status=_status(), entered={}, pair_error=None)


@bp.post("/pair")
def pair() -> ResponseReturnValue:
    """Exchange the librarian's one-time code for this kiosk's secret; pairing again needs a tick."""
    entered = {"server": request.form.get("server", "").strip()[:300], "code": request.form.get("code", "").strip()[:40]}
    scanned = request.form.get("qr", "").strip()
    if scanned:  # the server's pairing QR, read by the camera or a 2D scanner: it holds both fields
        try:
            entered["server"], entered["code"] = parse_pairing_qr(scanned)
        except MuontraError as exc:
            return render_template("sync/panel.html", status=_status(), entered=entered,
                                   pair_error=exc.message_in(g.lang)), exc.http_status
    if kiosk_state.pairing() is not None and request.form.get("confirm") != "yes":
        error, http_status = _("Tick the box to confirm that this kiosk should be paired again."), 400
    else:
        try:
            paired = client.pair(entered["server"], entered["code"], circulation().device)
        except MuontraError as exc:
            error, http_status = exc.message_in(g.lang), exc.http_status
        else:
            flash(_("Paired: this kiosk is “%(name)s” on %(server)s.", name=paired.name, server=paired.server),
                  "success")
            return redirect(url_for("sync_panel.panel"))
    return render_template("sync/panel.html", status=_status(), entered=entered, pair_error=error), http_status


@bp.get("/servers")
def servers() -> ResponseReturnValue:
    """School servers announcing themselves on the LAN (mDNS), for the pairing form to offer."""
    try:
        found = discovery.browse(float(current_app.config["DISCOVERY_SECONDS"]))
    except OSError as exc:  # no multicast on this network: the form still takes a typed address
        current_app.logger.warning("server discovery failed: %s", exc)
        found = []
    return jsonify({"servers": [{"name": s.name, "url": s.url} for s in found]})


@bp.get("/status")
def status():
    return jsonify(_status())


@bp.post("/now")
def sync_now():
    """Sync in this request (the page polls /status meanwhile for the progress bar)."""
    try:
        summary = _syncer().run_once(lock_wait=client.LOCK_WAIT)
    except client.SyncAlreadyRunning as exc:
        return jsonify({"error": {"code": exc.code, "message": exc.message_in(g.lang)},
                        "status": _status()}), exc.http_status
    return jsonify({"summary": summary.as_dict() if summary else None, "status": _status()})
