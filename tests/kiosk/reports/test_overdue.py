"""Homeroom overdue lists: the data, the xlsx/csv list, the PDF slips and the CLI."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest

from kiosk.reports import overdue
from kiosk.reports.common import UnknownClass
from tests.conftest import muontra
from tests.kiosk.reports.conftest import pdf_text, seed_two_classes, xlsx_rows


@pytest.fixture
def seeded(school, clock):
    return seed_two_classes(school, clock)


def test_overdue_list_holds_only_the_class_and_counts_days_from_the_local_today(school, seeded):
    today = school.today()
    loans = overdue.overdue_loans("6A1", today, school.timezone)
    assert [(x.patron_code, x.item) for x in loans] == [("HS001", "TN-0002"), ("HS001", "TN-0001")]
    for x in loans:
        assert x.due == seeded[x.item].due
        assert x.days == (today - seeded[x.item].due).days > 0
        assert x.checked_out == date(2026, 1, 5)
    other = overdue.overdue_loans("6A2", today, school.timezone)
    assert [(x.patron_code, x.item, x.class_name) for x in other] == [("HS010", "TN-0003", "6A2")]


def test_a_loan_due_today_is_not_overdue_yet(school, seeded):
    due = seeded["TN-0005"].due
    assert "TN-0005" not in [x.item for x in overdue.overdue_loans("6A1", due, school.timezone)]
    next_day = overdue.overdue_loans("6A1", date.fromordinal(due.toordinal() + 1), school.timezone)
    assert [x.days for x in next_day if x.item == "TN-0005"] == [1]


def test_unknown_class_is_refused_in_both_languages(school):
    with pytest.raises(UnknownClass) as caught:
        overdue.overdue_loans("9Z9", school.today(), school.timezone)
    assert caught.value.message_in("vi") == "Không có lớp nào tên là '9Z9'."
    assert caught.value.message_in("en") == "There is no class named '9Z9'."


def test_xlsx_cell_by_cell(school, seeded):
    today = school.today()
    loans = overdue.overdue_loans("6A1", today, school.timezone)
    out = io.BytesIO()
    overdue.write("xlsx", out, "6A1", today, loans, "vi")
    rows = xlsx_rows(out.getvalue())
    assert rows[0][0] == "Danh sách sách quá hạn lớp 6A1 ngày 02/03/2026"
    assert rows[1] == ["Mã học sinh", "Học sinh", "Lớp", "Tên sách", "Số ĐKCB", "Ngày mượn", "Hạn trả",
                       "Số ngày quá hạn"]
    due = seeded["TN-0001"].due
    days = (today - due).days
    assert rows[2:] == [
        ["HS001", "Nguyễn Văn An", "6A1", "Đất rừng phương Nam", "TN-0002", _midnight(2026, 1, 5),
         _midnight(due.year, due.month, due.day), days],
        ["HS001", "Nguyễn Văn An", "6A1", "Dế Mèn phiêu lưu ký", "TN-0001", _midnight(2026, 1, 5),
         _midnight(due.year, due.month, due.day), days],
    ]


def _midnight(year: int, month: int, day: int):
    from datetime import datetime

    return datetime(year, month, day)


def test_csv_in_english_opens_in_excel(school, seeded):
    today = school.today()
    out = io.BytesIO()
    overdue.write("csv", out, "6A2", today, overdue.overdue_loans("6A2", today, school.timezone), "en")
    raw = out.getvalue()
    assert raw.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    due = seeded["TN-0003"].due
    assert rows == [
        ["Student code", "Student", "Class", "Title", "Accession no.", "Checkout date", "Due date", "Days overdue"],
        ["HS010", "Lê Thị Ánh", "6A2", "Tuổi thơ dữ dội", "TN-0003", "2026-02-02", due.isoformat(),
         str((today - due).days)],
    ]


def test_pdf_slips_one_per_student_with_vietnamese_text(school, seeded, clock):
    # A second overdue student in 6A1 so the PDF has two slips.
    from tests.kiosk.reports.conftest import at

    clock.set(at("2026-02-02"))
    school.checkout("HS002", "STK-0001")
    clock.set(at("2026-03-02"))
    today = school.today()
    loans = overdue.overdue_loans("6A1", today, school.timezone)
    out = io.BytesIO()
    overdue.write("pdf", out, "6A1", today, loans, "vi")
    text = "\n".join(pdf_text(out.getvalue()))
    assert text.count("PHIẾU NHẮC TRẢ SÁCH THƯ VIỆN") == 2
    assert "Gửi em: Nguyễn Văn An, lớp 6A1 (mã học sinh HS001)" in text
    assert "Gửi em: Trần Thị Bình, lớp 6A1 (mã học sinh HS002)" in text
    assert "TRƯỜNG THCS NGUYỄN DU" in text
    assert "Dế Mèn phiêu lưu ký" in text and "Từ điển Tiếng Việt" in text
    assert "Giáo viên chủ nhiệm" in text and "Hạn trả" in text and "Số ĐKCB" in text
    assert "Lê Thị Ánh" not in text and "TN-0003" not in text
    # The slip of An comes before the one of Bình (class lists sort by given name).
    assert text.index("Nguyễn Văn An") < text.index("Trần Thị Bình")


def test_cli_writes_each_format_and_refuses_bad_input(school, seeded, data_dir, tmp_path):
    from kiosk.db import db

    db.close()
    for fmt in ("pdf", "xlsx", "csv"):
        out = tmp_path / f"6a1.{fmt}"
        result = muontra("report", "overdue", "--data", str(data_dir), "--class", "6A1", "--out", str(out),
                         "--on", "2026-03-02")
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == f"{out}: 2 cuốn sách quá hạn của 1 học sinh."
        assert out.stat().st_size > 0
    assert xlsx_rows(tmp_path / "6a1.xlsx")[2][4] == "TN-0002"
    assert "Gửi em: Nguyễn Văn An" in pdf_text(tmp_path / "6a1.pdf")[0]

    unknown = muontra("report", "overdue", "--data", str(data_dir), "--class", "6Z9", "--out",
                      str(tmp_path / "x.pdf"))
    assert unknown.returncode == 1
    assert unknown.stderr.strip() == "Không có lớp nào tên là '6Z9'."
    assert not (tmp_path / "x.pdf").exists()

    bad = muontra("--lang", "en", "report", "overdue", "--data", str(data_dir), "--class", "6A1",
                  "--format", "docx", "--out", str(tmp_path / "x.docx"))
    assert bad.returncode == 1
    assert bad.stderr.strip() == "Unknown format 'docx': use one of pdf, xlsx, csv."
    assert "Traceback" not in bad.stderr + unknown.stderr

    nowhere = muontra("report", "overdue", "--data", str(data_dir), "--class", "6A1",
                      "--out", str(tmp_path / "missing-dir" / "x.csv"))
    assert nowhere.returncode == 1 and "Traceback" not in nowhere.stderr
    assert nowhere.stderr.startswith("Không ghi được tệp")
