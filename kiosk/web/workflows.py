"""Staff pages: helper mode (a helper's card) and the librarian's workflow pages.

A helper's card opens batch return, rotation check-out, shelving and stock-take
scanning without the PIN; opening batches and stock-takes, finishing, exports and
intake need the librarian. Views only parse, call kiosk.workflows.services, render.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import asdict
from datetime import date, datetime, timedelta
from functools import wraps
from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from ..admin_auth import end_session, verify_admin_pin
from ..errors import N_, BadInput, MuontraError
from ..i18n import translate
from ..spreadsheet import parse_date
from ..webkit import SESSION_KEY as LIBRARIAN_KEY
from ..webkit import (
    client_key,
    current_session_id,
    json_body,
    librarian_signed_in,
    safe_next,
    start_librarian_session,
)
from ..workflows import rules
from ..workflows.services import LIBRARIAN, BatchView, ReturnScan, StocktakeScanResult, Workflows
from . import circulation
from .api import admit_card

bp = Blueprint("workflows", __name__, url_prefix="/staff")

STAFF_KEY = "staff"  # {"who": helper code or "librarian", "until": iso time}


class BadDate(BadInput):
    code = "bad_date"
    message = N_("Please give a date.")


def service() -> Workflows:
    return Workflows(circulation())


def _now() -> datetime:
    return circulation().now()


def _sign_in(who: str) -> None:
    session[STAFF_KEY] = {"who": who, "until": _deadline()}


def _deadline() -> str:
    return (_now() + timedelta(minutes=current_app.config["ADMIN_SESSION_MINUTES"])).isoformat()


def staff() -> str | None:
    """Who is signed in on this kiosk for staff work: a helper's code, "librarian", or None."""
    if librarian_signed_in(touch=True):  # the librarian's /admin PIN session counts here too (one PIN)
        return LIBRARIAN
    state = session.get(STAFF_KEY)
    if not isinstance(state, dict) or datetime.fromisoformat(state["until"]) < _now() or state.get("who") == LIBRARIAN:
        session.pop(STAFF_KEY, None)
        return None
    state["until"] = _deadline()  # sliding: a helper scanning a whole batch stays signed in
    session.modified = True
    return state["who"]


def staff_required(librarian: bool = False) -> Callable:
    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any):
            who = staff()
            if who is None:
                if request.method == "GET" and not request.is_json:
                    return redirect(url_for("workflows.start", next=request.path))
                raise rules.StaffOnly()
            if librarian and who != LIBRARIAN:
                raise rules.LibrarianOnly()
            g.staff = who
            return view(*args, **kwargs)

        return wrapper

    return decorate


@bp.app_context_processor
def _staff_context() -> dict[str, Any]:
    from ..workflows.rules import location_label

    return {"staff_who": getattr(g, "staff", None), "location_label": lambda loc: location_label(loc, g.lang)}


def _scan_body(*fields: str) -> dict[str, str]:
    return json_body(*fields)


def _next(target: str | None) -> str:
    return safe_next(target, url_for("workflows.menu"), "/staff")


# ---------------------------------------------------------------- signing in


@bp.get("/")
def start():
    if staff() is not None:
        return redirect(url_for("workflows.menu"))
    return render_template("workflows/start.html", next=request.args.get("next", ""))


@bp.post("/helper")
def helper_sign_in():
    body = _scan_body("card")
    # A typed code is a guess until proven otherwise: every code counts against the public screen's
    # card limit, wrong ones against HELPER_WRONG_CARD_LIMIT, and each attempt is logged.
    wrong_cards, now = current_app.extensions["helper_failures"], _now().timestamp()
    wrong_cards.check(client_key(), now)
    admit_card(body["card"])
    try:
        patron = service().helper_sign_in(body["card"])
    except MuontraError as exc:
        wrong_cards.failed(client_key(), now)
        current_app.logger.warning("helper sign-in refused (%s) from %s", exc.code, client_key())
        raise
    current_app.logger.info("helper %s signed in from %s", patron.code, client_key())
    _sign_in(patron.code)
    return jsonify({"helper": {"code": patron.code, "first_name": patron.first_name},
                    "next": _next(request.args.get("next"))})


@bp.post("/pin")
def librarian_sign_in():
    try:
        session_id = verify_admin_pin(request.form.get("pin", ""), _now(), current_app.config["PIN_MAX_ATTEMPTS"],
                                      current_app.config["PIN_LOCKOUT_MINUTES"], client_key())
    except MuontraError as exc:
        current_app.logger.warning("wrong librarian PIN from %s (%s)", client_key(), exc.code)
        return render_template("workflows/start.html", next=request.form.get("next", ""),
                               error=exc.message_in(g.lang)), exc.http_status
    session.pop(STAFF_KEY, None)
    start_librarian_session(session_id)  # the staff pages and /admin, without a second PIN
    return redirect(_next(request.form.get("next")))


@bp.post("/signout")
def sign_out():
    session.pop(STAFF_KEY, None)
    end_session(current_session_id())
    session.pop(LIBRARIAN_KEY, None)
    return redirect(url_for("workflows.start"))


@bp.get("/menu")
@staff_required()
def menu():
    wf = service()
    return render_template("workflows/menu.html", batches=wf.batches(),
                           stocktakes=[s for s in wf.stocktakes() if s.finished_at is None])


# ---------------------------------------------------------------- rotation


@bp.get("/rotation")
@staff_required()
def rotation():
    return render_template("workflows/rotation.html", batches=service().batches(), today=_today(),
                           default_due=_today() + timedelta(days=28))


def _today() -> date:
    return circulation().today()


def _day(text: str | None) -> date:
    """dd/mm/yyyy (or yyyy-mm-dd): never the browser's locale order."""

    day = parse_date((text or "").strip())
    if day is None:
        raise BadDate()
    return day


@bp.post("/rotation")
@staff_required(librarian=True)
def open_batch():
    form = request.form
    helpers = [code for code in form.get("helpers", "").replace(",", " ").split() if code]
    uuid = service().open_batch(form.get("class_name", ""), form.get("teacher", ""), helpers,
                                _day(form.get("due")), by=g.staff)
    return redirect(url_for("workflows.batch_send", uuid=uuid))


def batch_json(view: BatchView) -> dict[str, Any]:
    return {
        "uuid": view.uuid, "location": view.location, "class_name": view.class_name,
        "returned": view.returned, "total": view.total, "closed": view.closed_at is not None,
        "missing": [{"code": item.code, "title": item.title, "on_loan": item.on_loan,
                     "borrower": item.borrower} for item in view.missing],
        "items": [item.code for item in view.items],
    }


def _batch_view(uuid: str) -> BatchView:
    # Helpers see "on loan", never the student: only the librarian gets borrowers' names.
    return service().batch_view(uuid, show_borrowers=g.staff == LIBRARIAN)


@bp.get("/rotation/<uuid>/send")
@staff_required()
def batch_send(uuid: str):
    return render_template("workflows/batch_send.html", batch=_batch_view(uuid))


@bp.get("/rotation/<uuid>/return")
@staff_required()
def batch_return(uuid: str):
    return render_template("workflows/batch_return.html", batch=_batch_view(uuid))


@bp.get("/rotation/<uuid>/summary")
@staff_required()
def batch_summary(uuid: str):
    return render_template("workflows/batch_summary.html", batch=_batch_view(uuid), printed=_now())


@bp.post("/rotation/<uuid>/close")
@staff_required(librarian=True)
def close_batch(uuid: str):
    service().close_batch(uuid, by=g.staff)
    return redirect(url_for("workflows.batch_summary", uuid=uuid))


@bp.post("/rotation/<uuid>/add")
@staff_required()
def batch_add(uuid: str):
    body = _scan_body("code")
    view = service().add_to_batch(uuid, body["code"], by=g.staff)
    return jsonify({"batch": batch_json(_batch_view(view.uuid)),
                    "message": translate(N_("Added. The batch has %(total)s books."), g.lang, total=view.total)})


RETURN_MESSAGES = {
    "returned": N_("Back: %(returned)s / %(total)s"),
    "again": N_("Already scanned back."),
    "other_batch": N_("STOP: this book belongs to %(place)s, not to this batch. Put it aside."),
    "not_in_batch": N_("STOP: this book is not part of this batch (it belongs to %(place)s). Put it aside."),
    "unknown": N_("STOP: this code is not in the catalogue. Put the book aside for the librarian."),
}


def return_json(scan: ReturnScan) -> dict[str, Any]:
    place = rules.location_label(scan.location, g.lang) if scan.location else ""
    message = translate(RETURN_MESSAGES[scan.outcome], g.lang, returned=scan.returned, total=scan.total,
                        place=place)
    if scan.loan_closed:
        message += " " + translate(N_("It was on loan: the loan is now returned."), g.lang)
    return {**asdict(scan), "message": message, "place": place}


@bp.post("/rotation/<uuid>/return")
@staff_required()
def batch_return_scan(uuid: str):
    body = _scan_body("code")
    scan = service().return_scan(uuid, body["code"], by=g.staff)
    return jsonify({"scan": return_json(scan), "batch": batch_json(_batch_view(uuid))})


@bp.post("/rotation/<uuid>/undo")
@staff_required()
def batch_undo(uuid: str):
    item = service().undo_return(uuid, by=g.staff)
    return jsonify({"undone": item, "message": translate(N_("Undone: %(item)s is not counted as back."), g.lang,
                                                         item=item),
                    "batch": batch_json(_batch_view(uuid))})


# ---------------------------------------------------------------- shelving


@bp.get("/shelving")
@staff_required()
def shelving():
    return render_template("workflows/shelving.html")


@bp.post("/shelving")
@staff_required()
def shelving_scan():
    body = _scan_body("code")
    place = service().shelving(body["code"])
    return jsonify({"shelving": {**asdict(place), "place": rules.location_label(place.location, g.lang)}})


# ---------------------------------------------------------------- stock-take


@bp.get("/stocktake")
@staff_required()
def stocktakes():
    wf = service()
    return render_template("workflows/stocktakes.html", sessions=wf.stocktakes(), locations=wf.locations())


@bp.post("/stocktake")
@staff_required(librarian=True)
def open_stocktake():
    form = request.form
    uuid = service().open_stocktake(form.get("location") or None, form.get("shelf_from", ""),
                                    form.get("shelf_to", ""), by=g.staff)
    return redirect(url_for("workflows.stocktake", uuid=uuid))


@bp.get("/stocktake/<uuid>")
@staff_required()
def stocktake(uuid: str):
    return render_template("workflows/stocktake.html", view=service().stocktake_view(uuid))


SCAN_MESSAGES = {
    "counted": N_("Counted."),
    "again": N_("Already counted."),
    "on_loan": N_("This copy is on loan: put it aside for the librarian."),
    "misplaced": N_("Misplaced: it belongs to %(place)s, shelf %(shelf)s."),
    "unknown": N_("Not in the catalogue: put it aside for the librarian."),
}


def stocktake_scan_json(scan: StocktakeScanResult) -> dict[str, Any]:
    place = rules.location_label(scan.location, g.lang) if scan.location else ""
    return {**asdict(scan), "message": translate(SCAN_MESSAGES[scan.outcome], g.lang, place=place,
                                                 shelf=scan.shelf or "–")}


@bp.post("/stocktake/<uuid>/scan")
@staff_required()
def stocktake_scan(uuid: str):
    body = _scan_body("code")
    return jsonify({"scan": stocktake_scan_json(service().stocktake_scan(uuid, body["code"], by=g.staff))})


@bp.post("/stocktake/<uuid>/finish")
@staff_required(librarian=True)
def finish_stocktake(uuid: str):
    service().finish_stocktake(uuid, by=g.staff)
    return redirect(url_for("workflows.stocktake", uuid=uuid))


@bp.get("/stocktake/<uuid>/record.<fmt>")
@staff_required(librarian=True)
def stocktake_record(uuid: str, fmt: str):
    from ..workflows import export

    view = service().stocktake_view(uuid)
    buffer = io.BytesIO()
    export.write(fmt, buffer, view, g.lang)
    mimetype = {"pdf": "application/pdf",
                "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}[fmt]
    return Response(buffer.getvalue(), mimetype=mimetype, headers={
        "Content-Disposition": f'attachment; filename="kiem-ke-{view.uuid[:8]}.{fmt}"'})


# ---------------------------------------------------------------- intake


@bp.get("/intake")
@staff_required(librarian=True)
def intake():
    return render_template("workflows/intake.html", prefixes=service().prefixes(), receipt=None, form={})


@bp.post("/intake/isbn")
@staff_required(librarian=True)
def intake_isbn():
    title = service().lookup_isbn(_scan_body("isbn")["isbn"])
    fields = ("isbn", "title", "author", "publisher", "year", "category", "classification")
    return jsonify({"title": {name: getattr(title, name) for name in fields} if title else None})


def _number(text: str | None) -> int | None:
    text = (text or "").strip().replace(".", "")
    if not text:
        return None
    if not text.isdigit():
        raise rules.BadCount(most=500)
    return int(text)


@bp.post("/intake")
@staff_required(librarian=True)
def receive():
    form = request.form
    wf = service()
    try:
        receipt = wf.receive(
            isbn=form.get("isbn", ""), title=form.get("title", ""), author=form.get("author", ""),
            publisher=form.get("publisher", ""), year=_number(form.get("year")),
            classification=form.get("classification", ""), prefix=form.get("prefix", ""),
            count=_number(form.get("count")) or 0, shelf=form.get("shelf", ""), price=_number(form.get("price")),
            donor=form.get("donor", ""), source="donation" if form.get("donor", "").strip() else "purchase",
            by=g.staff,
        )
    except rules.WorkflowError as exc:
        # Keep what was typed: a refusal must not lose the librarian's work.
        return render_template("workflows/intake.html", prefixes=wf.prefixes(), receipt=None, form=form,
                               error=exc.message_in(g.lang)), exc.http_status
    return render_template("workflows/intake.html", prefixes=wf.prefixes(), receipt=receipt, form={})


@bp.get("/intake/labels.pdf")
@staff_required(librarian=True)
def intake_labels():
    from ..workflows.labels import write_labels

    codes = [code for code in request.args.get("codes", "").split(",") if code]
    buffer = io.BytesIO()
    write_labels(buffer, codes)
    return Response(buffer.getvalue(), mimetype="application/pdf")
