"""``muontra demo``: the school a newcomer meets first, and the sheet they scan."""

from __future__ import annotations

import sqlite3
import subprocess
from collections import Counter
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PIL import Image
from pyzbar import pyzbar
from stdnum import isbn

from kiosk.app import create_app
from kiosk.demo import FAMILY_NAMES
from kiosk.store import DB_FILENAME
from scanner.decode import Decoder
from scanner.images import load_image
from tests.conftest import muontra


def rows(data: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(data / DB_FILENAME) as conn:
        return conn.execute(sql).fetchall()


def today_in_vietnam() -> date:
    return datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).date()


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    data = tmp_path_factory.mktemp("demo") / "data"  # does not exist yet: the demo creates and migrates it
    result = muontra("demo", "--data", str(data), "--lang", "en")
    assert result.returncode == 0, result.stderr
    return data, result


PATRONS = "SELECT code, name, class, kind, school_year, active FROM patron ORDER BY code"
COPIES = ("SELECT c.code, t.isbn, t.title, t.author, t.publisher, t.year, t.category, t.classification, "
          "c.location, c.price, c.added_on FROM copy c JOIN title t ON t.id = c.title_id ORDER BY c.code")


def test_two_runs_make_the_same_school(demo_dir, tmp_path):
    first, _ = demo_dir
    second = tmp_path / "again"
    assert muontra("demo", "--data", str(second)).returncode == 0
    assert rows(first, PATRONS) == rows(second, PATRONS)
    assert rows(first, COPIES) == rows(second, COPIES)
    assert len(rows(first, PATRONS)) == 95


def test_readers_classes_and_names(demo_dir):
    data, _ = demo_dir
    patrons = rows(data, PATRONS)
    students = [p for p in patrons if p[3] == "student"]
    assert Counter(p[2] for p in students) == {"6A1": 30, "6A2": 30, "7A1": 30}
    assert all(p[0] == f"HS{p[2]}{p[0][-2:]}" for p in students)
    assert len({p[1] for p in students}) == 90  # no two students share a full name
    for _code, name, *_ in students:
        family, *_middle, given = name.split()
        assert family in FAMILY_NAMES and given[0].isupper() and len(name.split()) == 3
    assert Counter(p[3] for p in patrons) == {"student": 90, "teacher": 3, "helper": 2}
    assert {p[0][:2] for p in patrons if p[3] == "teacher"} == {"GV"}
    assert {p[0][:3] for p in patrons if p[3] == "helper"} == {"CTV"}


def test_catalogue_titles_isbns_and_accession_numbers(demo_dir):
    data, _ = demo_dir
    copies = rows(data, COPIES)
    assert 280 <= len(copies) <= 320
    assert len({(c[1], c[2]) for c in copies}) == 80
    assert Counter(c[6] for c in copies).keys() == {"SGK", "TN", "STK", "SNV", "periodical"}
    isbns = {c[1] for c in copies if c[1]}
    assert isbns and all(isbn.is_valid(number) and len(number) == 13 for number in isbns)
    assert all(c[1].startswith("9786040") for c in copies if c[6] == "SGK")
    # A class set: one ISBN on 30 copies.
    per_isbn = Counter(c[1] for c in copies if c[1])
    class_set = max(per_isbn, key=per_isbn.get)
    assert per_isbn[class_set] >= 30
    assert {c[2] for c in copies if c[1] == class_set} == {"Toán 6 tập một"}
    assert {"Dế Mèn phiêu lưu ký", "Đất rừng phương Nam", "Tôi thấy hoa vàng trên cỏ xanh"} <= {c[2] for c in copies}
    # Accession numbers run 00001, 00002… within each collection prefix.
    by_prefix: dict[str, list[int]] = {}
    for code, *_ in copies:
        prefix, number = code.split("-")
        by_prefix.setdefault(prefix, []).append(int(number))
        assert len(number) == 5
    assert by_prefix.keys() == {"SGK", "TN", "STK", "SNV", "BAO"}
    assert all(sorted(numbers) == list(range(1, len(numbers) + 1)) for numbers in by_prefix.values())


def test_settings_calendar_and_loans_make_sense_today(demo_dir):
    data, _ = demo_dir
    settings = dict(rows(data, "SELECT key, value FROM setting"))
    assert settings["school_name"] == '"Trường THCS Nguyễn Du"'
    closed = {date.fromisoformat(day) for (day,) in rows(data, "SELECT day FROM closed_day")}
    assert {date(2026, 2, 17), date(2026, 1, 1), date(2026, 4, 30), date(2025, 9, 2)} <= closed
    today = today_in_vietnam()
    year_end = date.fromisoformat(settings["year_end"].strip('"'))
    assert year_end > today or (today.month in (6, 7) and year_end.year == today.year + 1)
    assert any(d.year == year_end.year and d.month in (1, 2) for d in closed)  # this year's Tết too
    loans = rows(data, "SELECT l.due, c.status FROM loan l JOIN copy c ON c.id = l.copy_id "
                       "WHERE l.returned_at IS NULL")
    assert len(loans) == 5 and {status for _due, status in loans} == {"on_loan"}
    dues = sorted(date.fromisoformat(due) for due, _status in loans)
    assert dues[0] < today < dues[1]  # exactly one overdue


def test_if_empty_does_nothing_on_a_school_with_readers(demo_dir):
    data, _ = demo_dir
    before = rows(data, "SELECT COUNT(*) FROM event")
    again = muontra("demo", "--data", str(data), "--if-empty", "--lang", "en")
    assert again.returncode == 0 and "already has readers" in again.stdout
    assert rows(data, "SELECT COUNT(*) FROM event") == before
    refused = muontra("demo", "--data", str(data), "--lang", "en")
    assert refused.returncode == 1 and "empty data directory" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert rows(data, "SELECT COUNT(*) FROM event") == before


def test_the_sheet_scans_to_exactly_the_printed_codes(demo_dir, tmp_path):
    data, result = demo_dir
    sheet = data / "demo-sheet.pdf"
    assert f"Barcode sheet to print or scan: {sheet}" in result.stdout
    assert "Librarian PIN: 1234" in result.stdout
    fonts = subprocess.run(["pdffonts", str(sheet)], capture_output=True, text=True, check=True).stdout
    assert "DejaVuSans" in fonts and all(" yes " in line for line in fonts.splitlines()[2:])
    text = subprocess.run(["pdftotext", "-layout", str(sheet), "-"], capture_output=True, text=True,
                          check=True).stdout
    subprocess.run(["pdftoppm", "-png", "-r", "300", "-gray", str(sheet), str(tmp_path / "page")], check=True)
    pages = sorted(tmp_path.glob("page*.png"))
    assert len(pages) == 1
    decoded = [symbol.data.decode() for symbol in pyzbar.decode(Image.open(pages[0]))]
    printed = [word for word in text.split() if word.isupper() and any(ch.isdigit() for ch in word)
               and word.startswith(("HS", "GV", "CTV", "TN-", "SGK-", "STK-", "SNV-", "BAO-"))]
    assert len(decoded) == len(set(decoded)) >= 12
    assert sorted(decoded) == sorted(printed)
    # The kiosk's own camera pipeline reads the same sheet the same way.
    ours = Decoder().decode(load_image(pages[0]), still=True)
    assert sorted(d.text for d in ours) == sorted(printed) and {d.symbology for d in ours} == {"CODE128"}
    patrons = {code for (code,) in rows(data, "SELECT code FROM patron")}
    copies = {code for (code,) in rows(data, "SELECT code FROM copy")}
    assert all(code in patrons or code in copies for code in decoded)
    assert {"HS6A101", "GV001", "CTV01"} <= set(decoded)
    assert "Nguyễn Du" in text and "Dế Mèn phiêu lưu ký" in text


def test_a_newcomer_borrows_with_the_sheet(demo_dir, tmp_path):
    data, _ = demo_dir
    copy = tmp_path / "kiosk"
    copy.mkdir()
    with sqlite3.connect(data / DB_FILENAME) as source, sqlite3.connect(copy / DB_FILENAME) as target:
        source.backup(target)
    client = create_app({"DATA_DIR": str(copy), "TESTING": True}).test_client()
    answer = client.post("/api/checkout", json={"patron": "HS6A102", "item": "TN-00004"})
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["loan"]["title"] == "Đất rừng phương Nam"
    overdue = client.post("/api/checkout", json={"patron": "HS6A203", "item": "TN-00006"})
    assert overdue.status_code == 409 and overdue.get_json()["error"]["code"] == "has_overdue"
    periodical = client.post("/api/checkout", json={"patron": "HS6A102", "item": "BAO-00001"})
    assert periodical.get_json()["error"]["code"] == "copy_not_for_loan"
    back = client.post("/api/checkin", json={"item": "TN-00001"})
    assert back.status_code == 200
