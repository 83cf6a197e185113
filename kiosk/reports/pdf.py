"""Printable tables for reports and registers (reportlab platypus, DejaVu Sans)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime
from typing import IO
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, LongTable, Paragraph, SimpleDocTemplate, Spacer, TableStyle

from ..pdfkit import register_fonts
from .common import Cell, Table, fmt_day


def styles() -> dict[str, ParagraphStyle]:
    font, bold = register_fonts()
    return {
        "title": ParagraphStyle("title", fontName=bold, fontSize=14, leading=18, alignment=1, spaceAfter=2 * mm),
        "subtitle": ParagraphStyle("subtitle", fontName=font, fontSize=9.5, leading=12, alignment=1,
                                   spaceAfter=3 * mm),
        "h2": ParagraphStyle("h2", fontName=bold, fontSize=11.5, leading=15, spaceBefore=4 * mm, spaceAfter=2 * mm),
        "body": ParagraphStyle("body", fontName=font, fontSize=10, leading=13),
        "small": ParagraphStyle("small", fontName=font, fontSize=8.5, leading=10.5),
        "cell": ParagraphStyle("cell", fontName=font, fontSize=8, leading=9.5),
        "head": ParagraphStyle("head", fontName=bold, fontSize=8, leading=9.5),
        "note": ParagraphStyle("note", fontName=font, fontSize=9, leading=12, textColor=colors.HexColor("#444444")),
    }


FRAME_PADDING = 12  # platypus frames keep 6 pt each side inside the page margins


def text(value: Cell) -> str:
    if isinstance(value, date | datetime):
        return fmt_day(value)
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".").replace(".", ",")
    if isinstance(value, int) and abs(value) >= 10000:
        return f"{value:,}".replace(",", ".")
    return "" if value is None else str(value)


def para(value: Cell, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(text(value)), style)


def table_flowable(table: Table, width: float, *, font_size: float = 8) -> Flowable:
    """The table with its header row repeated on every page; numbers right-aligned."""
    sheet = styles()
    cell = ParagraphStyle("c", parent=sheet["cell"], fontSize=font_size, leading=font_size * 1.2)
    number = ParagraphStyle("n", parent=cell, alignment=2)
    head = ParagraphStyle("h", parent=sheet["head"], fontSize=font_size, leading=font_size * 1.2)
    weights = table.widths or [1.0] * len(table.headers)
    widths = [width * w / sum(weights) for w in weights]
    data = [[para(h, head) for h in table.headers]]
    for row in table.rows:
        data.append([para(v, number if isinstance(v, int | float) else cell) for v in row])
    flowable = LongTable(data, colWidths=widths, repeatRows=1, hAlign="LEFT")
    flowable.setStyle(TableStyle([
        ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#777777")),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#DDE7F0")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 1.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
        ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#F5F7FA")]),
    ]))
    return flowable


def page_footer(label: str) -> Callable:
    def draw(canvas, doc) -> None:
        font, _bold = register_fonts()
        canvas.saveState()
        canvas.setFont(font, 7.5)
        canvas.setFillColor(colors.HexColor("#555555"))
        canvas.drawString(doc.leftMargin, 8 * mm, label)
        canvas.drawRightString(doc.pagesize[0] - doc.rightMargin, 8 * mm, str(canvas.getPageNumber()))
        canvas.restoreState()

    return draw


def write_tables_pdf(out: IO[bytes], title: str, subtitle: str, tables: Iterable[Table | Flowable],
                     *, footer: str, landscape_page: bool = True) -> None:
    """A report: a heading, then each table under its own title (charts may be mixed in as flowables)."""
    pagesize = landscape(A4) if landscape_page else A4
    doc = SimpleDocTemplate(out, pagesize=pagesize, leftMargin=12 * mm, rightMargin=12 * mm,
                            topMargin=12 * mm, bottomMargin=14 * mm, title=title, author=footer)
    sheet = styles()
    story: list[Flowable] = [Paragraph(escape(title), sheet["title"])]
    if subtitle:
        story.append(Paragraph(escape(subtitle), sheet["subtitle"]))
    for item in tables:
        if isinstance(item, Table):
            story.append(Paragraph(escape(item.title), sheet["h2"]))
            story.append(table_flowable(item, doc.width - FRAME_PADDING))
            if item.note:
                story.append(Spacer(1, 2 * mm))
                story.append(Paragraph(escape(item.note), sheet["note"]))
        else:
            story.append(item)
    doc.build(story, onFirstPage=page_footer(footer), onLaterPages=page_footer(footer))
