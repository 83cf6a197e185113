"""``muontra import`` as a librarian runs it: a real CLI process on a real data directory."""

from __future__ import annotations

import csv
import sqlite3
from pathlib import Path

import pytest
from stdnum import ean

from kiosk.store import DB_FILENAME
from tests.conftest import muontra


def count(data: Path, table: str) -> int:
    with sqlite3.connect(data / DB_FILENAME) as conn:
        return conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


def isbn13(number: int) -> str:
    stem = f"978604{number:06d}"
    return stem + ean.calc_check_digit(stem)


def write_catalog(path: Path, copies: int, titles: int, *, bad_line: int | None = None,
                  title_suffix: str = "") -> Path:
    """One row per copy, ``copies // titles`` copies of each title (class sets share an ISBN)."""
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(["Số ĐKCB", "ISBN", "Nhan đề", "Tác giả", "Loại sách", "Năm XB"])
        for n in range(copies):
            title = n % titles
            isbn = isbn13(title)
            if bad_line is not None and n + 2 == bad_line:
                isbn = isbn[:-1] + str((int(isbn[-1]) + 1) % 10)
            writer.writerow([f"STK-{n + 1:05d}", isbn, f"Sách tham khảo số {title}{title_suffix}",
                             "Nhiều tác giả", "STK", 2000 + title % 25])
    return path


def test_bad_rows_are_listed_with_line_numbers_and_nothing_is_written(data_dir, tmp_path):
    file = tmp_path / "hoc-sinh.csv"
    file.write_text("Mã HS,Họ và tên,Lớp,Đối tượng\nHS1,Nguyễn An,6A1,học sinh\nHS2,,6A1,\n"
                    "HS3,Lê Châu,6A1,phụ huynh\n", encoding="utf-8")
    result = muontra("import", "patrons", str(file), "--data", str(data_dir))
    assert result.returncode == 1
    assert "Dòng 3: Cột 'Họ và tên' bị để trống." in result.stderr
    assert "Dòng 4: 'phụ huynh' không phải là loại bạn đọc" in result.stderr
    assert "Traceback" not in result.stderr
    assert count(data_dir, "patron") == 0 and count(data_dir, "event") == 0

    english = muontra("import", "patrons", str(file), "--data", str(data_dir), "--lang", "en")
    assert english.returncode == 1 and "Line 3: 'Họ và tên' is empty." in english.stderr


def test_dry_run_checks_and_writes_nothing_then_a_real_import(data_dir, tmp_path):
    file = tmp_path / "hoc-sinh.csv"
    file.write_text("code,name,class\nHS1,Nguyễn An,6A1\nHS2,Trần Bình,6A2\n", encoding="utf-8")
    dry = muontra("import", "patrons", str(file), "--data", str(data_dir), "--dry-run", "--lang", "en")
    assert dry.returncode == 0, dry.stderr
    assert "2 rows checked, no problems" in dry.stdout
    assert count(data_dir, "patron") == 0
    real = muontra("import", "patrons", str(file), "--data", str(data_dir), "--lang", "en")
    assert real.returncode == 0, real.stderr
    assert "Imported 2 rows." in real.stdout
    assert count(data_dir, "patron") == 2


def test_a_missing_file_is_a_clear_message(data_dir, tmp_path):
    result = muontra("import", "catalog", str(tmp_path / "nope.xlsx"), "--data", str(data_dir))
    assert result.returncode == 2 and "nope.xlsx" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_ten_thousand_copies_import_and_reimport_updates(tmp_path):
    data = tmp_path / "school"
    file = write_catalog(tmp_path / "kho-sach.csv", copies=10_000, titles=2_000)
    result = muontra("import", "catalog", str(file), "--data", str(data), "--lang", "en")
    assert result.returncode == 0, result.stderr
    assert "Imported 10000 rows." in result.stdout
    assert (count(data, "copy"), count(data, "title"), count(data, "event")) == (10_000, 2_000, 10_000)

    # The librarian fixes the titles in Excel and imports the same file again.
    write_catalog(file, copies=10_000, titles=2_000, title_suffix=" (tái bản)")
    refused = muontra("import", "catalog", str(file), "--data", str(data), "--lang", "en")
    assert refused.returncode == 3, refused.stderr
    assert "0 new, 2000 changed, 8000 unchanged." in refused.stdout
    assert "Line 2 · Sách tham khảo số 0: Title: Sách tham khảo số 0 → Sách tham khảo số 0 (tái bản)" in refused.stdout
    assert "run again with --yes" in refused.stderr and "… and 1900 more." in refused.stderr
    again = muontra("import", "catalog", str(file), "--data", str(data), "--lang", "en", "--yes")
    assert again.returncode == 0, again.stderr
    assert (count(data, "copy"), count(data, "title")) == (10_000, 2_000)
    with sqlite3.connect(data / DB_FILENAME) as conn:
        titles = {row[0] for row in conn.execute("SELECT title FROM title")}
    assert all(title.endswith(" (tái bản)") for title in titles) and len(titles) == 2_000


@pytest.mark.slow
def test_one_bad_row_in_ten_thousand_writes_nothing(tmp_path):
    data = tmp_path / "school"
    file = write_catalog(tmp_path / "kho-sach.csv", copies=10_000, titles=2_000, bad_line=7_321)
    result = muontra("import", "catalog", str(file), "--data", str(data))
    assert result.returncode == 1
    problems = [line for line in result.stderr.splitlines() if line.startswith("Dòng ")]
    assert len(problems) == 1 and problems[0].startswith("Dòng 7321: ")
    assert "không phải là ISBN hợp lệ" in problems[0]
    assert count(data, "copy") == 0 and count(data, "event") == 0
