"""Reports benchmark: how long a big school's reports, registers, labels and cards take to render.

    python bench/bench_reports.py [--students 1200 --copies 12000 --loans 25000]

Builds a school in a temporary data directory (bulk facts in one transaction: students in
classes of 40, copies, a school year of loans with most returned), then times each output.
The accession register PDF is also rendered twice for the same rows: with plain text in every cell
that fits its column (what the reports do) and with a wrapping Paragraph in every cell (the simple
way), and as one table instead of chunks of 250 rows (reportlab copies the remaining rows at every
page break). Times are wall and CPU seconds: compare CPU seconds on a shared machine.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import random
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kiosk.db import db  # noqa: E402
from kiosk.ledger import iso  # noqa: E402
from kiosk.reports import cards, labels, overdue, registers, stats  # noqa: E402
from kiosk.services import Circulation  # noqa: E402
from kiosk.store import open_store  # noqa: E402

TIMEZONE = ZoneInfo("Asia/Ho_Chi_Minh")
YEAR_START = date(2025, 9, 1)


def build_school(data: Path, students: int, copies: int, loans: int) -> float:
    started = time.perf_counter()
    open_store(data, upgrade=True)
    circ = Circulation(device="bench", clock=lambda: datetime(2026, 3, 2, 2, tzinfo=UTC))
    rng = random.Random(7)
    facts: list[tuple[str, dict]] = [("setting.set", {"key": "school_name", "value": "Trường THCS Nguyễn Du"})]
    given = ["An", "Bình", "Châu", "Dũng", "Đức", "Hà", "Hương", "Khoa", "Lan", "Minh", "Nam", "Yến"]
    for n in range(students):
        grade, section = 6 + (n // 40) % 4, 1 + n // 160
        facts.append(("patron.upsert", {"code": f"HS{n:05}", "name": f"Nguyễn Văn {rng.choice(given)}",
                                        "class_name": f"{grade}A{section}", "kind": "student",
                                        "school_year": "2025-2026", "active": True}))
    for n in range(copies):
        category = rng.choice(("TN", "TN", "STK", "SGK"))
        facts.append(("catalog.upsert", {"item": f"{category}-{n:05}", "title": f"Sách số {n // 3}",
                                         "author": "Tô Hoài", "category": category, "isbn": None,
                                         "classification": "895.9223", "price": 45000,
                                         "added_on": (YEAR_START - timedelta(days=n % 700)).isoformat()}))
    codes = [f["item"] for _t, f in facts if "item" in f]
    moment = datetime(2025, 9, 3, 2)
    free = list(codes)
    for _n in range(loans):
        moment += timedelta(minutes=14)
        item = free.pop(rng.randrange(len(free)))
        loan = str(uuid.uuid4())
        facts.append(("loan.checkout", {"loan": loan, "item": item, "patron": f"HS{rng.randrange(students):05}",
                                        "at": iso(moment), "due": (moment.date() + timedelta(days=10)).isoformat(),
                                        "location": "main", "device": "bench"}))
        if rng.random() < 0.97:
            facts.append(("loan.checkin", {"loan": loan, "item": item, "status": "available",
                                           "at": iso(moment + timedelta(days=rng.randrange(1, 14))),
                                           "device": "bench"}))
            free.append(item)
    circ.record_facts(facts)
    return time.perf_counter() - started


def timed(label: str, action: Callable[[], object], rows: list[tuple[str, float, float, str]],
          note: str = "") -> float:
    """Wall and CPU seconds of ``action``; returns the CPU time (the machine may be shared)."""
    started, cpu = time.perf_counter(), time.process_time()
    result = action()
    elapsed, used = time.perf_counter() - started, time.process_time() - cpu
    rows.append((label, elapsed, used, note or (f"{len(result)} B" if isinstance(result, bytes) else "")))
    return used


def render(write: Callable[[io.BytesIO], object]) -> bytes:
    out = io.BytesIO()
    write(out)
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=1200)
    parser.add_argument("--copies", type=int, default=12000)
    parser.add_argument("--loans", type=int, default=25000)
    parser.add_argument("--register-rows", type=int, default=3000,
                        help="rows of the LongTable vs Table comparison")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="muontra-bench-reports-"))
    try:
        load = os.getloadavg()[0]
        built = build_school(folder / "data", args.students, args.copies, args.loans)
        rows: list[tuple[str, float, float, str]] = []
        year = stats.period_from("2025-2026")
        today = date(2026, 3, 2)
        report = None

        def compute():
            nonlocal report
            report = stats.compute(year, TIMEZONE, "vi")
            return report

        timed("stats: compute a school year", compute, rows, f"{args.loans} loans")
        timed("stats: xlsx", lambda: render(lambda o: stats.write("xlsx", o, report, "vi")), rows)
        timed("stats: PDF with 3 charts", lambda: render(lambda o: stats.write("pdf", o, report, "vi")), rows)
        class_name = "6A1"
        late = overdue.overdue_loans(class_name, today, TIMEZONE)
        timed(f"overdue slips, class {class_name}",
              lambda: render(lambda o: overdue.write("pdf", o, class_name, today, late, "vi")), rows,
              f"{len(overdue.by_student(late))} students")
        accession = registers.build("accession", year, TIMEZONE, "vi")
        timed("accession register: xlsx", lambda: render(
            lambda o: registers.write("xlsx", o, "accession", accession, year, "vi")), rows, f"{args.copies} rows")
        timed("accession register: PDF", lambda: render(
            lambda o: registers.write("pdf", o, "accession", accession, year, "vi")), rows, f"{args.copies} rows")
        loan_book = registers.build("loans", year, TIMEZONE, "vi")
        timed("loan book: PDF", lambda: render(
            lambda o: registers.write("pdf", o, "loans", loan_book, year, "vi")), rows, f"{args.loans} rows")
        copies = labels.select_copies(every=True)
        timed("labels --all, 5x13", lambda: render(
            lambda o: labels.write_labels(o, copies, labels.make_sheet("5x13"))), rows, f"{len(copies)} labels")
        patrons = cards.class_patrons(class_name)
        timed(f"cards, class {class_name}", lambda: render(
            lambda o: cards.write_cards(o, patrons, today, "vi")), rows, f"{len(patrons)} cards")

        sample = [t for t in accession if t.rows][0]
        sample = registers.Table(sample.name, sample.title, sample.headers,
                                 (sample.rows * (args.register_rows // len(sample.rows) + 1))[:args.register_rows],
                                 sample.widths)
        fitted = timed("register PDF, text cells where they fit", lambda: render(
            lambda o: registers.write("pdf", o, "accession", [sample], year, "vi")), rows,
            f"{args.register_rows} rows")
        from kiosk.reports import pdf as report_pdf

        chosen_cell = report_pdf.cell
        report_pdf.cell = lambda value, style, _width: report_pdf.para(value, style)
        try:
            paragraphs = timed("register PDF, a Paragraph per cell", lambda: render(
                lambda o: registers.write("pdf", o, "accession", [sample], year, "vi")), rows,
                f"{args.register_rows} rows")
        finally:
            report_pdf.cell = chosen_cell

        report_pdf.CHUNK_ROWS = 10**9
        try:
            single = timed("register PDF, one table (no chunks)", lambda: render(
                lambda o: registers.write("pdf", o, "accession", [sample], year, "vi")), rows,
                f"{args.register_rows} rows")
        finally:
            report_pdf.CHUNK_ROWS = 250

        print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
              f"python {platform.python_version()}, load average before: {load:.1f}")
        print(f"school: {args.students} students, {args.copies} copies, {args.loans} loans "
              f"(built in {built:.1f} s)\n")
        print(f"{'output':40} {'wall s':>8} {'CPU s':>8}  note")
        for label, seconds, used, note in rows:
            print(f"{label:40} {seconds:8.2f} {used:8.2f}  {note}")
        print(f"\nCPU time, {args.register_rows} register rows: a Paragraph per cell / text where it fits "
              f"{paragraphs / fitted:.1f}×, one table / chunks of 250 rows {single / fitted:.1f}×")
    finally:
        db.close()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
