"""What every PDF of the project needs: a font with Vietnamese diacritics, Code 128 and QR on a canvas.

reportlab's built-in fonts have no "ễ" or "ạ"; DejaVu Sans (Debian's fonts-dejavu-core,
installed by ``make run``) has them all and is embedded in every PDF.
"""

from __future__ import annotations

import importlib.util
import os
from functools import cache
from pathlib import Path

from reportlab.graphics.barcode.code128 import Code128
from reportlab.lib.fonts import addMapping
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from .errors import N_, MuontraError

FONT = "DejaVuSans"
FONT_BOLD = "DejaVuSans-Bold"
FONT_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/dejavu", "/usr/local/share/fonts")
FONT_FILES = {FONT: "DejaVuSans.ttf", FONT_BOLD: "DejaVuSans-Bold.ttf"}


class FontMissing(MuontraError):
    code = "font_missing"
    message = N_("The font %(file)s is missing; install fonts-dejavu-core (make system-deps).")
    http_status = 500


def _bundled_font_dir() -> tuple[str, ...]:
    """matplotlib (a dependency) ships DejaVu Sans: a venv made from the wheel has the font even
    on a machine without fonts-dejavu-core. Found without importing matplotlib (slow)."""
    spec = importlib.util.find_spec("matplotlib")
    if spec is None or not spec.submodule_search_locations:
        return ()
    return tuple(str(Path(folder) / "mpl-data" / "fonts" / "ttf") for folder in spec.submodule_search_locations)


def font_path(filename: str) -> Path:
    extra = os.environ.get("MUONTRA_FONT_DIR")
    for folder in ((extra,) if extra else ()) + FONT_DIRS + _bundled_font_dir():
        candidate = Path(folder) / filename
        if candidate.is_file():
            return candidate
    raise FontMissing(file=filename)


@cache
def register_fonts() -> tuple[str, str]:
    """Register DejaVu Sans (regular, bold) with reportlab once; returns their names."""
    for name, filename in FONT_FILES.items():
        pdfmetrics.registerFont(TTFont(name, str(font_path(filename))))
    addMapping(FONT, 0, 0, FONT)
    addMapping(FONT, 1, 0, FONT_BOLD)
    addMapping(FONT, 0, 1, FONT)
    addMapping(FONT, 1, 1, FONT_BOLD)
    return FONT, FONT_BOLD


def code128_width(value: str, bar_width: float) -> float:
    """Width of the bars (quiet zones excluded) of ``value`` at ``bar_width`` points per module."""
    return Code128(value, barWidth=bar_width, quiet=False).width


def draw_code128(canvas: Canvas, value: str, x: float, y: float, width: float, height: float) -> float:
    """Draw ``value`` as Code 128 centred in the box (x, y, width, height); returns the module width.

    The bars are scaled to the widest module that fits, leaving a quiet zone of ten
    modules each side, so that scanners and the 300 dpi test decode every label.
    """
    modules = code128_width(value, 1.0)
    bar_width = width / (modules + 20)
    symbol = Code128(value, barWidth=bar_width, barHeight=height, quiet=False)
    symbol.drawOn(canvas, x + (width - symbol.width) / 2, y)
    return bar_width


def draw_qr(canvas: Canvas, value: str, x: float, y: float, size: float) -> None:
    """Draw ``value`` as a QR code (error level M, with its 4-module quiet zone) in a square."""
    import segno

    matrix = segno.make_qr(value, error="m").matrix
    count = len(matrix) + 8
    module = size / count
    canvas.saveState()
    canvas.setFillColorRGB(0, 0, 0)
    for row_index, row in enumerate(matrix):
        top = y + size - (row_index + 4) * module
        for col_index, dark in enumerate(row):
            if dark:
                canvas.rect(x + (col_index + 4) * module, top - module, module, module, stroke=0, fill=1)
    canvas.restoreState()


def fit_text(text: str, font: str, size: float, width: float) -> str:
    """``text`` shortened with an ellipsis to fit ``width`` points."""
    if stringWidth(text, font, size) <= width:
        return text
    while text and stringWidth(text + "…", font, size) > width:
        text = text[:-1]
    return text + "…"


def fit_font_size(text: str, font: str, wanted: float, width: float, smallest: float = 5) -> float:
    """The largest size up to ``wanted`` (in half points, not below ``smallest``) at which ``text`` fits."""
    size = wanted
    while size > smallest and stringWidth(text, font, size) > width:
        size -= 0.5
    return size
