"""The librarian's report pages under /admin/reports: statistics, registers, labels, cards, teachers' links.

A class's overdue list and slips are on the librarian's overdue screen (/admin/overdue); the old
addresses here redirect to it, so bookmarks and printed instructions keep working.

Pages show the tables (and the charts as PNG from this server: kiosks are offline);
every table downloads as the same file the ``muontra report`` commands write.
Downloads are GET requests: they read, never change, anything.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import (
    Blueprint,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _

from ..errors import MuontraError
from ..models import Patron
from ..reports import cards, class_links, labels, overdue, registers, stats
from ..reports.common import Period, school_year_of
from ..reports.pdf import text as pdf_text
from ..webkit import require_login
from . import circulation
from .downloads import download

bp = Blueprint("reports", __name__, url_prefix="/admin/reports")
bp.before_request(require_login)
# The homeroom teacher's read-only page: no PIN, the link's token names the one class it shows.
teacher_bp = Blueprint("teacher", __name__, url_prefix="/class")


@bp.app_template_filter("report_cell")
def report_cell(value: Any) -> str:
    """A table cell as printed in the PDF (dates dd/mm/yyyy, decimal comma)."""
    return pdf_text(value)


def back_to_index_on_error(view: Callable) -> Callable:
    """A refused report (unknown class, bad period…) is a red message on the reports page, not an error page."""

    @wraps(view)
    def wrapper(**kwargs: Any):
        try:
            return view(**kwargs)
        except MuontraError as exc:
            flash(exc.message_in(g.lang), "error")
            return redirect(url_for("reports.index", **request.args))

    return wrapper


def classes() -> list[str]:
    names = {row.class_name for row in Patron.select(Patron.class_name).where(Patron.class_name != "").distinct()}
    return sorted(names, key=stats.class_sort_key)


def period_from_args() -> Period:
    args = request.args.to_dict()
    if not any(args.get(name) for name in ("year", "from", "to", "month")):
        # No period chosen: this school year (a page, unlike the command line, has a sensible default).
        args["year"] = school_year_of(circulation().today())
    term = args.get("term", "")
    return stats.period_from(
        args.get("year") or None, int(term) if term in ("1", "2") else None, args.get("month") or None,
        args.get("from") or None, args.get("to") or None,
    )


@bp.get("/")
def index():
    today = circulation().today()
    return render_template("reports/index.html", classes=classes(), current_year=school_year_of(today),
                           args=request.args, sheets=list(labels.PRESETS),
                           links=sorted(class_links.links().items(), key=lambda kv: kv[1]["class"]))


# ---------------------------------------------------------------- homeroom teachers' links


@bp.post("/links")
@back_to_index_on_error
def create_link():
    class_name = request.form.get("class", "")
    token = class_links.create_link(circulation(), class_name)
    flash(_("Link for class %(class_name)s: %(url)s", class_name=class_name.strip(),
            url=url_for("teacher.class_page", token=token, _external=True)), "success")
    return redirect(url_for("reports.index"))


@bp.post("/links/<token>/revoke")
@back_to_index_on_error
def revoke_link(token: str):
    class_name = class_links.revoke_link(circulation(), token)
    flash(_("The link for class %(class_name)s no longer works.", class_name=class_name), "success")
    return redirect(url_for("reports.index"))


@teacher_bp.get("/<token>")
def class_page(token: str):
    class_name = class_links.class_of(token)
    today = circulation().today()
    year = stats.period_from(school_year_of(today))
    return render_template(
        "reports/teacher.html", class_name=class_name, today=today, year=year,
        late=overdue.overdue_loans(class_name, today, circulation().timezone),
        readers=class_links.reading_counts(class_name, year, today, circulation().timezone),
    )


# ---------------------------------------------------------------- overdue (moved)


def _overdue_target(fmt: str | None = None) -> str:
    """Where an old /admin/reports/overdue address (class in ``?class=``) now lives under /admin/overdue."""
    class_name = request.args.get("class", "").strip()
    args = {"lang": request.args["lang"]} if "lang" in request.args else {}
    if not class_name:
        return url_for("admin.overdue", **args)
    if fmt:
        return url_for("admin.overdue_file", class_name=class_name, fmt=fmt, **args)
    return url_for("admin.overdue_class", class_name=class_name, **args)


@bp.get("/overdue")
def overdue_moved():
    return redirect(_overdue_target(), 301)


@bp.get("/overdue.<fmt>")
def overdue_file_moved(fmt: str):
    if fmt not in overdue.FORMATS:
        abort(404)
    return redirect(_overdue_target(fmt), 301)


# ---------------------------------------------------------------- statistics


@bp.get("/stats")
@back_to_index_on_error
def stats_page():
    report = stats.compute(period_from_args(), circulation().timezone, g.lang)
    title, subtitle = stats.heading(report, g.lang)
    args = request.args.to_dict()
    return render_template(
        "reports/table.html", heading=title, subtitle=subtitle,
        tables=[report.tables[key] for key in stats.ORDER],
        charts=[(report.charts[key][0], url_for("reports.chart", key=key, **args)) for key in report.charts],
        downloads=[(fmt, url_for("reports.stats_file", fmt=fmt, **args)) for fmt in stats.FORMATS],
    )


@bp.get("/stats.<fmt>")
@back_to_index_on_error
def stats_file(fmt: str):
    if fmt not in stats.FORMATS:
        abort(404)
    report = stats.compute(period_from_args(), circulation().timezone, g.lang)
    return download(lambda out: stats.write(fmt, out, report, g.lang), fmt, f"thong-ke-{report.period.label}")


@bp.get("/chart/<key>.png")
@back_to_index_on_error
def chart(key: str):
    report = stats.compute(period_from_args(), circulation().timezone, g.lang)
    if key not in report.charts:
        abort(404)
    title, names, values = report.charts[key]
    png = stats.chart_png(title, names, values, horizontal=(key == "categories"))
    return download(lambda out: out.write(png), "png", key)


# ---------------------------------------------------------------- registers


@bp.get("/register/<kind>.<fmt>")
@back_to_index_on_error
def register_file(kind: str, fmt: str):
    if kind not in registers.KINDS or fmt not in registers.FORMATS:
        abort(404)
    args = request.args.to_dict()
    if not any(args.get(name) for name in ("year", "from", "to", "month")):
        args["year"] = school_year_of(circulation().today())
    period = stats.period_from(args.get("year") or None, None, args.get("month") or None,
                               args.get("from") or None, args.get("to") or None)
    tables = registers.build(kind, period, circulation().timezone, g.lang, prefix=args.get("prefix") or None)
    return download(lambda out: registers.write(fmt, out, kind, tables, period, g.lang), fmt,
                    f"{registers.FILE_NAMES[kind]}-{period.label}")


# ---------------------------------------------------------------- labels and cards


@bp.get("/labels.pdf")
@back_to_index_on_error
def labels_file():
    args = request.args
    sheet = labels.make_sheet(args.get("sheet") or "3x8", args.get("grid") or None, args.get("margins") or None,
                              args.get("gaps") or None)
    codes = [code for code in args.get("copies", "").replace("\n", ",").split(",") if code.strip()]
    chosen = labels.select_copies(codes, args.get("all") == "1", args.get("isbn") or None)
    start = args.get("start", "1")
    if not start.isdigit():
        raise labels.BadGrid(value=start, hint=f"1 … {sheet.per_page}")
    spine = args.get("spine") == "1"
    return download(lambda out: labels.write_labels(out, chosen, sheet, start=int(start), spine=spine), "pdf",
                    "nhan-gay" if spine else "nhan-sach")


@bp.get("/cards.pdf")
@back_to_index_on_error
def cards_file():
    class_name = request.args.get("class", "")
    patrons = cards.class_patrons(class_name)
    return download(lambda out: cards.write_cards(out, patrons, circulation().today(), g.lang), "pdf",
                    f"the-thu-vien-{class_name.strip()}")
