"""Helpers for the report, label and card tests: seeding through the service layer, reading outputs back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from kiosk.services import Circulation

from .conftest import FakeClock, copy_fact, patron_fact


def at(day: str, hour: int = 9) -> datetime:
    """``day`` at ``hour`` local time (UTC+7) as an aware UTC moment."""
    return datetime.fromisoformat(day).replace(tzinfo=UTC) + timedelta(hours=hour - 7)


def seed_two_classes(circ: Circulation, clock: FakeClock) -> dict[str, object]:
    """On top of the ``school`` fixture: a 6A2 student and loans in January and February 2026.

    Returns the receipts by item so tests compute expectations from what the service decided.
    """
    circ.record_facts([
        ("setting.set", {"key": "school_name", "value": "Trường THCS Nguyễn Du"}),
        patron_fact("HS010", "Lê Thị Ánh", class_name="6A2"),
        patron_fact("HS011", "Vũ Đức Long", class_name="6A2"),
        copy_fact("TN-0005", "Những tấm lòng cao cả", author="Edmondo De Amicis"),
    ])
    receipts: dict[str, object] = {}
    moment = clock.moment
    clock.set(at("2026-01-05"))
    receipts["TN-0001"] = circ.checkout("HS001", "TN-0001")
    receipts["TN-0002"] = circ.checkout("HS001", "TN-0002")
    clock.set(at("2026-02-02"))
    receipts["TN-0003"] = circ.checkout("HS010", "TN-0003")
    clock.set(at("2026-02-16"))
    receipts["TN-0004"] = circ.checkout("HS002", "TN-0004")
    clock.set(at("2026-02-20"))
    circ.checkin("TN-0004")
    clock.set(at("2026-02-23"))
    receipts["TN-0005"] = circ.checkout("HS002", "TN-0005")
    clock.set(moment)
    return receipts


def xlsx_rows(path: Path | bytes, sheet: str | int = 0) -> list[list[object]]:
    import io

    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(path) if isinstance(path, bytes) else path)
    ws = book.worksheets[sheet] if isinstance(sheet, int) else book[sheet]
    return [list(row) for row in ws.iter_rows(values_only=True)]


def pdf_text(path: Path | bytes) -> list[str]:
    """Text of every page (pypdfium2), to check that what is printed is what was meant."""
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(path)
    try:
        return [page.get_textpage().get_text_range() for page in document]
    finally:
        document.close()


def pdf_images(path: Path | bytes, dpi: int = 300):
    """Every page rendered to a greyscale numpy array at ``dpi``."""
    import numpy as np
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(path)
    try:
        for page in document:
            image = page.render(scale=dpi / 72, grayscale=True).to_pil().convert("L")
            yield np.asarray(image)
    finally:
        document.close()
