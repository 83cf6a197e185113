"""Student lists and accession registers laid out as Vietnamese schools' exports are; asserts on what is stored."""

from __future__ import annotations

import unicodedata
from datetime import datetime

import pytest

from kiosk.importer import ChangesNeedConfirmation, apply_plan, class_name, plan_import
from kiosk.models import Copy, Patron, Title
from tests.kiosk.importing.conftest import column_format, isbn13, problems, workbook


def stored_patrons() -> dict[str, tuple[str, str]]:
    return {p.code: (p.name, p.class_name) for p in Patron.select()}


def imported(circ, kind: str, name: str, data: bytes, **options):
    plan = plan_import(kind, name, data, **options)
    assert plan.ok, [e.describe_in("en") for e in plan.errors]
    apply_plan(circ, plan)
    return plan


def test_header_is_found_below_title_rows_that_look_like_a_column(circ):
    # "SỔ ĐĂNG KÝ CÁ BIỆT" folds to the same key as the header "Số đăng ký cá biệt": the row naming
    # the most columns is the header, and lines keep the numbers Excel shows.
    data = workbook(("Sổ ĐKCB", [
        ["SỔ ĐĂNG KÝ CÁ BIỆT"],
        ["Trường THCS Nguyễn Du — năm học 2025-2026"],
        [],
        ["STT", "Số đăng ký cá biệt", "Nhan đề", "Tác giả", "Loại sách"],
        [1, "TN-0001", "Dế Mèn phiêu lưu ký", "Tô Hoài", "Thiếu nhi"],
        [2, "TN-0002", "", "Tô Hoài", "Thiếu nhi"],
    ]))
    plan = plan_import("catalog", "so-dkcb.xlsx", data)
    assert problems(plan) == [(6, "missing_value")]
    assert plan.errors[0].field == "Nhan đề"
    fixed = workbook(("Sổ ĐKCB", [["SỔ ĐĂNG KÝ CÁ BIỆT"], [], ["STT", "Số đăng ký cá biệt", "Nhan đề", "Loại sách"],
                                  [1, "TN-0001", "Dế Mèn phiêu lưu ký", "TN"]]))
    imported(circ, "catalog", "so-dkcb.xlsx", fixed)
    assert [(c.code, c.title.title, c.title.category) for c in Copy.select()] == [
        ("TN-0001", "Dế Mèn phiêu lưu ký", "TN")]


@pytest.mark.parametrize("header, row, name", [
    (["Mã học sinh", "Họ đệm", "Tên", "Lớp"], ["HS001", "Nguyễn Văn", "An", "6A1"], "Nguyễn Văn An"),  # VnEdu
    (["Mã HS", "Họ", "Tên đệm", "Tên", "Lớp"], ["HS001", "Trần", "Thị Thu", "Hà", "6A1"], "Trần Thị Thu Hà"),
    (["Mã HS", "Họ", "Tên", "Lớp"], ["HS001", "Lê", "Bình", "6A1"], "Lê Bình"),
    # A full-name column wins over a "Tên" sort column next to it.
    (["Mã HS", "Họ và tên", "Tên", "Lớp"], ["HS001", "Phạm Minh Châu", "Châu", "6A1"], "Phạm Minh Châu"),
])
def test_split_name_columns_are_joined(circ, header, row, name):
    imported(circ, "patrons", "ds.xlsx", workbook(("6A1", [header, row])))
    assert stored_patrons() == {"HS001": (name, "6A1")}


def test_national_database_export_two_level_header_codes_and_gender(circ):
    # CSDL ngành: title rows, "Họ và tên" merged over "Họ đệm" | "Tên", codes typed as numbers
    # shown with ten digits, a personal id next to the school's code, "Lớp 6A1" spelled out.
    rows = [
        ["SỞ GD&ĐT HÀ NỘI"],
        ["DANH SÁCH HỌC SINH"],
        ["STT", "Mã định danh Bộ GD&ĐT", "Mã học sinh", "Họ và tên", None, "Ngày sinh", "Giới tính", "Lớp"],
        [None, None, None, "Họ đệm", "Tên", None, None, None],
        [1, 1234567890, 112345678, "Nguyễn Thị", "Ánh", datetime(2014, 3, 2), "Nữ", "Lớp 6A1"],
        [2, 1234567891, 112345679, "Đỗ Quang", "Huy", datetime(2014, 7, 9), "Nam", "lớp 6a1 "],
    ]
    formats = {**column_format(2, "C", "0000000000", start=5), **column_format(2, "B", "000000000000", start=5)}
    data = workbook(("Sheet1", rows), formats=formats, merges=["D3:E3", "A3:A4", "B3:B4", "C3:C4", "H3:H4"])
    plan = imported(circ, "patrons", "csdl.xlsx", data)
    assert stored_patrons() == {"0112345678": ("Nguyễn Thị Ánh", "6A1"), "0112345679": ("Đỗ Quang Huy", "6A1")}
    # The gender column is stored: the kiosk addresses a teacher as thầy or cô from it.
    assert {p.code: p.gender for p in Patron.select()} == {"0112345678": "female", "0112345679": "male"}
    warnings = {w.code: w.describe_in("en") for w in plan.warnings}
    assert "Mã định danh Bộ GD&ĐT" in warnings["ignored_columns"]


def test_codes_keep_the_digits_excel_shows_so_a_text_copy_is_the_same_reader(circ):
    numbers = workbook(("DS", [["Mã HS", "Họ và tên", "Lớp"], [112345678, "Vũ An", "6A1"], [42, "Lý Bình", "6A1"]]),
                       formats={"A2": "0000000000", "A3": '"HS"0000'})
    imported(circ, "patrons", "so.xlsx", numbers)
    assert set(stored_patrons()) == {"0112345678", "HS0042"}
    as_text = workbook(("DS", [["Mã HS", "Họ và tên", "Lớp"], ["0112345678", "Vũ An", "6A1"],
                               ["HS0042", "Lý Bình", "6A1"]]))
    again = plan_import("patrons", "text.xlsx", as_text)
    assert (again.new, len(again.changes), again.unchanged) == (0, 0, 2)


def test_hidden_sheet_is_skipped_and_named(circ):
    data = workbook(("Năm cũ", [["Mã HS", "Họ và tên", "Lớp"], ["HS900", "Học Sinh Cũ", "9A9"]]),
                    ("Năm nay", [["Mã HS", "Họ và tên", "Lớp"], ["HS001", "Hồ Xuân", "6A1"]]),
                    hidden=["Năm cũ"])
    plan = imported(circ, "patrons", "ds.xlsx", data)
    assert stored_patrons() == {"HS001": ("Hồ Xuân", "6A1")}
    assert [(w.code, w.params["name"]) for w in plan.warnings] == [("skipped_sheet", "Năm cũ")]


def test_every_class_sheet_is_read_and_a_sheet_without_header_is_named(circ):
    header = ["STT", "Mã HS", "Họ và tên", "Lớp"]
    data = workbook(
        ("Hướng dẫn", [["Nhập mỗi lớp vào một trang tính."]]),
        ("6A1", [["DANH SÁCH LỚP 6A1"], header, [1, "HS001", "An", "6A1"], [2, "HS002", "Bình", "6A1"]]),
        ("6A2", [header, [1, "HS003", "Chi", "6A2"]]),
        ("6A3", [header, [1, "HS004", "Dũng", "6A3"]]),
    )
    plan = imported(circ, "patrons", "khoi6.xlsx", data)
    assert {code: klass for code, (_name, klass) in stored_patrons().items()} == {
        "HS001": "6A1", "HS002": "6A1", "HS003": "6A2", "HS004": "6A3"}
    assert [(w.code, w.params.get("name")) for w in plan.warnings if w.code == "skipped_sheet"] == [
        ("skipped_sheet", "Hướng dẫn")]
    # A code repeated on another class's sheet is named with both sheets.
    clash = workbook(("6A1", [header, [1, "HS001", "An", "6A1"]]), ("6A2", [header, [1, "HS001", "Ân", "6A2"]]))
    bad = plan_import("patrons", "khoi6.xlsx", clash)
    assert [(e.line, e.sheet, e.code, e.params["first"]) for e in bad.errors] == [
        (2, "6A2", "duplicate_code", "2 (6A1)")]


def test_rows_with_only_a_number_and_the_signature_footer_are_ignored(circ):
    data = workbook(("6A1", [
        ["STT", "Mã HS", "Họ và tên", "Lớp"],
        [1, "HS001", "Mai Anh", "6A1"],
        [2, "HS002", "Ngô Bảo", "6A1"],
        [3], [4], [5],  # the template's numbered empty rows
        [None, None, "Tổng số: 2 học sinh"],
        [None, None, "Người lập biểu", None],
        [None, None, "(Ký, ghi rõ họ tên)"],
        [None, None, "Trần Thị Thu", None],  # the signer's name, in the name column
    ]))
    plan = imported(circ, "patrons", "6a1.xlsx", data)
    assert set(stored_patrons()) == {"HS001", "HS002"}
    assert [(w.code, w.line) for w in plan.warnings] == [("ignored_footer", 7), ("ignored_number_rows", None)]
    assert plan.warnings[1].params["count"] == 3


@pytest.mark.parametrize("written, stored", [("6a1 ", "6A1"), ("Lớp 6A1", "6A1"), ("lop 10 a2", "10A2"),
                                             ("LỚP 7/3", "7/3"), ("9A", "9A")])
def test_class_names_are_normalised(written, stored):
    assert class_name(written) == stored


def test_decomposed_text_is_stored_composed_and_a_composed_copy_changes_nothing(circ):
    nfd = lambda text: unicodedata.normalize("NFD", text)  # noqa: E731
    data = workbook(("DS", [["Mã HS", "Họ và tên", "Lớp"], ["HS001", nfd("Hà Thị Tô"), "6A1"]]))
    imported(circ, "patrons", "mac.xlsx", data)
    assert Patron.get().name == "Hà Thị Tô" == unicodedata.normalize("NFC", Patron.get().name)
    composed = workbook(("DS", [["Mã HS", "Họ và tên", "Lớp"], ["HS001", "Hà Thị Tô", "6A1"]]))
    assert plan_import("patrons", "win.xlsx", composed).unchanged == 1


def test_retitle_and_recategorise_are_shown_and_need_confirmation(circ):
    isbn = isbn13("978604000001")
    imported(circ, "catalog", "a.xlsx", workbook(("S", [["Số ĐKCB", "ISBN", "Nhan đề", "Loại sách"],
                                                        ["SGK-0001", isbn, "Toán 6 tập một", "SGK"]])))
    # A file without a category column leaves the stored category alone: nothing changes.
    same = plan_import("catalog", "b.xlsx", workbook(("S", [["Số ĐKCB", "ISBN", "Nhan đề"],
                                                            ["SGK-0001", isbn, "Toán 6 tập một"]])))
    assert (same.new, same.changes, same.unchanged) == (0, [], 1)
    other = plan_import("catalog", "c.xlsx", workbook(("S", [["Số ĐKCB", "ISBN", "Nhan đề", "Loại sách"],
                                                             ["SGK-0001", isbn, "Toán 6 - Tập một", "STK"],
                                                             ["SGK-0002", isbn, "Toán 6 - Tập một", "STK"]])))
    assert (other.new, other.unchanged) == (1, 0)
    assert [(c.what, c.key, c.line, c.fields) for c in other.changes] == [
        ("title", "Toán 6 tập một", 2, [("title", "Toán 6 tập một", "Toán 6 - Tập một"), ("category", "SGK", "STK")])]
    assert "Title: Toán 6 tập một → Toán 6 - Tập một; Category: SGK → STK" in other.changes[0].line_in("en")
    with pytest.raises(ChangesNeedConfirmation):
        apply_plan(circ, other)
    assert (Title.get().title, Copy.select().count()) == ("Toán 6 tập một", 1)
    apply_plan(circ, other, accept_changes=True)
    assert (Title.get().title, Title.get().category, Copy.select().count()) == ("Toán 6 - Tập một", "STK", 2)


def test_one_isbn_with_two_titles_in_a_register_is_listed_not_merged(circ):
    isbn = isbn13("978604000002")
    data = workbook(("S", [["Số ĐKCB", "ISBN", "Nhan đề"], ["SGK-0001", isbn, "Toán 6. Tập một"],
                           ["SGK-0002", isbn, "Toán 6. Tập hai"]]))
    plan = plan_import("catalog", "s.xlsx", data)
    assert problems(plan) == [(3, "isbn_title_clash")]
    assert "Toán 6. Tập một" in plan.errors[0].message_in("en") and Title.select().count() == 0


def test_isbns_with_isbd_punctuation_and_qualifiers_are_cleaned(circ):
    data = workbook(("S", [["Số ĐKCB", "ISBN", "Nhan đề"], ["STK-0001", "0330029495:", "A"],
                           ["STK-0002", "0192547011(v1)", "B"], ["STK-0003", "ISBN 978-604-2-10738-9 (bìa mềm)", "C"]]))
    imported(circ, "catalog", "s.xlsx", data)
    assert sorted(t.isbn for t in Title.select()) == ["9780192547019", "9780330029490", "9786042107389"]


def test_a_default_category_files_rows_without_one_and_no_other(circ):
    data = workbook(("S", [["Số ĐKCB", "Nhan đề", "Loại sách"], ["STK-0001", "Từ điển", ""],
                           ["SGK-0001", "Toán 6", "SGK"]]))
    imported(circ, "catalog", "s.xlsx", data, category="STK")
    assert {c.code: c.title.category for c in Copy.select()} == {"STK-0001": "STK", "SGK-0001": "SGK"}
