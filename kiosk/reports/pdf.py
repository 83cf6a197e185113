"""Printable tables for reports and registers (reportlab platypus, DejaVu Sans)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import date, datetime
from typing import IO
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
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


CELL_PADDING = 12  # the table's 6 pt left and right padding


def cell(value: Cell, style: ParagraphStyle, width: float) -> str | Paragraph:
    """Plain text when it fits the column (ten times cheaper to lay out), a wrapping Paragraph when not."""
    shown = text(value)
    if stringWidth(shown, style.fontName, style.fontSize) <= width - CELL_PADDING:
        return shown
    return Paragraph(escape(shown), style)


def table_flowable(table: Table, width: float, *, font_size: float = 8) -> Flowable:
    """The table with its header row repeated on every page; numeric columns right-aligned."""
    sheet = styles()
    body = ParagraphStyle("c", parent=sheet["cell"], fontSize=font_size, leading=font_size * 1.2)
    number = ParagraphStyle("n", parent=body, alignment=2)
    head = ParagraphStyle("h", parent=sheet["head"], fontSize=font_size, leading=font_size * 1.2)
    weights = table.widths or [1.0] * len(table.headers)
    widths = [width * w / sum(weights) for w in weights]
    numeric = [
        any(isinstance(row[c], int | float) for row in table.rows)
        and all(isinstance(row[c], int | float) or row[c] in (None, "") for row in table.rows)
        for c in range(len(table.headers))
    ]
    data: list[list] = [[para(h, head) for h in table.headers]]
    for row in table.rows:
        data.append([cell(v, number if numeric[c] else body, widths[c]) for c, v in enumerate(row)])
    flowable = LongTable(data, colWidths=widths, repeatRows=1, hAlign="LEFT")
    commands = [
        ("FONT", (0, 1), (-1, -1), body.fontName, font_size, body.leading),
        ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#777777")),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#DDE7F0")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 1.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
        ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#F5F7FA")]),
    ]
    commands += [("ALIGN", (c, 1), (c, -1), "RIGHT") for c, is_number in enumerate(numeric) if is_number]
    flowable.setStyle(TableStyle(commands))
    return flowable


CHUNK_ROWS = 250


def table_chunks(table: Table, width: float) -> list[Flowable]:
    """A long table as consecutive tables of CHUNK_ROWS rows.

    Splitting one table at a page break copies all its remaining rows, so a single table of
    n rows costs O(n²) to lay out; chunks keep a 25 000-line loan book linear. A chunk that
    starts inside a page repeats the header row there, which reads as a section break.
    """
    if len(table.rows) <= CHUNK_ROWS:
        return [table_flowable(table, width)]
    return [
        table_flowable(replace(table, rows=table.rows[start:start + CHUNK_ROWS]), width)
        for start in range(0, len(table.rows), CHUNK_ROWS)
    ]


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


class ProgressDocument(SimpleDocTemplate):
    """Reports the table rows laid out so far: a register of thousands of lines takes a while."""

    def __init__(self, *args, progress: Callable[[int], None] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.progress = progress

    def afterFlowable(self, flowable: Flowable) -> None:
        # A long table is drawn as one piece per page, each with the repeated header row.
        if self.progress and isinstance(flowable, LongTable):
            self.progress(max(0, flowable._nrows - flowable.repeatRows))


def write_tables_pdf(out: IO[bytes], title: str, subtitle: str, tables: Iterable[Table | Flowable],
                     *, footer: str, landscape_page: bool = True,
                     progress: Callable[[int], None] | None = None) -> None:
    """A report: a heading, then each table under its own title (charts may be mixed in as flowables);
    ``progress`` is called with the number of table rows each page added."""
    pagesize = landscape(A4) if landscape_page else A4
    doc = ProgressDocument(out, progress=progress, pagesize=pagesize, leftMargin=12 * mm, rightMargin=12 * mm,
                            topMargin=12 * mm, bottomMargin=14 * mm, title=title, author=footer)
    sheet = styles()
    story: list[Flowable] = [Paragraph(escape(title), sheet["title"])]
    if subtitle:
        story.append(Paragraph(escape(subtitle), sheet["subtitle"]))
    for item in tables:
        if isinstance(item, Table):
            story.append(Paragraph(escape(item.title), sheet["h2"]))
            story.extend(table_chunks(item, doc.width - FRAME_PADDING))
            if item.note:
                story.append(Spacer(1, 2 * mm))
                story.append(Paragraph(escape(item.note), sheet["note"]))
        else:
            story.append(item)
    doc.build(story, onFirstPage=page_footer(footer), onLaterPages=page_footer(footer))
