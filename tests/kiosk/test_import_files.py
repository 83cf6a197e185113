"""Importing readers, copies and open loans from the files schools really have (in-process)."""

from __future__ import annotations

import io
import unicodedata
from datetime import date, datetime

import pytest
from openpyxl import Workbook

from kiosk.importer import ChangesNeedConfirmation, PlanHasErrors, apply_plan, parse_amount, plan_import
from kiosk.models import Copy, Event, Loan, Patron, Title


def xlsx(rows: list[list]) -> bytes:
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def csv_bytes(lines: list[str], delimiter: str = ",", encoding: str = "utf-8", newline: str = "\r\n") -> bytes:
    return newline.join(line.replace(",", delimiter) for line in lines).encode(encoding) + newline.encode()


def problems(plan) -> list[tuple[int | None, str]]:
    return [(error.line, error.code) for error in plan.errors]


# ---------------------------------------------------------------- patrons


def test_excel_csv_with_bom_semicolons_and_vietnamese_headers(circ):
    data = "\ufeff".encode() + csv_bytes([
        "Mã HS,Họ và tên,Lớp,Đối tượng,Năm học",
        "hs6a101,Nguyễn  Văn An,6a1,Học sinh,2025-2026",
        '"HS6A102","Trần Thị Bình",6A1,,2025-2026',
        "GV01,Phạm Thu Hà,,Giáo viên,2025-2026",
        "CTV01,Đỗ Quang Huy,7A2,cộng tác viên,2025-2026",
    ], delimiter=";")
    plan = plan_import("patrons", "hoc-sinh.csv", data)
    assert plan.ok, [e.describe_in("en") for e in plan.errors]
    assert plan.rows == 4 and not plan.warnings
    assert apply_plan(circ, plan) == 4
    rows = {p.code: (p.name, p.class_name, p.kind, p.school_year) for p in Patron.select()}
    assert rows == {
        "HS6A101": ("Nguyễn Văn An", "6A1", "student", "2025-2026"),
        "HS6A102": ("Trần Thị Bình", "6A1", "student", "2025-2026"),
        "GV01": ("Phạm Thu Hà", "", "teacher", "2025-2026"),
        "CTV01": ("Đỗ Quang Huy", "7A2", "helper", "2025-2026"),
    }
    assert Event.select().where(Event.type == "patron.upsert").count() == 4


def test_xlsx_number_codes_title_row_and_excel_line_numbers(circ):
    data = xlsx([
        ["DANH SÁCH HỌC SINH NĂM HỌC 2025-2026"],
        [],
        ["STT", "Mã học sinh", "Họ tên", "Lớp", "Ghi chú"],
        [1, 1001, "Lê Minh Châu", "6A2", None],
        [2, 1002.0, "Hoàng Gia Bảo", "6A2", None],
        [3, 1003, "", "6A2", None],
        [4, 1001, "Vũ Ngọc Mai", "6A2", None],
    ])
    plan = plan_import("patrons", "ds.xlsx", data)
    assert plan.rows == 4
    assert problems(plan) == [(6, "missing_value"), (7, "duplicate_code")]
    assert "Họ tên" in plan.errors[0].message_in("vi")
    assert plan.errors[1].describe_in("vi") == "Dòng 7: " + plan.errors[1].message_in("vi")
    assert "line 4" in plan.errors[1].message_in("en")
    assert [(w.line, w.code) for w in plan.warnings] == [(3, "ignored_columns")]
    assert "STT" not in plan.warnings[0].message_in("en") and "Ghi chú" in plan.warnings[0].message_in("en")
    codes = [payload["code"] for _type, payload in plan.facts]
    assert codes == ["1001", "1002"]  # never "1001.0"
    with pytest.raises(PlanHasErrors):
        apply_plan(circ, plan)
    assert Patron.select().count() == 0 and Event.select().count() == 0


def test_patron_kind_and_active_values(circ):
    data = csv_bytes([
        "code,name,class,kind,active",
        "HS1,An,6A1,student,có",
        "HS2,Bình,6A1,hs,không",
        "HS3,Châu,6A1,robot,",
        "HS4,Dũng,6A1,,maybe",
        "HS5,Hà,,student,",
    ])
    plan = plan_import("patrons", "p.csv", data)
    assert problems(plan) == [(4, "unknown_kind"), (5, "bad_yes_no"), (6, "missing_value")]
    assert [(p["code"], p["active"]) for _t, p in plan.facts] == [("HS1", True), ("HS2", False)]


def test_reimport_updates_patrons_instead_of_duplicating(circ):
    first = csv_bytes(["code,name,class", "HS1,Nguyễn An,6A1", "HS2,Trần Bình,6A1"])
    apply_plan(circ, plan_import("patrons", "p.csv", first))
    second = csv_bytes(["code,name,class", "HS1,Nguyễn Văn An,7A1", "HS2,Trần Bình,7A1", "HS3,Lê Chi,7A1"])
    plan = plan_import("patrons", "p.csv", second)
    # Every change to a stored reader is shown, old → new, before anything is written.
    assert (plan.new, plan.unchanged) == (1, 0)
    assert [(c.key, c.line, c.fields) for c in plan.changes] == [
        ("HS1", 2, [("name", "Nguyễn An", "Nguyễn Văn An"), ("class_name", "6A1", "7A1")]),
        ("HS2", 3, [("class_name", "6A1", "7A1")]),
    ]
    with pytest.raises(ChangesNeedConfirmation):
        apply_plan(circ, plan)
    assert Patron.get(Patron.code == "HS1").name == "Nguyễn An" and Patron.select().count() == 2
    apply_plan(circ, plan, accept_changes=True)
    assert Patron.select().count() == 3
    assert Patron.get(Patron.code == "HS1").name == "Nguyễn Văn An"
    assert {p.class_name for p in Patron.select()} == {"7A1"}


# ---------------------------------------------------------------- catalogue


def test_catalog_csv_class_set_shares_one_title(circ):
    data = csv_bytes([
        "Số ĐKCB,ISBN,Nhan đề,Tác giả,Loại sách,NXB,Năm XB,Kho,Ký hiệu phân loại,Giá tiền,Ngày nhập",
        "SGK-00001,978-604-0-00002-6,Toán 6 tập một,Hà Huy Khoái,SGK,NXB Giáo dục,2021,main,51,\"15.000\",05/09/2025",
        "SGK-00002,9786040000026,Toán 6 tập một,Hà Huy Khoái,sách giáo khoa,NXB Giáo dục,2021,6A1,51,15000,5/9/2025",
        "TN-00001,,Dế Mèn phiêu lưu ký,Tô Hoài,Thiếu nhi,Kim Đồng,2019,,8V3,\"45.000 đ\",",
        "BAO-00001,,Báo Thiếu niên Tiền phong,,Báo,,,,,,",
        "STK-00001,0-306-40615-2,Từ điển,,STK,,2000,,,,2025-09-05",
    ])
    plan = plan_import("catalog", "sach.csv", data)
    assert plan.ok, [e.describe_in("en") for e in plan.errors]
    apply_plan(circ, plan)
    assert Copy.select().count() == 5
    assert Title.select().count() == 4
    toan = Title.get(Title.isbn == "9786040000026")
    assert [c.code for c in toan.copies.order_by(Copy.code)] == ["SGK-00001", "SGK-00002"]
    assert (toan.category, toan.year, toan.publisher, toan.classification) == ("SGK", 2021, "NXB Giáo dục", "51")
    assert Copy.get(Copy.code == "SGK-00002").location == "6A1"
    dm = Copy.get(Copy.code == "TN-00001")
    assert (dm.price, dm.location, dm.added_on, dm.title.category) == (45000, "main", None, "TN")
    assert Copy.get(Copy.code == "SGK-00001").added_on == date(2025, 9, 5)
    assert Copy.get(Copy.code == "BAO-00001").title.category == "periodical"
    assert Copy.get(Copy.code == "STK-00001").title.isbn == "9780306406157"  # ISBN-10 stored as 13 digits


def test_catalog_bad_rows_are_each_reported_and_nothing_written(circ):
    data = csv_bytes([
        "barcode,isbn,title,author,category,year,added_on",
        "TN-1,9786040000025,Bad check digit,,TN,,",
        "TN-2,,Unknown category,,Truyện tranh Nhật,,",
        "TN-3,,,Nobody,TN,,",
        "TN-4,,Bad year,,TN,năm ngoái,",
        "TN-5,,Bad date,,TN,2020,31/02/2025",
        "TN-1,,Duplicate,,TN,,",
        "TN-7,,Fine,,TN,2020,",
    ])
    plan = plan_import("catalog", "c.csv", data)
    assert problems(plan) == [(2, "invalid_isbn"), (3, "unknown_category"), (4, "missing_value"),
                              (5, "bad_year"), (6, "bad_date"), (7, "duplicate_code")]
    assert plan.rows == 7 and len(plan.facts) == 1
    for error in plan.errors:
        assert error.message_in("vi") != error.message_in("en")
    with pytest.raises(PlanHasErrors):
        apply_plan(circ, plan)
    assert Copy.select().count() == 0 and Title.select().count() == 0


def test_catalog_xlsx_with_numbers_and_real_dates(circ):
    data = xlsx([
        ["Mã vạch", "ISBN", "Tên sách", "Tác giả", "Môn loại", "Năm xuất bản", "Ngày nhập", "Đơn giá"],
        [100234, 9786040000026, "Toán 6 tập một", "", "SGK", 2021, datetime(2025, 9, 5), 15000],
        [100235, 9786040000026.0, "Toán 6 tập một", "", "SGK", 2021.0, "06/09/2025", 15000.0],
    ])
    plan = plan_import("catalog", "c.xlsx", data)
    assert plan.ok, [e.describe_in("en") for e in plan.errors]
    apply_plan(circ, plan)
    assert [(c.code, c.added_on, c.price, c.title.isbn, c.title.year) for c in Copy.select().order_by(Copy.code)] == [
        ("100234", date(2025, 9, 5), 15000, "9786040000026", 2021),
        ("100235", date(2025, 9, 6), 15000, "9786040000026", 2021),
    ]


def test_reimporting_a_catalog_keeps_copy_status_and_location(school):
    school.checkout("HS001", "TN-0001")
    data = csv_bytes(["barcode,title,author,category", "TN-0001,Dế Mèn phiêu lưu ký (tái bản),Tô Hoài,TN"])
    apply_plan(school, plan_import("catalog", "c.csv", data), accept_changes=True)
    copy = Copy.get(Copy.code == "TN-0001")
    assert (copy.status, copy.location, copy.title.title) == ("on_loan", "main", "Dế Mèn phiêu lưu ký (tái bản)")


# ---------------------------------------------------------------- loans


def test_loans_from_a_paper_book(school):
    data = xlsx([
        ["Mã HS", "Số ĐKCB", "Ngày mượn", "Hạn trả"],
        ["hs001", "TN-0001", datetime(2026, 2, 20), "02/03/2026"],
        ["GV001", "STK-0001", "20/02/2026", datetime(2026, 3, 20)],
    ])
    plan = plan_import("loans", "so-muon.xlsx", data)
    assert plan.ok, [e.describe_in("en") for e in plan.errors]
    apply_plan(school, plan)
    loans = {(loan.patron.code, loan.copy.code, loan.due, loan.checked_out_at.date(), loan.checkout_device)
             for loan in Loan.select()}
    assert loans == {("HS001", "TN-0001", date(2026, 3, 2), date(2026, 2, 20), "import"),
                     ("GV001", "STK-0001", date(2026, 3, 20), date(2026, 2, 20), "import")}
    assert Copy.get(Copy.code == "TN-0001").status == "on_loan"
    # The kiosk now knows the book is out: returning it closes the imported loan.
    assert school.checkin("TN-0001").outcome == "returned"


def test_loan_rows_that_cannot_be_carried_over(school):
    school.checkout("HS002", "TN-0002")
    data = csv_bytes([
        "patron,item,checked_out,due",
        "HS999,TN-0001,01/03/2026,10/03/2026",
        "HS001,TN-9999,01/03/2026,10/03/2026",
        "HS001,TN-0002,01/03/2026,10/03/2026",
        "HS001,TN-0003,01/03/2026,20/02/2026",
        "HS001,TN-0004,hôm qua,10/03/2026",
        "HS001,TN-0004,01/03/2026,10/03/2026",
        "GV001,TN-0004,01/03/2026,10/03/2026",
        "HS001,STK-0001,01/03/2026,",
    ])
    plan = plan_import("loans", "l.csv", data)
    assert problems(plan) == [(2, "unknown_patron"), (3, "unknown_copy"), (4, "copy_on_loan"),
                              (5, "due_before_checkout"), (6, "bad_date"), (7, "duplicate_code"),
                              (8, "duplicate_code"), (9, "missing_value")]
    assert "line 6" in plan.errors[6].message_in("en")
    assert "20/02/2026" in plan.errors[3].message_in("vi")
    with pytest.raises(PlanHasErrors):
        apply_plan(school, plan)
    assert Loan.select().count() == 1


def test_a_plan_overtaken_by_a_checkout_writes_nothing(school):
    data = csv_bytes(["patron,item,checked_out,due", "HS001,TN-0001,01/03/2026,10/03/2026",
                      "HS002,TN-0003,01/03/2026,10/03/2026"])
    plan = plan_import("loans", "l.csv", data)
    assert plan.ok
    school.checkout("HS002", "TN-0003")  # lent at the kiosk between check and confirm
    events = Event.select().count()
    with pytest.raises(Exception) as caught:
        apply_plan(school, plan)
    assert getattr(caught.value, "code", None) == "import_outdated"
    assert Loan.select().count() == 1 and Event.select().count() == events


# ---------------------------------------------------------------- files


TONE_MARKS = "\u0300\u0301\u0303\u0309\u0323"


def windows_1258(text: str) -> bytes:
    """Encode like Vietnamese Windows: precomposed letters where the code page has them, else a tone mark."""
    out = b""
    for char in text:
        try:
            out += char.encode("cp1258")
        except UnicodeEncodeError:
            parts = unicodedata.normalize("NFD", char)
            base = unicodedata.normalize("NFC", "".join(c for c in parts if c not in TONE_MARKS))
            out += (base + "".join(c for c in parts if c in TONE_MARKS)).encode("cp1258")
    return out


def test_windows_1258_csv_is_read_with_a_warning(circ):
    text = "code,name,class\r\nHS1,Nguyễn Thị Ánh,6A1\r\nHS2,Đặng Văn Dũng,6A1\r\n"
    data = windows_1258(text)
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    plan = plan_import("patrons", "p.csv", data)
    assert plan.ok and [w.code for w in plan.warnings] == ["not_utf8"]
    assert [p["name"] for _t, p in plan.facts] == ["Nguyễn Thị Ánh", "Đặng Văn Dũng"]


def test_excel_unicode_text_utf16_tab_separated(circ):
    data = "Mã HS\tHọ và tên\tLớp\r\nHS1\tLý Gia Hân\t7A1\r\n".encode("utf-16")
    plan = plan_import("patrons", "p.txt", data)
    assert plan.ok and [p["name"] for _t, p in plan.facts] == ["Lý Gia Hân"]


def test_excel_sep_hint_line_names_the_delimiter_and_is_not_a_row(circ):
    data = "sep=;\r\nMã HS;Họ và tên;Lớp\r\nHS1;Ngô Bảo, Châu;6A1\r\nHS2;;6A1\r\n".encode()
    plan = plan_import("patrons", "p.csv", data)
    assert [p["name"] for _t, p in plan.facts] == ["Ngô Bảo, Châu"]
    assert problems(plan) == [(3, "missing_value")]


def test_multiline_quoted_cell_keeps_the_row_numbering(circ):
    data = csv_bytes(["code,name,class", 'HS1,"Nguyễn\nAn",6A1', "HS2,,6A1"], newline="\n")
    plan = plan_import("patrons", "p.csv", data)
    assert problems(plan) == [(3, "missing_value")]


@pytest.mark.parametrize(("filename", "data", "code"), [
    ("p.csv", b"", "empty_file"),
    ("p.csv", b"  \r\n", "empty_file"),
    ("p.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "unsupported_file"),
    ("p.xlsx", b"PK\x03\x04 not really a zip", "unreadable_file"),
    ("p.csv", "Họ và tên,Lớp\r\nAn,6A1\r\n".encode(), "missing_column"),
    ("p.csv", b"foo,bar\r\n1,2\r\n", "no_header"),
])
def test_unreadable_files_are_one_clear_problem(circ, filename, data, code):
    plan = plan_import("patrons", filename, data)
    assert not plan.ok and [e.code for e in plan.errors] == [code]
    assert plan.errors[0].message_in("vi") != plan.errors[0].message_in("en")
    if code == "missing_column":
        assert plan.errors[0].line == 1 and "Mã HS" in plan.errors[0].message_in("vi")
    elif code in ("empty_file", "unsupported_file", "unreadable_file"):
        assert plan.errors[0].line is None and plan.errors[0].where_in("vi") == "Tệp"


def test_unknown_kind_of_import_is_refused():
    with pytest.raises(Exception) as caught:
        plan_import("teachers", "p.csv", b"code\r\n")
    assert getattr(caught.value, "code", None) == "unknown_import_kind"


@pytest.mark.parametrize(("text", "amount"), [
    ("45.000", 45000), ("45,000 đ", 45000), ("45000", 45000), ("45000.00", 45000),
    ("1.250.000 VNĐ", 1250000), ("45.000,00", 45000), ("bốn mươi nghìn", None), ("", None),
])
def test_prices_as_schools_write_them(text, amount):
    assert parse_amount(text) == amount
