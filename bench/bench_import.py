"""Import speed: checking and writing a catalogue of N copies (default 10,000).

    python bench/bench_import.py [--rows 10000] [--per-row-sample 1000]

Prints one table: rows per second for checking a CSV and an .xlsx file, for
writing the plan in one transaction (what ``apply_plan`` does), and for the
alternative, one durable transaction per row, measured on a sample in the same run.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from openpyxl import Workbook  # noqa: E402
from stdnum import ean  # noqa: E402

import kiosk.cli  # noqa: E402,F401  (registers every command module before importer_cli is imported)
from kiosk.db import db  # noqa: E402
from kiosk.importer import apply_plan, plan_import  # noqa: E402
from kiosk.importer_cli import current_circulation  # noqa: E402
from kiosk.store import open_store  # noqa: E402

HEADER = ["Số ĐKCB", "ISBN", "Nhan đề", "Tác giả", "Loại sách", "Năm XB", "Giá tiền"]


def catalogue_rows(count: int, titles: int) -> list[list]:
    rows = []
    for n in range(count):
        title = n % titles
        stem = f"978604{title:06d}"
        rows.append([f"STK-{n + 1:05d}", stem + ean.calc_check_digit(stem), f"Sách tham khảo số {title}",
                     "Nhiều tác giả", "STK", 2000 + title % 25, 45000])
    return rows


def as_csv(rows: list[list]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow(HEADER)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8-sig")


def as_xlsx(rows: list[list]) -> bytes:
    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(HEADER)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def timed(action) -> tuple[float, object]:
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def fresh_store(root: Path, name: str):
    if db.obj is not None and not db.is_closed():
        db.close()
    open_store(root / name, upgrade=True)
    return current_circulation()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--per-row-sample", type=int, default=1_000)
    args = parser.parse_args()
    rows = catalogue_rows(args.rows, max(1, args.rows // 5))
    csv_data, xlsx_data = as_csv(rows), as_xlsx(rows)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        fresh_store(root, "check")
        seconds, plan = timed(lambda: plan_import("catalog", "kho.csv", csv_data))
        assert plan.ok and len(plan.facts) == args.rows
        results.append(("check CSV", args.rows, seconds))
        seconds, xlsx_plan = timed(lambda: plan_import("catalog", "kho.xlsx", xlsx_data))
        assert xlsx_plan.ok and len(xlsx_plan.facts) == args.rows
        results.append(("check .xlsx", args.rows, seconds))

        circ = fresh_store(root, "one-transaction")
        seconds, written = timed(lambda: apply_plan(circ, plan))
        assert written == args.rows
        results.append(("write, one transaction (apply_plan)", args.rows, seconds))

        circ = fresh_store(root, "per-row")
        sample = plan.facts[: args.per_row_sample]
        seconds, _ = timed(lambda: [circ.record_facts([fact]) for fact in sample])
        results.append(("write, one transaction per row", len(sample), seconds))
        db.close()

    cpu = subprocess.run(["sh", "-c", "lscpu | grep 'Model name'"], capture_output=True, text=True).stdout
    print(f"# {platform.python_implementation()} {platform.python_version()}, nproc={os.cpu_count()}, "
          f"{cpu.split(':', 1)[-1].strip()}")
    print("| step | rows | seconds | rows/s |\n|---|---:|---:|---:|")
    for label, count, seconds in results:
        print(f"| {label} | {count} | {seconds:.2f} | {count / seconds:,.0f} |")
    one, per_row = results[2], results[3]
    print(f"\none transaction is {(one[1] / one[2]) / (per_row[1] / per_row[2]):.1f}× faster than one per row")


if __name__ == "__main__":
    main()
