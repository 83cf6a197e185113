"""Accession labels (Code 128) and spine labels on A4 label sheets.

A sheet is a grid of equal labels between page margins, with optional gaps
between columns and rows. Printing can start at any position of a partly used
sheet: the first ``start - 1`` positions of the first page are left blank.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import IO

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from ..errors import N_
from ..models import Copy, Title
from ..pdfkit import draw_code128, fit_font_size, fit_text, register_fonts
from .common import ReportError, school_name, sort_key


class BadGrid(ReportError):
    code = "bad_grid"
    message = N_("The label sheet '%(value)s' is not valid: %(hint)s")


class NoCopies(ReportError):
    code = "no_copies"
    message = N_("No copies to print: %(which)s")
    http_status = 404


@dataclass(frozen=True)
class Sheet:
    """An A4 label sheet: ``cols`` × ``rows`` labels; margins and gaps in millimetres."""

    cols: int
    rows: int
    top: float = 0.0
    right: float = 0.0
    bottom: float = 0.0
    left: float = 0.0
    gap_x: float = 0.0
    gap_y: float = 0.0

    @property
    def per_page(self) -> int:
        return self.cols * self.rows

    @property
    def label_width(self) -> float:
        return (A4[0] / mm - self.left - self.right - (self.cols - 1) * self.gap_x) / self.cols

    @property
    def label_height(self) -> float:
        return (A4[1] / mm - self.top - self.bottom - (self.rows - 1) * self.gap_y) / self.rows

    def origin(self, position: int) -> tuple[float, float]:
        """Bottom-left corner (points) of the label at 0-based ``position`` on its page, row by row."""
        row, col = divmod(position % self.per_page, self.cols)
        x = (self.left + col * (self.label_width + self.gap_x)) * mm
        y = A4[1] - (self.top + (row + 1) * self.label_height + row * self.gap_y) * mm
        return x, y


# Common A4 sheets (Avery/Tanex-compatible sizes sold in Vietnam):
# 3x8 = 64 × 33.9 mm, 4x10 = 45.7 × 25.4 mm, 5x13 = 38.1 × 21.2 mm.
PRESETS = {
    "3x8": Sheet(3, 8, top=12.9, bottom=12.9, left=6.5, right=6.5, gap_x=2.5),
    "4x10": Sheet(4, 10, top=21.5, bottom=21.5, left=9.7, right=9.7, gap_x=2.6),
    "5x13": Sheet(5, 13, top=10.7, bottom=10.7, left=4.75, right=4.75, gap_x=2.5),
}


def _numbers(text: str, count: int, hint: str) -> list[float]:
    try:
        values = [float(part) for part in text.replace(";", ",").split(",")]
    except ValueError as exc:
        raise BadGrid(value=text, hint=hint) from exc
    if len(values) == 1:
        values = values * count
    if len(values) != count or any(v < 0 for v in values):
        raise BadGrid(value=text, hint=hint)
    return values


def make_sheet(preset: str | None = None, grid: str | None = None, margins: str | None = None,
               gaps: str | None = None) -> Sheet:
    """A preset sheet, or a custom grid ``COLSxROWS`` with margins "T,R,B,L" and gaps "X,Y" in mm."""
    if grid:
        match = re.fullmatch(r"\s*(\d{1,2})\s*[x×]\s*(\d{1,2})\s*", grid)
        if not match or not all(0 < int(n) <= 20 for n in match.groups()):
            raise BadGrid(value=grid, hint="COLSxROWS, e.g. 4x10")
        top, right, bottom, left = _numbers(margins, 4, "T,R,B,L mm") if margins else (10.0, 8.0, 10.0, 8.0)
        gap_x, gap_y = _numbers(gaps, 2, "X,Y mm") if gaps else (0.0, 0.0)
        sheet = Sheet(int(match[1]), int(match[2]), top, right, bottom, left, gap_x, gap_y)
    else:
        name = (preset or "3x8").strip().lower().replace("×", "x")
        if name not in PRESETS:
            raise BadGrid(value=preset, hint=", ".join(PRESETS))
        sheet = PRESETS[name]
        if margins or gaps:
            top, right, bottom, left = (_numbers(margins, 4, "T,R,B,L mm") if margins
                                        else (sheet.top, sheet.right, sheet.bottom, sheet.left))
            gap_x, gap_y = _numbers(gaps, 2, "X,Y mm") if gaps else (sheet.gap_x, sheet.gap_y)
            sheet = Sheet(sheet.cols, sheet.rows, top, right, bottom, left, gap_x, gap_y)
    if sheet.label_width < 15 or sheet.label_height < 8:
        raise BadGrid(value=grid or preset or "", hint="labels smaller than 15 × 8 mm")
    return sheet


# ----------------------------------------------------------------- which copies


def accession_key(code: str) -> tuple:
    """Accession order: by prefix, then by number (TN-2 before TN-10)."""
    return tuple(int(part) if part.isdigit() else sort_key(part) for part in re.split(r"(\d+)", code))


def select_copies(codes: Sequence[str] = (), every: bool = False, isbn: str | None = None) -> list[Copy]:
    """Copies in accession order: the given codes (each must exist), a title's copies, or all."""
    query = Copy.select(Copy, Title).join(Title)
    if codes:
        wanted = [c.strip().upper() for c in codes if c.strip()]
        found = {copy.code: copy for copy in query.where(Copy.code.in_(wanted))}
        missing = [c for c in wanted if c not in found]
        if missing:
            raise NoCopies(which=", ".join(missing))
        return [found[c] for c in dict.fromkeys(wanted)]
    if isbn:
        from ..codes import book_number

        # As stored first (old catalogues hold ISBNs with bad check digits), then normalised (ISBN-10).
        compact = isbn.replace("-", "").replace(" ", "").upper()
        copies = list(query.where(Title.isbn == compact)) or list(
            query.where(Title.isbn == (book_number(compact) or compact)))
        if not copies:
            raise NoCopies(which=isbn)
    elif every:
        copies = list(query.where(Copy.status != "withdrawn"))
        if not copies:
            raise NoCopies(which="--all")
    else:
        raise NoCopies(which="--copies / --all / --title-isbn")
    return sorted(copies, key=lambda copy: accession_key(copy.code))


def author_mark(author: str, title: str) -> str:
    """The author part of a call number: the first three letters of the author's first word
    (of the title when there is no author), upper-case, diacritics kept."""
    source = author.strip() or title.strip()
    word = re.sub(r"[^\w]", "", source.split()[0]) if source.split() else ""
    return word[:3].upper()


def call_number(copy: Copy) -> tuple[str, str]:
    return copy.title.classification.strip(), author_mark(copy.title.author, copy.title.title)


# ----------------------------------------------------------------- drawing

Progress = Callable[[int], None]


def draw_accession_label(canvas: Canvas, copy_code: str, school: str, x: float, y: float, w: float,
                         h: float) -> None:
    """School name on top, the Code 128 in the middle, the accession number in text below."""
    font, bold = register_fonts()
    pad = min(2 * mm, w * 0.05)
    name_size = max(4.5, min(7, h / mm * 0.22))
    code_size = max(6, min(11, h / mm * 0.3))
    inner = w - 2 * pad
    canvas.setFillColorRGB(0, 0, 0)
    top = y + h - pad
    if school:
        canvas.setFont(font, name_size)
        canvas.drawCentredString(x + w / 2, top - name_size, fit_text(school, font, name_size, inner))
        top -= name_size * 1.3
    code_size = fit_font_size(copy_code, bold, code_size, inner)
    canvas.setFont(bold, code_size)
    base = y + pad
    canvas.drawCentredString(x + w / 2, base, copy_code)
    bar_bottom = base + code_size * 1.15
    draw_code128(canvas, copy_code, x + pad, bar_bottom, inner, max(top - bar_bottom - 0.8 * mm, 4 * mm))


def draw_spine_label(canvas: Canvas, copy: Copy, x: float, y: float, w: float, h: float) -> None:
    """The call number large (classification over the author mark), the accession number small."""
    font, bold = register_fonts()
    classification, mark = call_number(copy)
    lines = [line for line in (classification, mark) if line]
    pad = min(2 * mm, w * 0.05)
    inner = w - 2 * pad
    small = max(5, min(7, h / mm * 0.2))
    room = h - 2 * pad - small * 1.4
    size = min(16, room / 2 / 1.15)  # sized for two lines, so every label of a shelf reads alike
    canvas.setFillColorRGB(0, 0, 0)
    block = size + (len(lines) - 1) * size * 1.15
    # The call number centred in the room above the accession number.
    line_y = y + pad + small * 1.4 + (room + block) / 2 - size
    for line in lines:
        canvas.setFont(bold, fit_font_size(line, bold, size, inner))
        canvas.drawCentredString(x + w / 2, line_y, line)
        line_y -= size * 1.15
    canvas.setFont(font, small)
    canvas.drawCentredString(x + w / 2, y + pad, fit_text(copy.code, font, small, inner))


def write_labels(out: IO[bytes], copies: Sequence[Copy], sheet: Sheet, *, start: int = 1, spine: bool = False,
                 progress: Progress | None = None) -> int:
    """One label per copy from position ``start`` (1-based) of the first sheet; returns the page count."""
    if not 1 <= start <= sheet.per_page:
        raise BadGrid(value=f"--start {start}", hint=f"1 … {sheet.per_page}")
    if not copies:
        raise NoCopies(which="")
    register_fonts()
    school = school_name()
    canvas = Canvas(out, pagesize=A4, pageCompression=1)
    canvas.setTitle("Nhãn sách" if not spine else "Nhãn gáy sách")
    canvas.setAuthor(school)
    w, h = sheet.label_width * mm, sheet.label_height * mm
    position = start - 1
    for copy in copies:
        if position and position % sheet.per_page == 0:
            canvas.showPage()
        x, y = sheet.origin(position)
        if spine:
            draw_spine_label(canvas, copy, x, y, w, h)
        else:
            draw_accession_label(canvas, copy.code, school, x, y, w, h)
        position += 1
        if progress:
            progress(1)
    canvas.showPage()
    canvas.save()
    return (position - 1) // sheet.per_page + 1
