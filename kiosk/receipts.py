"""Loan receipts on a 58/80 mm ESC/POS thermal printer, the kind school kiosks have.

Few thermal printers have a Vietnamese code page (and those that do disagree on it), so the
receipt is drawn as a picture with DejaVu Sans — every diacritic prints as on screen — and sent as
one raster image (ESC/POS ``GS v 0``), then cut. ``RECEIPT_PRINTER`` names the printer:

- ``""`` (default): no thermal printer; the kiosk prints through the browser (``--kiosk-printing``);
- ``usb:VID:PID`` (hex, e.g. ``usb:0x0416:0x5011``): a USB printer, through python-escpos/pyusb;
- ``file:/dev/usb/lp0``: a printer the kernel's usblp driver exposes as a device file.

``RECEIPT_WIDTH_MM`` is 58 (384 dots) or 80 (576 dots) at the usual 203 dpi.
"""

from __future__ import annotations

import functools
import textwrap
from dataclasses import dataclass
from datetime import date

from PIL import Image, ImageDraw, ImageFont

from .errors import N_, BadInput, MuontraError
from .pdfkit import font_path

DOTS = {58: 384, 80: 576}
MARGIN = 8


class NoReceiptPrinter(MuontraError):
    code = "no_receipt_printer"
    http_status = 409
    message = N_("No receipt printer is set up on this kiosk.")


class PrinterUnavailable(MuontraError):
    code = "printer_unavailable"
    http_status = 503
    message = N_("The receipt printer is not answering. Check that it is on, has paper and is plugged in.")


class BadPrinterSetting(BadInput):
    code = "bad_printer_setting"
    message = N_("The receipt printer setting “%(value)s” is not usb:VID:PID or file:PATH.")


@dataclass(frozen=True)
class ReceiptLine:
    title: str
    code: str
    due: date | None


@dataclass(frozen=True)
class Receipt:
    heading: str
    school: str
    who: str
    when: str
    lines: tuple[ReceiptLine, ...]
    due_label: str  # "Return by %(due)s", translated
    thanks: str


@functools.cache
def _font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    # Loaded once per size: every printed receipt used to read the font files from disk again.
    return ImageFont.truetype(str(font_path("DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf")), size)


def render(receipt: Receipt, width_mm: int = 58) -> Image.Image:
    """The receipt as a 1-bit picture exactly as wide as the paper's printable dots."""
    width = DOTS.get(width_mm, DOTS[58])
    big, normal, small = _font(30, True), _font(22), _font(20)
    chars = max(16, (width - 2 * MARGIN) // 12)  # DejaVu at 22 px: ~12 px a character
    blocks: list[tuple[str, ImageFont.FreeTypeFont, str]] = [
        (receipt.school, normal, "center"), (receipt.heading, big, "center"),
        (receipt.who, normal, "left"), (receipt.when, small, "left"), ("-" * chars, small, "left"),
    ]
    for line in receipt.lines:
        for part in textwrap.wrap(f"{line.title} ({line.code})", chars) or [""]:
            blocks.append((part, normal, "left"))
        if line.due is not None:
            blocks.append(("  " + receipt.due_label % {"due": line.due.strftime("%d/%m/%Y")}, big, "left"))
    blocks.append(("-" * chars, small, "left"))
    for part in textwrap.wrap(receipt.thanks, chars):
        blocks.append((part, small, "center"))
    height = MARGIN * 2 + sum(int(font.size * 1.35) for _text, font, _align in blocks) + 40
    image = Image.new("1", (width, height), 1)
    draw = ImageDraw.Draw(image)
    y = MARGIN
    for text, font, align in blocks:
        shown = text
        while shown and draw.textlength(shown, font=font) > width - 2 * MARGIN:
            shown = shown[:-1]  # a word longer than the paper (a long code) is cut, never overflows
        x = MARGIN if align == "left" else (width - draw.textlength(shown, font=font)) / 2
        draw.text((x, y), shown, font=font, fill=0)
        y += int(font.size * 1.35)
    return image


def _printer(setting: str):
    from escpos import printer

    kind, _, rest = setting.partition(":")
    if kind == "usb":
        try:
            vendor, product = (int(part, 16) for part in rest.split(":")[:2])
        except ValueError:
            raise BadPrinterSetting(value=setting[:80]) from None
        return printer.Usb(vendor, product)
    if kind == "file" and rest:
        return printer.File(rest)
    raise BadPrinterSetting(value=setting[:80])


def send(image: Image.Image, setting: str) -> None:
    """Print the picture and cut the paper; any failure of the printer is :class:`PrinterUnavailable`."""
    if not setting:
        raise NoReceiptPrinter()
    try:
        device = _printer(setting)
        try:
            device.image(image, impl="bitImageRaster", center=False)
            device.cut()
        finally:
            device.close()
    except MuontraError:
        raise
    except Exception as exc:  # pyusb, an unplugged device file, a printer out of paper…
        raise PrinterUnavailable() from exc
