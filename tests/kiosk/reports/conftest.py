"""Helpers for the report, label and card tests: seeding through the service layer, reading outputs back."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kiosk.services import Circulation
from tests.conftest import FakeClock, copy_fact, patron_fact


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


# (local day and hour of the checkout, patron, copy, local day of the return or None)
YEAR_LOANS = [
    ("2025-08-25 09", "HS001", "TN-0001", "2025-08-28"),  # before the school year
    ("2025-09-01 06", "HS002", "TN-0004", "2025-09-03"),  # 06:00 local is still 31 August in UTC
    ("2025-09-15 09", "HS001", "TN-0001", "2025-09-19"),
    ("2025-09-16 09", "HS002", "TN-0002", "2025-09-22"),
    ("2025-10-06 09", "HS001", "TN-0003", "2025-10-10"),
    ("2025-10-06 10", "HS010", "TN-0002", "2025-10-13"),
    ("2025-11-03 09", "GV001", "TN-0004", "2025-11-20"),
    ("2026-01-12 09", "HS001", "TN-0002", "2026-01-16"),
    ("2026-01-13 09", "CTV01", "TN-0001", "2026-01-14"),
    ("2026-02-02 09", "HS010", "TN-0003", None),
    ("2026-02-03 09", "HS001", "STK-0001", "2026-02-05"),
    ("2026-09-07 09", "HS002", "TN-0004", "2026-09-08"),  # the next school year
]
# (copy, added on, withdrawn at local day, reason)
YEAR_COPIES = [
    ("TN-0100", "2025-10-01", "2026-03-11", "Rách nát"),
    ("TN-0101", "2025-06-01", "2026-03-10", "Rách nát"),
    ("TN-0102", "2026-04-01", "2026-09-10", "Lạc hậu"),
    ("TN-0103", "2025-12-01", None, ""),
]


def seed_year(circ: Circulation, clock: FakeClock) -> None:
    """On top of the ``school`` fixture: two 6A2 students, a year of loans, copies added and withdrawn."""
    circ.record_facts([
        ("setting.set", {"key": "school_name", "value": "Trường THCS Nguyễn Du"}),
        patron_fact("HS010", "Lê Thị Ánh", class_name="6A2"),
        patron_fact("HS011", "Vũ Đức Long", class_name="6A2"),
        *[copy_fact(code, f"Sách mới {code}", added_on=added) for code, added, _w, _r in YEAR_COPIES],
    ])
    timeline: list[tuple[datetime, int, Callable[[], object]]] = []
    for when, patron, item, returned in YEAR_LOANS:
        day, hour = when.split()
        timeline.append((at(day, int(hour)), 1, lambda p=patron, i=item: circ.checkout(p, i)))
        if returned:
            timeline.append((at(returned, 8), 0, lambda i=item: circ.checkin(i)))
    for code, _added, withdrawn, reason in YEAR_COPIES:
        if withdrawn:
            timeline.append((at(withdrawn, 15), 2, lambda c=code, r=reason: circ.set_copy_status(c, "withdraw", r)))
    moment = clock.moment
    for when, _order, action in sorted(timeline, key=lambda t: (t[0], t[1])):
        clock.set(when)
        action()
    clock.set(moment)
