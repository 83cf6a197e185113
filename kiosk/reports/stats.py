"""Statistics for the board (Thông tư 16 reporting) and the reading festival, over any period.

Loans count by the local day they were made. "Students" are the patrons of kind
student and helper (helpers are students who also help the library); the share
of students who borrowed is taken over the active ones.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import IO
from zoneinfo import ZoneInfo

from ..errors import N_
from ..models import Copy, Event, Loan, Patron, Title
from ..vocabulary import COPY_STATUSES
from .common import (
    BadPeriod,
    Period,
    Table,
    date_range,
    local_day,
    month,
    school_name,
    school_year,
    sort_key,
    term,
    translator,
)

FORMATS = ("xlsx", "pdf")
STUDENT_KINDS = ("student", "helper")

CATEGORY_LABELS = {
    "SGK": N_("Textbooks (SGK)"),
    "STK": N_("Reference books (STK)"),
    "SNV": N_("Teachers' books (SNV)"),
    "TN": N_("Children's books (TN)"),
    "periodical": N_("Periodicals"),
    "other": N_("Other"),
}
STATUS_LABELS = {
    "available": N_("On the shelf"),
    "on_loan": N_("On loan"),
    "lost": N_("Lost"),
    "damaged": N_("Damaged"),
    "withdrawn": N_("Withdrawn"),
    "not_for_loan": N_("In-library use only"),
}
KIND_LABELS = {"student": N_("Students"), "teacher": N_("Teachers"), "helper": N_("Student helpers")}


def period_from(year: str | None = None, term_number: int | None = None, month_label: str | None = None,
                start: str | None = None, end: str | None = None) -> Period:
    """The period the options name: a month, a date range, or a school year (or one of its terms)."""
    if month_label:
        return month(month_label)
    if start or end:
        if not (start and end):
            raise BadPeriod(value=start or end, hint="--from YYYY-MM-DD --to YYYY-MM-DD")
        return date_range(start, end)
    if not year:
        raise BadPeriod(value="", hint="--year 2025-2026, --month 2026-03 or --from … --to …")
    whole = school_year(year)
    return term(whole, term_number) if term_number else whole


@dataclass
class Report:
    period: Period
    tables: dict[str, Table]
    charts: dict[str, tuple[str, list[str], list[float]]] = field(default_factory=dict)  # title, labels, values


def _loans_in(period: Period, timezone: ZoneInfo) -> list[tuple[date, Loan]]:
    start, stop = period.utc_bounds(timezone)
    query = (
        Loan.select(Loan, Copy, Title, Patron)
        .join(Copy).join(Title).switch(Loan).join(Patron)
        .where((Loan.checked_out_at >= start) & (Loan.checked_out_at < stop))
    )
    return [(local_day(loan.checked_out_at, timezone), loan) for loan in query]


def _ratio(part: float, whole: float) -> float:
    return round(part / whole, 2) if whole else 0.0


def withdrawal_facts(timezone: ZoneInfo, period: Period | None = None) -> dict[str, tuple[date, str]]:
    """Copy code → (local day, note) of its last withdrawal fact (within ``period`` if given)."""
    query = Event.select().where(Event.type == "copy.status").order_by(Event.device_time, Event.id)
    if period is not None:
        start, stop = period.utc_bounds(timezone)
        query = query.where((Event.device_time >= start) & (Event.device_time < stop))
    withdrawn: dict[str, tuple[date, str]] = {}
    for event in query:
        if event.payload.get("status") == "withdrawn":
            withdrawn[event.payload["item"]] = (local_day(event.device_time, timezone),
                                                event.payload.get("note", ""))
    return withdrawn


def withdrawals(period: Period, timezone: ZoneInfo) -> list[tuple[date, Copy, str]]:
    """Copies withdrawn during the period (still withdrawn), with the day and the reason noted."""
    withdrawn = withdrawal_facts(timezone, period)
    copies = Copy.select(Copy, Title).join(Title).where(
        Copy.code.in_(list(withdrawn)) & (Copy.status == "withdrawn"))
    return sorted(((withdrawn[c.code][0], c, c.status_note or withdrawn[c.code][1]) for c in copies),
                  key=lambda row: (row[0], row[1].code))


def compute(period: Period, timezone: ZoneInfo, lang: str, *, top: int = 10) -> Report:
    _ = translator(lang)
    loans = _loans_in(period, timezone)
    students = list(Patron.select().where(Patron.kind.in_(STUDENT_KINDS) & Patron.active))
    class_sizes = Counter(p.class_name for p in students if p.class_name)
    student_loans = [loan for _day, loan in loans if loan.patron.kind in STUDENT_KINDS]
    readers = {loan.patron.code for loan in student_loans}
    tables: dict[str, Table] = {}
    charts: dict[str, tuple[str, list[str], list[float]]] = {}

    tables["summary"] = Table(
        name=_("Summary"), title=_("Summary"), headers=[_("Indicator"), _("Value")], widths=[70, 30],
        rows=[
            [_("Loans"), len(loans)],
            [_("Loans by students"), len(student_loans)],
            [_("Active students"), len(students)],
            [_("Students who borrowed at least once"), len(readers)],
            [_("Share of students who borrowed (%)"), round(100 * _ratio(len(readers), len(students)), 1)],
            [_("Loans per student"), _ratio(len(student_loans), len(students))],
            [_("Loans returned in the period"), sum(1 for _day, loan in loans if loan.returned_at)],
        ],
    )

    per_month = Counter((day.year, day.month) for day, _loan in loans)
    month_readers: dict[tuple[int, int], set[str]] = {}
    for day, loan in loans:
        month_readers.setdefault((day.year, day.month), set()).add(loan.patron.code)
    tables["months"] = Table(
        name=_("By month"), title=_("Loans per month"), headers=[_("Month"), _("Loans"), _("Borrowers")],
        widths=[40, 30, 30],
        rows=[[f"{m:02d}/{y}", per_month[(y, m)], len(month_readers.get((y, m), ()))] for y, m in period.months()],
    )
    charts["months"] = (_("Loans per month"), [r[0][:2] + "/" + r[0][-2:] for r in tables["months"].rows],
                        [r[1] for r in tables["months"].rows])

    class_loans = Counter(loan.patron.class_name for loan in student_loans if loan.patron.class_name)
    class_readers: dict[str, set[str]] = {}
    for loan in student_loans:
        class_readers.setdefault(loan.patron.class_name, set()).add(loan.patron.code)
    class_rows = []
    for name in sorted(set(class_sizes) | set(class_loans), key=class_sort_key):
        size, count, borrowed = class_sizes[name], class_loans[name], len(class_readers.get(name, ()))
        class_rows.append([name, size, borrowed, round(100 * _ratio(borrowed, size), 1), count, _ratio(count, size)])
    class_headers = [_("Class"), _("Students"), _("Students who borrowed"), _("Share (%)"), _("Loans"),
                     _("Loans per student")]
    tables["classes"] = Table(name=_("By class"), title=_("Loans per class"), headers=class_headers,
                              rows=class_rows, widths=[16, 14, 18, 14, 14, 18])
    charts["classes"] = (_("Loans per class"), [r[0] for r in class_rows], [r[4] for r in class_rows])

    category_loans = Counter(loan.copy.title.category for _day, loan in loans)
    tables["categories"] = Table(
        name=_("By category"), title=_("Loans per category"), headers=[_("Category"), _("Loans")], widths=[70, 30],
        rows=[[_(CATEGORY_LABELS.get(c, c)), category_loans[c]] for c in _categories(category_loans)],
    )
    charts["categories"] = (_("Loans per category"), [r[0] for r in tables["categories"].rows],
                            [r[1] for r in tables["categories"].rows])

    kind_loans = Counter(loan.patron.kind for _day, loan in loans)
    kind_readers: dict[str, set[str]] = {}
    for _day, loan in loans:
        kind_readers.setdefault(loan.patron.kind, set()).add(loan.patron.code)
    tables["kinds"] = Table(
        name=_("By reader"), title=_("Loans per kind of reader"),
        headers=[_("Readers"), _("Borrowers"), _("Loans")], widths=[50, 25, 25],
        rows=[[_(label), len(kind_readers.get(kind, ())), kind_loans[kind]] for kind, label in KIND_LABELS.items()],
    )

    title_loans = Counter(loan.copy.title.id for _day, loan in loans)
    titles = {loan.copy.title.id: loan.copy.title for _day, loan in loans}
    ranked_titles = sorted(title_loans.items(), key=lambda kv: (-kv[1], sort_key(titles[kv[0]].title)))[:top]
    tables["top_titles"] = Table(
        name=_("Top titles"), title=_("Most borrowed titles"),
        headers=[_("Rank"), _("Title"), _("Author"), _("Category"), _("Loans")], widths=[8, 44, 24, 14, 10],
        rows=[[rank, titles[tid].title, titles[tid].author, titles[tid].category, count]
              for rank, (tid, count) in enumerate(ranked_titles, start=1)],
    )

    reader_loans = Counter(loan.patron.code for loan in student_loans)
    patrons = {loan.patron.code: loan.patron for loan in student_loans}
    ranked_readers = sorted(reader_loans.items(), key=lambda kv: (-kv[1], sort_key(patrons[kv[0]].name)))[:top]
    tables["top_readers"] = Table(
        name=_("Top readers"), title=_("Top readers (reading festival)"),
        headers=[_("Rank"), _("Student code"), _("Student"), _("Class"), _("Loans")], widths=[8, 16, 40, 16, 20],
        rows=[[rank, code, patrons[code].name, patrons[code].class_name, count]
              for rank, (code, count) in enumerate(ranked_readers, start=1)],
    )

    ranked_classes = sorted(class_rows, key=lambda r: (-r[5], -r[4], class_sort_key(r[0])))
    tables["top_classes"] = Table(
        name=_("Top classes"), title=_("Top classes by loans per student (reading festival)"),
        headers=[_("Rank"), *class_headers], widths=[8, 14, 13, 17, 13, 13, 22],
        rows=[[rank, *row] for rank, row in enumerate([r for r in ranked_classes if r[4]][:top], start=1)],
    )

    tables["collection"] = collection_table(lang)
    added = Counter(
        c.title.category for c in Copy.select(Copy, Title).join(Title).where(
            (Copy.added_on >= period.start) & (Copy.added_on <= period.end)))
    tables["added"] = Table(
        name=_("Added"), title=_("Copies added in the period"), headers=[_("Category"), _("Copies")],
        widths=[70, 30],
        rows=[[_(CATEGORY_LABELS.get(c, c)), added[c]] for c in _categories(added)] + [[_("Total"), sum(added.values())]],
    )
    gone = withdrawals(period, timezone)
    reasons = Counter(reason.strip() or _("(no reason noted)") for _day, _copy, reason in gone)
    tables["withdrawn"] = Table(
        name=_("Withdrawn"), title=_("Copies withdrawn in the period, by reason"),
        headers=[_("Reason"), _("Copies")], widths=[70, 30],
        rows=[[reason, count] for reason, count in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))]
        + [[_("Total"), len(gone)]],
    )
    return Report(period, tables, charts)


def collection_table(lang: str) -> Table:
    """Copies by category (rows) and status (columns), with totals: the collection today."""
    _ = translator(lang)
    counts = Counter(
        (row.category, row.status)
        for row in Copy.select(Title.category, Copy.status).join(Title).objects()
    )
    categories = _categories(Counter(category for category, _status in counts))
    rows = []
    for category in categories:
        values = [counts[(category, status)] for status in COPY_STATUSES]
        rows.append([_(CATEGORY_LABELS.get(category, category)), *values, sum(values)])
    totals = [sum(counts[(c, s)] for c in categories) for s in COPY_STATUSES]
    rows.append([_("Total"), *totals, sum(totals)])
    return Table(
        name=_("Collection"), title=_("Collection by category and status (today)"),
        headers=[_("Category"), *[_(STATUS_LABELS[s]) for s in COPY_STATUSES], _("Total")],
        widths=[22, 11, 11, 11, 11, 11, 12, 11], rows=rows,
    )


def _categories(present: Counter) -> list[str]:
    known = [c for c in CATEGORY_LABELS if c in present]
    return known + sorted(c for c in present if c not in CATEGORY_LABELS)


def class_sort_key(name: str) -> tuple:
    """6A1 < 6A2 < 10A1: by grade number, then the rest."""
    digits = "".join(ch for ch in name[:2] if ch.isdigit())
    return (int(digits) if digits else 99, sort_key(name))


# ----------------------------------------------------------------- output

Progress = Callable[[int], None]
ORDER = ("summary", "months", "classes", "categories", "kinds", "top_titles", "top_readers", "top_classes",
         "collection", "added", "withdrawn")


def heading(report: Report, lang: str) -> tuple[str, str]:
    _ = translator(lang)
    school = school_name()
    title = _("Library statistics — %(period)s", period=report.period.label)
    subtitle = _("%(school)s · from %(start)s to %(end)s", school=school or _("School library"),
                 start=report.period.start.strftime("%d/%m/%Y"), end=report.period.end.strftime("%d/%m/%Y"))
    return title, subtitle


def chart_png(title: str, labels: list[str], values: list[float], *, horizontal: bool = False) -> bytes:
    """A bar chart as PNG (matplotlib, Agg: no display, DejaVu Sans for the diacritics)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.ticker import MaxNLocator

    figure, axes = plt.subplots(figsize=(7.2, 2.9), dpi=150)
    try:
        if horizontal:
            axes.barh(labels[::-1], values[::-1], color="#1F5F8B")
            axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        else:
            axes.bar(labels, values, color="#1F5F8B")
            axes.yaxis.set_major_locator(MaxNLocator(integer=True))
            if len(labels) > 12:
                axes.tick_params(axis="x", labelrotation=60, labelsize=7)
        axes.set_title(title, fontsize=10, fontfamily="DejaVu Sans")
        axes.spines[["top", "right"]].set_visible(False)
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        return buffer.getvalue()
    finally:
        plt.close(figure)


def chart_images(report: Report) -> dict[str, bytes]:
    return {key: chart_png(title, labels, values, horizontal=(key == "categories"))
            for key, (title, labels, values) in report.charts.items()}


def write(fmt: str, out: IO[bytes], report: Report, lang: str, *, progress: Progress | None = None) -> None:
    from .common import write_xlsx

    tables = [report.tables[key] for key in ORDER]
    title, subtitle = heading(report, lang)
    if fmt == "xlsx":
        write_xlsx(tables, out, heading=title)
        return
    from reportlab.lib.units import mm
    from reportlab.platypus import Image, KeepTogether, PageBreak

    from .pdf import write_tables_pdf

    images = chart_images(report)
    if progress:
        progress(len(images))
    width = 180 * mm

    def chart(key: str) -> Image:
        return Image(io.BytesIO(images[key]), width=width, height=width * 2.9 / 7.2)

    story: list = [tables[0], KeepTogether([chart("months")]), tables[1], PageBreak(),
                   chart("classes"), tables[2], chart("categories"), *tables[3:]]
    write_tables_pdf(out, title, subtitle, story, footer=title, landscape_page=False)
    if progress:
        progress(1)

