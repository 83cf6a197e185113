"""Student library cards for a whole class: credit-card size, ten per A4 page, with cut marks."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import IO

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from ..models import Patron
from ..pdfkit import draw_code128, draw_qr, fit_font_size, fit_text, register_fonts
from .common import patron_sort_key, require_class, school_name, school_year_of, translator

CARD_W, CARD_H = 85.6 * mm, 53.98 * mm  # ISO/IEC 7810 ID-1
COLS, ROWS = 2, 5
LEFT = (A4[0] - COLS * CARD_W) / 2
TOP = (A4[1] - ROWS * CARD_H) / 2
MARK = 4 * mm  # length of a cut mark, drawn in the margin only so it never shows on a card

Progress = Callable[[int], None]


def class_patrons(class_name: str) -> list[Patron]:
    """Active patrons of the class, in class-list order."""
    wanted = require_class(class_name)
    patrons = Patron.select().where((Patron.class_name == wanted) & Patron.active)
    return sorted(patrons, key=lambda p: (*patron_sort_key(p.name), p.code))


def card_origin(position: int) -> tuple[float, float]:
    row, col = divmod(position % (COLS * ROWS), COLS)
    return LEFT + col * CARD_W, A4[1] - TOP - (row + 1) * CARD_H


def draw_cut_marks(canvas: Canvas) -> None:
    canvas.saveState()
    canvas.setStrokeColor(colors.black)
    canvas.setLineWidth(0.3)
    for col in range(COLS + 1):
        x = LEFT + col * CARD_W
        canvas.line(x, A4[1] - TOP + 1 * mm, x, A4[1] - TOP + 1 * mm + MARK)
        canvas.line(x, TOP - 1 * mm, x, TOP - 1 * mm - MARK)
    for row in range(ROWS + 1):
        y = A4[1] - TOP - row * CARD_H
        canvas.line(LEFT - 1 * mm, y, LEFT - 1 * mm - MARK, y)
        canvas.line(A4[0] - LEFT + 1 * mm, y, A4[0] - LEFT + 1 * mm + MARK, y)
    canvas.restoreState()


def draw_card(canvas: Canvas, patron: Patron, school: str, year: str, x: float, y: float, lang: str) -> None:
    _ = translator(lang)
    font, bold = register_fonts()
    pad = 3 * mm
    canvas.saveState()
    # A faint outline helps the cutter when the cut marks are off by a printer's millimetre.
    canvas.setStrokeColor(colors.HexColor("#BBBBBB"))
    canvas.setLineWidth(0.3)
    canvas.rect(x, y, CARD_W, CARD_H)
    band = 11 * mm
    canvas.setFillColor(colors.HexColor("#1F5F8B"))
    canvas.rect(x, y + CARD_H - band, CARD_W, band, stroke=0, fill=1)
    canvas.setFillColor(colors.white)
    inner = CARD_W - 2 * pad
    canvas.setFont(bold, 7.5)
    canvas.drawString(x + pad, y + CARD_H - 4.6 * mm, fit_text((school or _("SCHOOL LIBRARY")).upper(), bold, 7.5,
                                                            inner))
    canvas.setFont(font, 7)
    canvas.drawString(x + pad, y + CARD_H - 8.6 * mm, _("LIBRARY CARD"))
    canvas.drawRightString(x + CARD_W - pad, y + CARD_H - 8.6 * mm, _("School year %(year)s", year=year))

    qr = 19 * mm
    canvas.setFillColor(colors.black)
    draw_qr(canvas, patron.code, x + CARD_W - pad - qr + 2 * mm, y + CARD_H - band - qr - 0.5 * mm, qr)
    text_w = CARD_W - 2 * pad - qr
    name_size = fit_font_size(patron.name, bold, 11, text_w, smallest=7)
    canvas.setFont(bold, name_size)
    canvas.drawString(x + pad, y + CARD_H - band - 6 * mm, fit_text(patron.name, bold, name_size, text_w))
    canvas.setFont(font, 8.5)
    canvas.drawString(x + pad, y + CARD_H - band - 11 * mm, _("Class: %(class_name)s", class_name=patron.class_name))
    canvas.drawString(x + pad, y + CARD_H - band - 15.5 * mm, _("Student code: %(code)s", code=patron.code))

    bar_h = 9 * mm
    draw_code128(canvas, patron.code, x + pad, y + pad + 3 * mm, 52 * mm, bar_h)
    canvas.setFont(font, 7)
    canvas.drawCentredString(x + pad + 26 * mm, y + pad, patron.code)
    canvas.restoreState()


def write_cards(out: IO[bytes], patrons: Sequence[Patron], today: date, lang: str, *,
                progress: Progress | None = None) -> int:
    """Cards in class-list order; returns the number of pages."""
    _ = translator(lang)
    register_fonts()
    school = school_name()
    canvas = Canvas(out, pagesize=A4, pageCompression=1)
    canvas.setTitle(_("Library cards"))
    canvas.setAuthor(school)
    per_page = COLS * ROWS
    for position, patron in enumerate(patrons):
        if position and position % per_page == 0:
            canvas.showPage()
        if position % per_page == 0:
            draw_cut_marks(canvas)
        x, y = card_origin(position)
        draw_card(canvas, patron, school, patron.school_year or school_year_of(today), x, y, lang)
        if progress:
            progress(1)
    canvas.showPage()
    canvas.save()
    return max(1, -(-len(patrons) // per_page))
