"""The librarian's pages under /admin: PIN login, search, a reader's loans, copies, policy, calendar.

Views parse the form, call one service, and redirect with a message (post/redirect/get);
every form carries a CSRF token (Flask-WTF checks it app-wide).
"""

from __future__ import annotations

import io
import json
import re
import secrets
import time
from collections.abc import Callable, Mapping
from datetime import timedelta
from functools import wraps
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from .. import queries
from ..admin_auth import change_admin_pin, end_session, pin_is_default, verify_admin_pin
from ..admin_input import (
    DUE_MODES,
    RULE_FIELDS,
    InvalidForm,
    parse_calendar,
    parse_copy,
    parse_patron,
    parse_policy,
)
from ..errors import N_, MuontraError
from ..exporter import FORMATS as EXPORT_FORMATS
from ..exporter import export
from ..i18n import translate
from ..import_plan import MAX_FILE_BYTES, MAX_LISTED_PROBLEMS
from ..importer import KINDS, ImportPlan, apply_plan, changes_fingerprint, parse_amount, plan_import
from ..marc import parse_type_map
from ..models import Patron
from ..reports import overdue as overdue_report
from ..reports.common import UnknownClass
from ..rules import OVERRIDABLE, OVERRIDE_REASON_WORDS, STATUS_WORDS, settlement
from ..services import CheckinReceipt, LoanReceipt, RenewReceipt, load_policy, stored_setting_problems
from ..spreadsheet import megabytes
from ..vocabulary import CATEGORIES, PATRON_KINDS
from ..webkit import (
    SESSION_KEY,
    client_key,
    current_session_id,
    require_login,
    safe_next,
    start_librarian_session,
)
from . import circulation
from .downloads import download

bp = Blueprint("admin", __name__, url_prefix="/admin")

# Librarian actions on a copy (rules.TRANSITIONS): the form offers exactly these.
COPY_ACTIONS = ("mark_lost", "mark_damaged", "withdraw", "mark_not_for_loan", "mark_available")
NEW_RULE_ROWS = 3

# Button labels of the librarian's copy actions (rules.ACTION_PAST_WORDS words a refusal).
COPY_ACTION_LABELS = {
    "mark_lost": N_("Mark as lost"),
    "mark_damaged": N_("Mark as damaged"),
    "withdraw": N_("Withdraw"),
    "mark_not_for_loan": N_("Not for loan (read in the library)"),
    "mark_available": N_("Back on the shelf"),
}
KIND_WORDS = {"student": N_("student"), "teacher": N_("teacher"), "helper": N_("student helper"),
              "*": N_("everyone else")}
CATEGORY_WORDS = {"SGK": N_("SGK textbooks"), "STK": N_("STK reference"), "SNV": N_("SNV teachers' books"),
                  "TN": N_("TN children's books"), "periodical": N_("periodicals"), "other": N_("other"),
                  "*": N_("all other books")}
DUE_MODE_WORDS = {"days": N_("after the loan days"), "term_end": N_("at the end of the term"),
                  "year_end": N_("at the end of the school year")}
# The kiosk's refusals speak to a child ("Em đang mượn 3 cuốn…"); at the desk the librarian reads
# what the rules decided about the reader, and what she can do about it.
STAFF_MESSAGES = {
    "loan_limit": N_("The reader already has %(count)s books, the most allowed for this kind of book."),
    "has_overdue": N_("The reader has “%(title)s” %(days)s day(s) overdue: no new loan until it is returned."),
    "inactive_patron": N_("This card is not active."),
    "unknown_patron": N_("No reader has this card code."),
    "unknown_copy": N_("No copy has this label in the catalogue."),
    "copy_on_loan": N_("This copy is on loan to another reader: check it in first."),
    "already_yours": N_("The reader already has this copy."),
    "copy_not_for_loan": N_("This copy is for reading in the library only."),
    "copy_lost": N_("This copy is recorded as lost: check it in to mark it found."),
    "copy_damaged": N_("This copy is marked as damaged."),
    "copy_withdrawn": N_("This copy has been withdrawn from the collection."),
    "renewal_limit": N_("This loan has been renewed as often as the rules allow."),
    "renew_overdue": N_("This loan is overdue and cannot be renewed: check the book in."),
    "not_your_loan": N_("This copy is on loan to another reader."),
}
SETTLEMENT_WORDS = {"replaced": N_("Replaced by a copy"), "paid": N_("Paid"), "owed": N_("Still owed")}
OFFER_KEY = "override_offer"


def staff_message(exc: MuontraError, lang: str) -> str:
    """A refusal worded for the librarian at the desk (the child's wording where none is needed)."""
    wording = STAFF_MESSAGES.get(exc.code)
    if wording is None:
        return exc.message_in(lang)
    try:
        return translate(wording, lang, **exc.params) if exc.params else translate(wording, lang)
    except (KeyError, ValueError):
        return exc.message_in(lang)


WEEKDAY_WORDS = (N_("Monday"), N_("Tuesday"), N_("Wednesday"), N_("Thursday"), N_("Friday"), N_("Saturday"),
                 N_("Sunday"))


bp.before_request(require_login)


@bp.context_processor
def _admin_layout() -> dict[str, Any]:
    offer = session.get(OFFER_KEY)
    if offer and offer.get("where") != request.path:
        offer = None
    return {"override_offer": offer, "override_reasons": OVERRIDE_REASON_WORDS, "settlement_words": SETTLEMENT_WORDS,
            "pin_is_default": pin_is_default(), "setting_problems": stored_setting_problems(),
            "status_words": STATUS_WORDS, "copy_action_labels": COPY_ACTION_LABELS,
            "kind_words": KIND_WORDS, "category_words": CATEGORY_WORDS, "due_mode_words": DUE_MODE_WORDS,
            "weekday_words": WEEKDAY_WORDS}


def acting(success_message_for: Callable[[Any], str], back: Callable[..., str]) -> Callable:
    """Run a librarian action, then go ``back`` (a function of the view's arguments and outcome):
    a refusal becomes a red message there, never an error page."""

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(**kwargs: Any) -> ResponseReturnValue:
            try:
                outcome = view(**kwargs)
            except InvalidForm as exc:
                for problem in exc.problems_in(g.lang):
                    flash(problem, "error")
                return redirect(back(None, **kwargs))
            except MuontraError as exc:
                flash(staff_message(exc, g.lang), "error")
                if exc.code in OVERRIDABLE and "item" in request.form and "override" not in request.form:
                    # Offer the override on the page the librarian goes back to.
                    session[OFFER_KEY] = {"item": request.form["item"][:64], "refusal": exc.code,
                                          "where": back(None, **kwargs)}
                return redirect(back(None, **kwargs))
            flash(success_message_for(outcome), "success")
            return redirect(back(outcome, **kwargs))

        return wrapper

    return decorate


def to_patron(_outcome: object, code: str) -> str:
    return url_for("admin.patron", code=code)


def to_copy(_outcome: object, code: str) -> str:
    return url_for("admin.copy", code=code)


# ---------------------------------------------------------------- login


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    error, status, retry = None, 200, None
    if request.method == "POST":
        config = current_app.config
        try:
            session_id = verify_admin_pin(request.form.get("pin", ""), circulation().now(),
                                          config["PIN_MAX_ATTEMPTS"], config["PIN_LOCKOUT_MINUTES"], client_key())
        except MuontraError as exc:
            error, status, retry = exc.message_in(g.lang), exc.http_status, exc.params.get("retry_after")
            current_app.logger.warning("wrong librarian PIN from %s (%s)", client_key(), exc.code)
        else:
            start_librarian_session(session_id)
            return redirect(safe_next(request.args.get("next"), url_for("admin.home"), "/admin"))
    response = make_response(render_template("admin/login.html", error=error), status)
    if retry:
        response.headers["Retry-After"] = str(int(retry))
    return response


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    end_session(current_session_id())
    session.pop(SESSION_KEY, None)
    return redirect(url_for("pages.idle"))


@bp.route("/pin", methods=["GET", "POST"])
def change_pin() -> ResponseReturnValue:
    if request.method == "POST":
        pin, again = request.form.get("pin", ""), request.form.get("again", "")
        if pin != again:
            flash(_("The two PINs are not the same."), "error")
        else:
            try:
                session_id = change_admin_pin(request.form.get("current", ""), pin, circulation().now())
            except MuontraError as exc:
                flash(exc.message_in(g.lang), "error")
            else:
                # Every other session (another tablet, a stolen cookie) ended with the old PIN.
                start_librarian_session(session_id)
                flash(_("The new PIN is saved."), "success")
                return redirect(url_for("admin.home"))
    return render_template("admin/pin.html")


# ---------------------------------------------------------------- search


@bp.get("/")
def home() -> ResponseReturnValue:
    return render_template("admin/home.html", counts=queries.counts(circulation().today()))


@bp.post("/school")
def save_school() -> ResponseReturnValue:
    """The school's name, shown on the kiosk, its receipts and every printed report."""
    name = " ".join(request.form.get("school_name", "").split())[:120]
    circulation().record_facts([("setting.set", {"key": "school_name", "value": name})])
    flash(_("The school name is saved."), "success")
    return redirect(url_for("admin.home"))


@bp.get("/search")
def search() -> ResponseReturnValue:
    text = request.args.get("q", "").strip()
    return render_template("admin/search.html", q=text, patrons=queries.search_patrons(text),
                           copies=queries.search_copies(text))


# ---------------------------------------------------------------- patrons


def _patron_or_404(code: str) -> Patron:
    patron = Patron.get_or_none(Patron.code == code)
    if patron is None:
        abort(404)
    return patron


@bp.get("/patrons/<path:code>")
def patron(code: str) -> ResponseReturnValue:
    reader = _patron_or_404(code)
    return render_template("admin/patron.html", patron=reader, loans=queries.loans_of(reader, circulation().today()),
                           kinds=PATRON_KINDS)


@bp.get("/patrons/new")
def new_patron() -> ResponseReturnValue:
    return render_template("admin/patron_form.html", patron=None, kinds=PATRON_KINDS)


@bp.post("/patrons/save")
@acting(lambda code: _("The reader %(code)s is saved.", code=code),
        lambda code: url_for("admin.patron", code=code) if code else url_for("admin.new_patron"))
def save_patron() -> str:
    values = parse_patron(request.form, circulation().clean(request.form.get("code", "")))
    return circulation().upsert_patron(values.code, values.name, values.class_name, values.kind, values.school_year,
                                values.active)


@bp.post("/patrons/<path:code>/checkout")
@acting(lambda receipt: _("Lent: %(title)s, due %(due)s.", title=receipt.title,
                          due=receipt.due.strftime("%d/%m/%Y")), to_patron)
def checkout_for(code: str) -> LoanReceipt:
    session.pop(OFFER_KEY, None)
    override = request.form.get("override") or None
    return circulation().checkout(code, request.form.get("item", ""), override=override, at_the_desk=True)


@bp.post("/patrons/<path:code>/checkin")
@acting(lambda receipt: _("Returned: %(title)s.", title=receipt.title or receipt.item), to_patron)
def checkin_for(code: str) -> CheckinReceipt:
    return circulation().checkin(request.form.get("item", ""))


@bp.post("/patrons/<path:code>/renew")
@acting(lambda receipt: _("Renewed: %(title)s, now due %(due)s.", title=receipt.title,
                          due=receipt.due.strftime("%d/%m/%Y")), to_patron)
def renew_for(code: str) -> RenewReceipt:
    return circulation().renew(code, request.form.get("item", ""))


# ---------------------------------------------------------------- copies


@bp.get("/copies/<path:code>")
def copy(code: str) -> ResponseReturnValue:
    found = queries.find_copy(code)
    if found is None:
        abort(404)
    return render_template("admin/copy.html", copy=found, loan=queries.open_loan_line(found, circulation().today()),
                           borrower=queries.borrower_of(found), actions=COPY_ACTIONS, categories=CATEGORIES)


@bp.get("/copies/new")
def new_copy() -> ResponseReturnValue:
    return render_template("admin/copy_form.html", copy=None, categories=CATEGORIES)


@bp.post("/copies/save")
@acting(lambda item: _("The copy %(code)s is saved.", code=item),
        lambda item: url_for("admin.copy", code=item) if item else url_for("admin.new_copy"))
def save_copy() -> str:
    values = parse_copy(request.form, circulation().clean(request.form.get("item", "")))
    return circulation().upsert_copy(values.item, values.title, values.isbn, values.author, values.publisher,
                              values.year, values.category, values.classification, values.location,
                              values.shelf)


@bp.post("/copies/<path:code>/status")
@acting(lambda status: _("The copy is now: %(status)s.", status=_(STATUS_WORDS[status])), to_copy)
def copy_status(code: str) -> str:
    action = request.form.get("action", "")
    if action not in COPY_ACTIONS:
        abort(400)
    settled = None
    if action in ("mark_lost", "mark_damaged") and request.form.get("how"):
        replacement = request.form.get("replacement", "").strip()
        settled = settlement(request.form["how"], parse_amount(request.form.get("amount", "")),
                             circulation().clean(replacement)[:64] if replacement else "")
    return circulation().set_copy_status(code, action, request.form.get("note", "").strip()[:200], settled)



@bp.post("/copies/<path:code>/checkin")
@acting(lambda receipt: _("Returned: %(title)s.", title=receipt.title or receipt.item), to_copy)
def copy_checkin(code: str) -> CheckinReceipt:
    return circulation().checkin(code)


# ---------------------------------------------------------------- overdue books by class
# Classes with overdue books → one class's list → its reminder slips (pdf) or list (xlsx, csv) for the
# homeroom teacher. Class names may hold "/" or "." (6/1, 6.1), hence the path converter and the
# download route matching only the known formats.

OVERDUE_FORMATS = f"<any({', '.join(overdue_report.FORMATS)}):fmt>"


def _overdue_classes(error: str = "") -> ResponseReturnValue:
    return render_template("admin/overdue.html", classes=queries.overdue_by_class(circulation().today()), error=error)


def _unknown_class_shows_the_classes(view: Callable) -> Callable:
    """An unknown class (a mistyped or old address) is a 404 with the reason above the list of classes."""

    @wraps(view)
    def wrapper(**kwargs: Any) -> ResponseReturnValue:
        try:
            return view(**kwargs)
        except UnknownClass as exc:
            return _overdue_classes(exc.message_in(g.lang)), exc.http_status

    return wrapper


@bp.get("/overdue")
def overdue() -> ResponseReturnValue:
    return _overdue_classes()


@bp.get("/overdue/<path:class_name>")
@_unknown_class_shows_the_classes
def overdue_class(class_name: str) -> ResponseReturnValue:
    today = circulation().today()
    loans = overdue_report.overdue_loans(class_name, today, circulation().timezone)
    return render_template("admin/overdue_class.html", class_name=class_name, today=today, loans=loans)


@bp.get(f"/overdue/<path:class_name>.{OVERDUE_FORMATS}")
@_unknown_class_shows_the_classes
def overdue_file(class_name: str, fmt: str) -> ResponseReturnValue:
    """The same files as ``muontra report overdue``."""
    today = circulation().today()
    loans = overdue_report.overdue_loans(class_name, today, circulation().timezone)
    return download(lambda out: overdue_report.write(fmt, out, class_name, today, loans, g.lang), fmt,
                    f"qua-han-{class_name.replace('/', '-')}-{today.isoformat()}")


# ---------------------------------------------------------------- policy and calendar


def _render_policy(rows: list[dict], block_when_overdue: bool, problems: list[str] | None = None) -> ResponseReturnValue:
    return render_template("admin/policy.html", rows=rows, blank=NEW_RULE_ROWS, kinds=PATRON_KINDS,
                           categories=CATEGORIES, due_modes=DUE_MODES, block_when_overdue=block_when_overdue,
                           problems=problems or [])


@bp.get("/policy")
def policy() -> ResponseReturnValue:
    current = load_policy()
    rows = [dict(vars(rule)) for rule in sorted(current.rules.values(),
                                                key=lambda r: (r.patron_kind, r.category != "*", r.category))]
    return _render_policy(rows, current.block_when_overdue)


@bp.post("/policy")
def save_policy() -> ResponseReturnValue:
    count = min(int(request.form.get("rows", "0") or 0) if request.form.get("rows", "").isdigit() else 0, 500)
    rows = [{name: request.form.get(f"rule-{index}-{name}", "") for name in (*RULE_FIELDS, "delete")}
            for index in range(count)]
    block = bool(request.form.get("block_when_overdue"))
    try:
        rules = parse_policy(rows)
    except InvalidForm as exc:
        kept = [row for row in rows if row["patron_kind"]]
        return _render_policy(kept, block, exc.problems_in(g.lang)), 400
    circulation().set_policy(rules, block)
    flash(_("The lending rules are saved."), "success")
    return redirect(url_for("admin.policy"))


def _render_calendar(form: dict, problems: list[str] | None = None) -> ResponseReturnValue:
    term_ends = list(form["term_ends"])
    return render_template("admin/calendar.html", closed_weekdays=form["closed_weekdays"],
                           closed_text=form["closed_days"], term_ends=term_ends + [""] * max(0, 3 - len(term_ends)),
                           year_end=form["year_end"], problems=problems or [])


@bp.get("/calendar")
def calendar() -> ResponseReturnValue:
    current = load_policy()
    return _render_calendar({
        "closed_weekdays": [str(day) for day in current.calendar.closed_weekdays],
        "closed_days": "\n".join(f"{d.day.strftime('%d/%m/%Y')} {d.reason}".strip() for d in queries.closed_days()),
        "term_ends": [day.strftime("%d/%m/%Y") for day in current.term_ends],
        "year_end": current.year_end.strftime("%d/%m/%Y") if current.year_end else "",
    })


@bp.post("/calendar")
def save_calendar() -> ResponseReturnValue:
    form = {
        "closed_weekdays": request.form.getlist("closed_weekdays"),
        "closed_days": request.form.get("closed_days", ""),
        "term_ends": request.form.getlist("term_ends"),
        "year_end": request.form.get("year_end", ""),
    }
    try:
        values = parse_calendar(form)
    except InvalidForm as exc:
        return _render_calendar(form, exc.problems_in(g.lang)), 400
    circulation().set_calendar(list(values.closed_weekdays), list(values.closed_days), list(values.term_ends),
                        values.year_end)
    flash(_("The calendar is saved."), "success")
    return redirect(url_for("admin.calendar"))


@bp.app_template_filter("dmy")
def dmy(day) -> str:
    return day.strftime("%d/%m/%Y") if day else ""


# ---------------------------------------------------------------- import

# What the preview shows of each fact, per kind of file.
PREVIEW_FIELDS = {
    "patrons": (("code", N_("Card")), ("name", N_("Name")), ("class_name", N_("Class")), ("kind", N_("Kind"))),
    "catalog": (("item", N_("Label")), ("title", N_("Title")), ("author", N_("Author")),
                ("category", N_("Category")), ("isbn", N_("ISBN"))),
    "loans": (("patron", N_("Card")), ("item", N_("Label")), ("due", N_("Due"))),
}
PREVIEW_ROWS = 15
IMPORT_KIND_WORDS = {"patrons": N_("Readers (students, teachers)"), "catalog": N_("Catalogue (one row per copy)"),
                     "loans": N_("Open loans from the paper loan book")}
UPLOAD_MAX_AGE = timedelta(days=1)


def _uploads() -> Path:
    folder = Path(current_app.config["DATA_DIR"]) / "imports"
    folder.mkdir(exist_ok=True)
    return folder


def _keep_upload(kind: str, filename: str, data: bytes, options: dict, fingerprint: str) -> str:
    """Keep a checked file until the librarian confirms it (the browser sends it only once)."""
    folder = _uploads()
    limit = time.time() - UPLOAD_MAX_AGE.total_seconds()
    for old in folder.glob("*.json"):
        if old.stat().st_mtime < limit:
            old.with_suffix(".bin").unlink(missing_ok=True)
            old.unlink(missing_ok=True)
    token = secrets.token_hex(16)
    (folder / f"{token}.bin").write_bytes(data)
    (folder / f"{token}.json").write_text(json.dumps({"kind": kind, "filename": filename, "options": options,
                                                      "changes": fingerprint}))
    return token


def _load_upload(token: str) -> tuple[str, str, bytes, dict, str] | None:
    if not re.fullmatch(r"[0-9a-f]{32}", token or ""):
        return None
    folder = _uploads()
    try:
        meta = json.loads((folder / f"{token}.json").read_text())
        return (meta["kind"], meta["filename"], (folder / f"{token}.bin").read_bytes(), meta.get("options", {}),
                meta.get("changes", ""))
    except (OSError, ValueError, KeyError):
        return None


def _drop_upload(token: str) -> None:
    for suffix in (".bin", ".json"):
        (_uploads() / f"{token}{suffix}").unlink(missing_ok=True)


def _render_import(plan: ImportPlan | None = None, kind: str = "patrons", filename: str = "",
                   token: str | None = None, status: int = 200, options: dict | None = None) -> tuple[str, int]:
    preview = []
    if plan is not None and plan.ok:
        preview = [payload for _type, payload in plan.facts[:PREVIEW_ROWS]]
    return render_template("admin/import.html", plan=plan, kind=kind, kinds=KINDS, filename=filename,
                           token=token, preview=preview, fields=PREVIEW_FIELDS[kind], options=options or {},
                           import_words=IMPORT_KIND_WORDS, listed=MAX_LISTED_PROBLEMS,
                           categories=CATEGORIES, max_bytes=megabytes(MAX_FILE_BYTES),
                           export_formats=EXPORT_FORMATS), status


def _import_options(form: Mapping[str, str]) -> dict:
    """The catalogue's options, as the CLI has them: prefix, default category, item-type map, encoding."""
    options = {name: (form.get(name) or "").strip() or None for name in ("prefix", "category", "type_map", "encoding")}
    return {name: value for name, value in options.items() if value}


def _plan(kind: str, filename: str, data: bytes, options: dict) -> ImportPlan:
    values = dict(options)
    if "type_map" in values:
        values["type_map"] = parse_type_map(values["type_map"])
    return plan_import(kind, filename, data, **values)


@bp.get("/import")
def import_file() -> ResponseReturnValue:
    return _render_import()[0]


@bp.post("/import")
def check_import() -> ResponseReturnValue:
    kind = request.form.get("kind", "")
    upload = request.files.get("file")
    if kind not in KINDS:
        abort(400)
    if upload is None or not upload.filename:
        flash(_("Please choose a file."), "error")
        return redirect(url_for("admin.import_file"))
    data = upload.read(MAX_FILE_BYTES + 1)
    options = _import_options(request.form) if kind == "catalog" else {}
    try:
        plan = _plan(kind, upload.filename, data, options)
    except MuontraError as exc:  # a bad prefix, category or item-type map: the form says why
        flash(exc.message_in(g.lang), "error")
        return _render_import(None, kind, upload.filename, None, 422, options)
    token = _keep_upload(kind, upload.filename, data, options, changes_fingerprint(plan)) if plan.ok else None
    return _render_import(plan, kind, upload.filename, token, 200 if plan.ok else 422, options)


@bp.post("/import/confirm")
def confirm_import() -> ResponseReturnValue:
    kept = _load_upload(request.form.get("token", ""))
    if kept is None:
        flash(_("That file is no longer waiting to be imported. Please choose it again."), "error")
        return redirect(url_for("admin.import_file"))
    kind, filename, data, options, seen = kept
    # Checked again: the data may have changed since the preview (a copy lent meanwhile).
    plan = _plan(kind, filename, data, options)
    if not plan.ok:
        _drop_upload(request.form["token"])
        return _render_import(plan, kind, filename, None, 422, options)
    if changes_fingerprint(plan) != seen:
        # What would change is not what the librarian saw: show the new changes, confirm again.
        _drop_upload(request.form["token"])
        token = _keep_upload(kind, filename, data, options, changes_fingerprint(plan))
        flash(_("The stored data changed since the check: look at the changes again."), "error")
        return _render_import(plan, kind, filename, token, 409, options)
    try:
        count = apply_plan(circulation(), plan, accept_changes=True)
    except MuontraError as exc:
        flash(exc.message_in(g.lang), "error")
        return redirect(url_for("admin.import_file"))
    _drop_upload(request.form["token"])
    flash(_("Imported %(count)s rows from %(filename)s.", count=count, filename=filename), "success")
    return redirect(url_for("admin.import_file"))


# ---------------------------------------------------------------- export


@bp.get("/export/<kind>.<fmt>")
def export_file(kind: str, fmt: str) -> ResponseReturnValue:
    """The catalogue (MARC 21, xlsx, csv), the readers or the open loans (xlsx, csv), as `muontra export` writes them."""
    if kind not in EXPORT_FORMATS or fmt not in EXPORT_FORMATS[kind]:
        abort(404)
    if fmt != "marc":
        return download(lambda out: export(kind, fmt, out), fmt, f"muontra-{kind}")
    buffer = io.BytesIO()
    export(kind, fmt, buffer)
    buffer.seek(0)
    return send_file(buffer, mimetype="application/marc", as_attachment=True, download_name=f"muontra-{kind}.mrc")
