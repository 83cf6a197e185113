"""Registers: accession register, loan book and general register, cell by cell and in print."""

from __future__ import annotations

import io
from datetime import date, datetime

import pytest

from kiosk.reports import registers, stats
from kiosk.reports.registers import UnknownRegister
from tests.conftest import copy_fact, muontra
from tests.kiosk.reports.conftest import YEAR_COPIES, YEAR_LOANS, pdf_text, seed_year, xlsx_rows

YEAR = "2025-2026"


@pytest.fixture
def year(school, clock):
    school.record_facts([copy_fact("TN-0010", "Dế Mèn phiêu lưu ký", author="Tô Hoài", publisher="Kim Đồng",
                                   year=2019, classification="895.9223", price=45000, added_on="2024-09-05")])
    seed_year(school, clock)
    return school


def build(kind: str, circ, lang: str = "vi", **kwargs):
    return registers.build(kind, stats.period_from(YEAR), circ.timezone, lang, **kwargs)


def test_accession_register_one_line_per_copy_per_prefix_in_accession_order(year):
    tables = build("accession", year)
    assert [t.name for t in tables] == ["BAO", "SGK", "STK", "TN"]
    tn = tables[-1]
    assert tn.headers == ["STT", "Ngày vào sổ", "Số ĐKCB", "Tên sách", "Tác giả", "Nhà xuất bản", "Năm XB",
                          "Giá tiền (đ)", "Môn loại", "Ghi chú / xuất sổ"]
    assert tn.column("Số ĐKCB") == ["TN-0001", "TN-0002", "TN-0003", "TN-0004", "TN-0010", "TN-0100", "TN-0101",
                                    "TN-0102", "TN-0103"]
    assert tn.column("STT") == list(range(1, 10))
    assert tn.rows[4] == [5, date(2024, 9, 5), "TN-0010", "Dế Mèn phiêu lưu ký", "Tô Hoài", "Kim Đồng", 2019,
                          45000, "895.9223", ""]
    notes = dict(zip(tn.column("Số ĐKCB"), tn.column("Ghi chú / xuất sổ"), strict=True))
    for code, _added, withdrawn, reason in YEAR_COPIES:
        if withdrawn:
            day = date.fromisoformat(withdrawn).strftime("%d/%m/%Y")
            assert notes[code] == f"Đã xuất {day}: {reason}"
    assert [t.name for t in build("accession", year, prefix="sgk")] == ["SGK"]


def test_accession_register_xlsx_and_pdf_repeat_the_header_on_every_page(year):
    year.record_facts([copy_fact(f"STK-{n:04d}", f"Sách tham khảo số {n}", category="STK") for n in range(2, 90)])
    tables = build("accession", year)
    out = io.BytesIO()
    registers.write("xlsx", out, "accession", tables, stats.period_from(YEAR), "vi")
    rows = xlsx_rows(out.getvalue(), "STK")
    assert rows[0][0] == "Sổ đăng ký cá biệt — STK"
    assert rows[1][2] == "Số ĐKCB"
    assert [r[2] for r in rows[2:]] == [f"STK-{n:04d}" for n in range(1, 90)]
    pdf = io.BytesIO()
    registers.write("pdf", pdf, "accession", tables, stats.period_from(YEAR), "vi")
    pages = pdf_text(pdf.getvalue())
    assert len(pages) >= 3
    assert "SỔ ĐĂNG KÝ CÁ BIỆT" in pages[0]
    assert all("Số ĐKCB" in page and "Tên sách" in page for page in pages)
    assert "STK-0089" not in pages[0] and "STK-0089" in "".join(pages[1:])


def test_loan_book_students_and_teachers_apart(year):
    students, teachers = build("loans", year)
    seeded = [(when[:10], patron, item, returned) for when, patron, item, returned in YEAR_LOANS
              if "2025-09-01" <= when[:10] <= "2026-08-31"]
    assert [(r[1].isoformat(), r[2], r[5]) for r in students.rows] == [
        (day, patron, item) for day, patron, item, _r in seeded if patron != "GV001"]
    assert [(r[2], r[5]) for r in teachers.rows] == [("GV001", "TN-0004")]
    returned = {(r[2], r[5], r[1].isoformat()): r[8] for r in students.rows}
    for day, patron, item, back in seeded:
        if patron != "GV001":
            assert returned[(patron, item, day)] == (date.fromisoformat(back) if back else None)
    assert students.rows[0][3] == "Trần Thị Bình" and students.rows[0][4] == "6A1"


def test_general_register_balances(year):
    balance, received, withdrawn, stocktake = build("general", year)
    rows = {r[0]: r[1:] for r in balance.rows}
    start, got, went, end = (rows[k][-1] for k in ("Tồn đầu kỳ", "Nhập vào", "Đã thanh lý", "Tồn cuối kỳ"))
    in_year = [c for c in YEAR_COPIES if "2025-09-01" <= c[1] <= "2026-08-31"]
    gone = [c for c in YEAR_COPIES if c[2] and "2025-09-01" <= c[2] <= "2026-08-31"]
    assert (got, went) == (len(in_year), len(gone))
    assert end == start + got - went
    assert received.rows[:-1] == sorted(
        [[date.fromisoformat(added), 0, 0, 1, 0, 1, 0] for _c, added, _w, _r in in_year])
    assert withdrawn.rows[-1][-2] == len(gone)
    assert {r[1] for r in withdrawn.rows[:-1]} == {"Rách nát"}
    assert stocktake.rows == [] and stocktake.note == "Trong kỳ chưa có đợt kiểm kê nào kết thúc."


def test_general_register_lists_a_finished_stocktake(year):
    from kiosk.workflows.services import Workflows

    flows = Workflows(year)
    session = flows.open_stocktake(None, "", "", by="GV001")
    for code in ("TN-0001", "TN-0002", "ZZ-9999"):
        flows.stocktake_scan(session, code, by="CTV01")
    flows.finish_stocktake(session, by="GV001")
    *_rest, stocktake = build("general", year)
    assert len(stocktake.rows) == 1
    row = stocktake.rows[0]
    assert row[1] == "Toàn thư viện"
    assert row[3] == 2 and row[7] == 1  # present, unknown codes


def test_cli_registers(year, data_dir, tmp_path):
    from kiosk.db import db

    db.close()
    for kind in registers.KINDS:
        for fmt in registers.FORMATS:
            out = tmp_path / f"{kind}.{fmt}"
            result = muontra("report", "register", kind, "--data", str(data_dir), "--year", YEAR,
                             "--out", str(out))
            assert result.returncode == 0, result.stderr
    assert xlsx_rows(tmp_path / "loans.xlsx", "Học sinh")[2][1] == datetime(2025, 9, 1)
    assert "SỔ ĐĂNG KÝ TỔNG QUÁT" in pdf_text(tmp_path / "general.pdf")[0]
    bad = muontra("report", "register", "inventory", "--data", str(data_dir), "--out", str(tmp_path / "x.xlsx"))
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert bad.stderr.strip() == UnknownRegister(kind="inventory").message_in("vi")
