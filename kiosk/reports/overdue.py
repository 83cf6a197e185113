"""Overdue books of one class, for its homeroom teacher: a list and one reminder slip per student."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from itertools import groupby
from typing import IO
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import (
    Flowable,
    KeepTogether,
    LongTable,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    TableStyle,
)

from ..i18n import N_
from ..models import Copy, Loan, Patron, Title
from ..pdfkit import register_fonts
from .common import (
    Table,
    csv_bytes,
    fmt_day,
    local_day,
    patron_sort_key,
    require_class,
    school_name,
    sort_key,
    translator,
    write_xlsx,
)
from .pdf import FRAME_PADDING, styles, table_flowable

FORMATS = ("pdf", "xlsx", "csv")


@dataclass(frozen=True)
class OverdueLoan:
    patron_code: str
    patron_name: str
    class_name: str
    item: str
    title: str
    checked_out: date
    due: date
    days: int


def overdue_loans(class_name: str, today: date, timezone: ZoneInfo) -> list[OverdueLoan]:
    """Open loans of the class's patrons that were due before ``today``, student by student."""
    wanted = require_class(class_name)
    query = (
        Loan.select(Loan, Copy, Title, Patron)
        .join(Copy)
        .join(Title)
        .switch(Loan)
        .join(Patron)
        .where(Loan.is_open() & (Loan.due < today) & (Patron.class_name == wanted))
    )
    loans = [
        OverdueLoan(
            patron_code=loan.patron.code,
            patron_name=loan.patron.name,
            class_name=loan.patron.class_name,
            item=loan.copy.code,
            title=loan.copy.title.title,
            checked_out=local_day(loan.checked_out_at, timezone),
            due=loan.due,
            days=(today - loan.due).days,
        )
        for loan in query
    ]
    return sorted(loans, key=lambda x: (*patron_sort_key(x.patron_name), x.patron_code, x.due, sort_key(x.title)))


def by_student(loans: list[OverdueLoan]) -> list[list[OverdueLoan]]:
    return [list(group) for _code, group in groupby(loans, key=lambda x: x.patron_code)]


HEADERS = (
    N_("Student code"), N_("Student"), N_("Class"), N_("Title"), N_("Accession no."),
    N_("Checkout date"), N_("Due date"), N_("Days overdue"),
)


def overdue_table(class_name: str, today: date, loans: list[OverdueLoan], lang: str) -> Table:
    _ = translator(lang)

    return Table(
        name=_("Overdue %(class_name)s", class_name=class_name),
        title=_("Overdue books of class %(class_name)s on %(day)s", class_name=class_name,
                day=today.strftime("%d/%m/%Y")),
        headers=[_(h) for h in HEADERS],
        rows=[
            [x.patron_code, x.patron_name, x.class_name, x.title, x.item, x.checked_out, x.due, x.days]
            for x in loans
        ],
        widths=[10, 22, 7, 34, 12, 11, 11, 8],
        note="" if loans else _("No overdue books in this class."),
    )


Progress = Callable[[int], None]


def write(fmt: str, out: IO[bytes], class_name: str, today: date, loans: list[OverdueLoan], lang: str,
          *, progress: Progress | None = None) -> None:
    """The class's overdue list as ``fmt`` (pdf: reminder slips; xlsx, csv: the list)."""
    if fmt == "pdf":
        write_slips(out, class_name, today, loans, lang, progress=progress)
        return
    table = overdue_table(class_name, today, loans, lang)
    if fmt == "xlsx":
        write_xlsx([table], out)
    else:
        out.write(csv_bytes(table))


class CutLine(Flowable):
    """A dashed line with scissors across the page: where to cut one slip from the next."""

    def __init__(self, width: float) -> None:
        super().__init__()
        self.width, self.height = width, 6 * mm

    def draw(self) -> None:
        font, _bold = register_fonts()
        canvas = self.canv
        canvas.saveState()
        canvas.setStrokeColor(colors.HexColor("#888888"))
        canvas.setDash(3, 3)
        canvas.setLineWidth(0.6)
        canvas.line(0, self.height / 2, self.width, self.height / 2)
        canvas.setFillColor(colors.HexColor("#888888"))
        canvas.setFont(font, 10)
        canvas.drawString(-1 * mm, self.height / 2 - 3.5, "\u2702")
        canvas.restoreState()


def slip(student: list[OverdueLoan], today: date, school: str, width: float, lang: str) -> list[Flowable]:
    _ = translator(lang)

    sheet = styles()
    first = student[0]
    bold = ParagraphStyle("b", parent=sheet["body"], fontName=sheet["h2"].fontName)
    right = ParagraphStyle("r", parent=sheet["small"], alignment=2)
    heading = LongTable(
        [[Paragraph(escape(school.upper() or _("SCHOOL LIBRARY")), ParagraphStyle(
            "s", parent=sheet["small"], fontName=sheet["h2"].fontName)),
          Paragraph(escape(_("Date: %(day)s", day=fmt_day(today))), right)]],
        colWidths=[width * 0.65, width * 0.35],
    )
    heading.setStyle(TableStyle([("LEFTPADDING", (0, 0), (-1, -1), 0), ("RIGHTPADDING", (0, 0), (-1, -1), 0)]))
    title_style = ParagraphStyle("t", parent=sheet["title"], fontSize=12.5, leading=16, spaceAfter=1 * mm)
    books = Table(
        name="", title="",
        headers=[_("No."), _("Title"), _("Accession no."), _("Checkout date"), _("Due date"), _("Days overdue")],
        rows=[[n, x.title, x.item, x.checked_out, x.due, x.days] for n, x in enumerate(student, start=1)],
        widths=[6, 38, 14, 14, 14, 14],
    )
    centre = ParagraphStyle("c", parent=sheet["small"], alignment=1)
    signatures = LongTable(
        [[Paragraph(escape(_("Student's signature")), centre), Paragraph(escape(_("Homeroom teacher")), centre)],
         ["", ""],
         [Paragraph("…" * 22, centre), Paragraph("…" * 22, centre)]],
        colWidths=[width / 2, width / 2], rowHeights=[None, 9 * mm, None],
    )
    return [KeepTogether([
        heading,
        Paragraph(escape(_("REMINDER TO RETURN LIBRARY BOOKS")), title_style),
        Paragraph(escape(_("To: %(name)s, class %(class_name)s (student code %(code)s)",
                           name=first.patron_name, class_name=first.class_name, code=first.patron_code)), bold),
        Spacer(1, 1.5 * mm),
        Paragraph(escape(_(
            "The library kindly reminds you that the books below are past their due date. Please bring "
            "them back to the library, or ask the librarian to renew them, as soon as you can. Thank you!"
        )), sheet["body"]),
        Spacer(1, 2 * mm),
        table_flowable(books, width, font_size=8.5),
        Spacer(1, 3 * mm),
        signatures,
        Spacer(1, 2 * mm),
        CutLine(width),
        Spacer(1, 2 * mm),
    ])]


def write_slips(out: IO[bytes], class_name: str, today: date, loans: list[OverdueLoan], lang: str,
                *, progress: Progress | None = None) -> None:
    """One reminder slip per student, as many per A4 page as fit, with cut lines between them."""
    _ = translator(lang)
    school = school_name()
    doc = SimpleDocTemplate(out, pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm, topMargin=10 * mm,
                            bottomMargin=10 * mm,
                            title=_("Overdue books of class %(class_name)s on %(day)s",
                                            class_name=class_name, day=fmt_day(today)),
                            author=school)
    story: list[Flowable] = []
    for student in by_student(loans):
        story.extend(slip(student, today, school, doc.width - FRAME_PADDING, lang))
        if progress:
            progress(1)
    if not story:
        sheet = styles()
        story = [Paragraph(escape(_("Overdue books of class %(class_name)s on %(day)s",
                                            class_name=class_name, day=fmt_day(today))), sheet["title"]),
                 Paragraph(escape(_("No overdue books in this class.")), sheet["subtitle"])]
    doc.build(story)
