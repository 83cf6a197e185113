"""Scanned codes: cleaning, check digits, and cover ISBNs accepted only where unambiguous."""

from __future__ import annotations

import unicodedata

import pytest

from kiosk import codes, rules
from tests.kiosk.conftest import counts, refused_over_http

# ------------------------------------------------------------------ clean


@pytest.mark.parametrize("raw", [
    "HS001", " HS001 ", "hs001", "HS001\r\n", "HS001\t", "\x02HS001\x03",  # STX/ETX framing
    "HS\x00001", "\u200bHS001", "HS001\u200b", "\u200fHS001\u200e", "\ufeffHS001", "\u00a0HS001\u3000",
    "]C0HS001", "]c1HS001", "  ]C0HS001\n",
])
def test_noise_around_a_code_is_removed(raw):
    assert codes.clean(raw) == "HS001"


def test_aim_identifier_of_an_ean_scan_is_removed():
    assert codes.clean("]E09786040000019") == "9786040000019"


def test_configured_prefixes_and_suffixes_are_removed():
    assert codes.clean("*TN-0001#", prefixes=("*",), suffixes=("#",)) == "TN-0001"
    assert codes.clean("LIB:TN-0001/END\r", prefixes=("LIB:", "X"), suffixes=("/END",)) == "TN-0001"
    # Only at the ends: a prefix inside the code stays.
    assert codes.clean("TN*0001", prefixes=("*",)) == "TN*0001"


def test_vietnamese_letters_survive_normalised_and_upper_cased():
    decomposed = unicodedata.normalize("NFD", "đkcb-ễ1")
    assert codes.clean(decomposed) == "ĐKCB-Ễ1"
    assert len(codes.clean(decomposed)) == len("ĐKCB-Ễ1")


@pytest.mark.parametrize("raw", ["", "   ", "\r\n", "\x00\x01", "\u200b\u200f", "]C0"])
def test_nothing_left_is_an_empty_scan(raw):
    with pytest.raises(codes.EmptyCode):
        codes.clean(raw)


def test_a_very_long_code_is_refused():
    assert codes.clean("A" * codes.MAX_CODE_LENGTH) == "A" * codes.MAX_CODE_LENGTH
    with pytest.raises(codes.CodeTooLong):
        codes.clean("A" * (codes.MAX_CODE_LENGTH + 1))


# ------------------------------------------------------------------ check digits


@pytest.mark.parametrize(("scanned", "isbn13"), [
    ("9786040000019", "9786040000019"),
    ("978-604-0-00001-9", "9786040000019"),
    ("6040000015", "9786040000019"),       # ISBN-10 of the same book
    ("604-0-00001-5", "9786040000019"),
    ("0306406152", "9780306406157"),
    ("080442957X", "9780804429573"),        # check digit X
    ("9791234567896", "9791234567896"),     # 979 prefix
])
def test_book_numbers_become_isbn13(scanned, isbn13):
    assert codes.book_number(scanned) == isbn13


@pytest.mark.parametrize("misread", [
    "9786040000018", "978-604-0-00001-8", "6040000014", "0306406153",
    "036000291453",   # UPC-A, wrong check digit
    "4006381333932",  # EAN-13, wrong check digit
    "96385075",       # EAN-8, wrong check digit
])
def test_a_wrong_check_digit_is_a_misread(misread):
    with pytest.raises(codes.BadCheckDigit):
        codes.book_number(misread)


@pytest.mark.parametrize("other", ["036000291452", "4006381333931", "96385074", "TN-0001", "HS001", "12345"])
def test_valid_non_book_barcodes_and_labels_are_not_book_numbers(other):
    assert codes.book_number(other) is None


# ------------------------------------------------------------------ cover ISBN at the kiosk


def test_a_single_copy_title_lends_by_its_cover_isbn(school):
    assert school.checkout("HS001", "978-604-0-00001-9").item == "STK-0001"


def test_an_isbn10_cover_finds_the_same_single_copy(school):
    assert school.checkout("HS001", "6040000015").item == "STK-0001"


def test_a_class_set_isbn_asks_for_the_label_at_checkout(school, client):
    with pytest.raises(rules.AmbiguousIsbn):
        school.checkout("HS001", "9786040000026")
    vi, en = refused_over_http(client, "/api/checkout", {"patron": "HS001", "item": "9786040000026"},
                               "scan_label", 409)
    assert "label" in en


def test_checkin_by_isbn_when_exactly_one_copy_of_the_title_is_on_loan(school):
    school.checkout("HS001", "SGK-0002")
    receipt = school.checkin("9786040000026")
    assert (receipt.outcome, receipt.item) == ("returned", "SGK-0002")


def test_checkin_by_isbn_with_two_copies_on_loan_asks_for_the_label(school, client):
    school.checkout("HS001", "SGK-0001")
    school.checkout("HS002", "SGK-0002")
    refused_over_http(client, "/api/checkin", {"item": "9786040000026"}, "scan_label", 409)


def test_checkin_by_isbn_with_no_copy_on_loan_asks_for_the_label(school):
    with pytest.raises(rules.AmbiguousIsbn):
        school.checkin("9786040000026")


def test_a_misread_isbn_is_refused_without_recording_anything(school, client):
    before = counts()
    refused_over_http(client, "/api/checkout", {"patron": "HS001", "item": "9786040000027"}, "bad_check_digit", 400)
    refused_over_http(client, "/api/checkin", {"item": "9786040000027"}, "bad_check_digit", 400)
    assert counts() == before


def test_scanner_settings_of_the_app_apply_to_every_scan(data_dir, clock):
    from kiosk.app import create_app
    from kiosk.db import db
    from tests.conftest import copy_fact, patron_fact

    app = create_app({"DATA_DIR": str(data_dir), "TESTING": True, "CLOCK": clock,
                      "SCANNER_PREFIXES": ["%"], "SCANNER_SUFFIXES": ["$"]})
    db.connect(reuse_if_open=True)
    app.extensions["circulation"].record_facts([patron_fact("HS001", "Nguyễn Văn An"),
                                                copy_fact("TN-0001", "Dế Mèn phiêu lưu ký")])
    answer = app.test_client().post("/api/checkout", json={"patron": "%HS001$", "item": "]C0%TN-0001$\r"})
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["loan"]["item"] == "TN-0001"
    db.close()


def test_checkin_by_isbn_of_a_big_class_set_is_one_query_for_the_loans(school):
    from tests.conftest import copy_fact
    from tests.kiosk.test_ledger_database import statements_during

    school.record_facts([copy_fact(f"SGK-1{n:03}", "Toán 6 tập một", category="SGK", isbn="9786040000026")
                         for n in range(40)])
    school.checkout("HS001", "SGK-1007")
    receipts = []
    statements = statements_during(lambda: receipts.append(school.checkin("9786040000026")))
    assert (receipts[0].outcome, receipts[0].item) == ("returned", "SGK-1007")
    assert len(statements) < 20  # was one query per copy of the set


def test_an_empty_scan_is_a_polite_400(client, school):
    for raw in ("", "   ", "\r\n", "\x00"):
        vi, en = refused_over_http(client, "/api/checkin", {"item": raw}, "empty_code", 400)
        assert "scan again" in en
