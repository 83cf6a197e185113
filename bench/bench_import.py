"""Import speed: checking and writing a catalogue of N copies (default 10,000), and refusing a workbook bomb.

    python bench/bench_import.py [--rows 10000] [--per-row-sample 1000] [--bomb-mb 300]

Prints two tables. Speed: rows per second for checking a CSV, an .xlsx and a MARC file, for
checking the same CSV again once its copies are stored (the comparison "N new, M changed, K
unchanged" then looks at every stored row), for writing the plan in one transaction (what
``apply_plan`` does), and for the alternative, one durable transaction per row, measured on a
sample in the same run. Limits: time and peak memory (a fresh process each) to refuse an .xlsx
of a few hundred KB holding one ``--bomb-mb`` MB cell, against openpyxl reading a tenth of that
cell the way the importer did before the limits (read-only, no size check).
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
from kiosk.store import open_kiosk  # noqa: E402

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


def as_marc(rows: list[list]) -> bytes:
    from pymarc import Field, Indicators, Record, Subfield

    out = []
    for code, isbn, title, author, category, year, price in rows:
        record = Record(force_utf8=True)
        for tag, subfields in (("020", [("a", isbn)]), ("100", [("a", author)]), ("245", [("a", title + ".")]),
                               ("264", [("c", str(year))]), ("942", [("c", category)]),
                               ("952", [("p", code), ("g", str(price))])):
            record.add_field(Field(tag=tag, indicators=Indicators(" ", " "),
                                   subfields=[Subfield(c, v) for c, v in subfields]))
        out.append(record.as_marc())
    return b"".join(out)


BOMB_CHILD = """
import sys, time
sys.path.insert(0, {root!r})
data = open({path!r}, 'rb').read()
import io
from openpyxl import load_workbook
from kiosk.spreadsheet import read_workbook
from kiosk.import_plan import ImportProblem
import tracemalloc
tracemalloc.start()
start = time.perf_counter()
if {how!r} == 'importer':
    try:
        read_workbook('ds.xlsx', data)
        outcome = 'read'
    except ImportProblem as problem:
        outcome = problem.code
else:
    book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    cells = sum(1 for row in book.worksheets[0].iter_rows(values_only=True) for _ in row)
    outcome = 'read'
seconds = time.perf_counter() - start
print(outcome, seconds, tracemalloc.get_traced_memory()[1] // 1024)
"""


def bomb_run(path: Path, how: str) -> tuple[str, float, float]:
    """Outcome, seconds and peak Python memory allocated while reading ``path`` (tracemalloc, MB), in a fresh
    process with openpyxl and kiosk already imported."""
    code = BOMB_CHILD.format(root=str(Path(__file__).resolve().parent.parent), path=str(path), how=how)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    return out[0], float(out[1]), int(out[2]) / 1024


def bomb_table(megabytes: int) -> list[tuple[str, int, str, float, float]]:
    from tests.kiosk.importing.conftest import workbook_with_huge_cell

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size, how in ((megabytes, "importer"), (max(1, megabytes // 10), "importer"),
                          (max(1, megabytes // 10), "openpyxl")):
            path = Path(tmp) / f"bomb-{size}.xlsx"
            path.write_bytes(workbook_with_huge_cell(size))
            outcome, seconds, peak = bomb_run(path, how)
            rows.append((how, size, f"{path.stat().st_size / 1024:.0f} KB", seconds, peak, outcome))
    return rows


def timed(action) -> tuple[float, object]:
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def fresh_store(root: Path, name: str):
    if db.obj is not None and not db.is_closed():
        db.close()
    return open_kiosk(root / name, upgrade=True).circulation


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--per-row-sample", type=int, default=1_000)
    parser.add_argument("--bomb-mb", type=int, default=300)
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
        marc_data = as_marc(rows)
        seconds, marc_plan = timed(lambda: plan_import("catalog", "exported_records", marc_data))
        assert marc_plan.ok and len(marc_plan.facts) == args.rows, marc_plan.errors[:3]
        results.append(("check MARC 21 (binary, UTF-8)", args.rows, seconds))

        circ = fresh_store(root, "one-transaction")
        seconds, written = timed(lambda: apply_plan(circ, plan))
        assert written == args.rows
        results.append(("write, one transaction (apply_plan)", args.rows, seconds))
        seconds, again = timed(lambda: plan_import("catalog", "kho.csv", csv_data))
        assert again.unchanged == args.rows
        results.append(("check CSV again, every copy stored (compare)", args.rows, seconds))

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
    one, per_row = results[3], results[5]
    print(f"\none transaction is {(one[1] / one[2]) / (per_row[1] / per_row[2]):.1f}× faster than one per row")
    print("\n| reader | cell | file | seconds | peak memory MB | outcome |\n|---|---:|---:|---:|---:|---|")
    bombs = bomb_table(args.bomb_mb)
    for how, size, file_size, seconds, peak, outcome in bombs:
        print(f"| {how} | {size} MB | {file_size} | {seconds:.3f} | {peak:.0f} | {outcome} |")
    print(f"\nrefusing a {bombs[0][1]} MB cell costs {bombs[2][3] / bombs[0][3]:,.0f}× less time than openpyxl "
          f"reading a {bombs[2][1]} MB one")


if __name__ == "__main__":
    main()
