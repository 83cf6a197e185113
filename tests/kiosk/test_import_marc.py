"""Catalogue import from MARC 21, binary and MARCXML, with files made by pymarc as Koha would export them."""

from __future__ import annotations

import sqlite3
from datetime import date

from pymarc import Field, Record, Subfield, record_to_xml
from stdnum import ean

from kiosk.importer import apply_plan, plan_import
from kiosk.models import Copy, Title
from kiosk.store import DB_FILENAME
from tests.conftest import muontra


def isbn13(stem: str) -> str:
    return stem + ean.calc_check_digit(stem)


DE_MEN = isbn13("978604210738")
HOANG_TU_BE_10 = "0306406152"  # an ISBN-10: stored as its ISBN-13


def record(*fields: tuple) -> Record:
    marc = Record(force_utf8=True)
    marc.leader = marc.leader[:9] + "a" + marc.leader[10:]  # UTF-8, as Koha writes it
    for tag, *subfields in fields:
        codes = [Subfield(code, value) for code, value in subfields]
        marc.add_field(Field(tag=tag, indicators=[" ", " "], subfields=codes))
    return marc


def good_records() -> list[Record]:
    return [
        record(("020", ("a", f"{DE_MEN} (bìa mềm)")), ("100", ("a", "Tô Hoài,")),
               ("245", ("a", "Dế Mèn phiêu lưu ký /"), ("c", "Tô Hoài.")),
               ("264", ("a", "Hà Nội :"), ("b", "Kim Đồng,"), ("c", "2019.")), ("082", ("a", "895.9223")),
               ("952", ("a", "THCSND"), ("c", "TN-A"), ("p", "TN-0101"), ("g", "45000.00"),
                       ("d", "2025-09-05")),
               ("952", ("a", "THCSND"), ("p", "tn-0102"), ("v", "52.000"))),
        record(("020", ("a", HOANG_TU_BE_10)), ("245", ("a", "Hoàng tử bé :"), ("b", "tiểu thuyết /")),
               ("700", ("a", "Saint-Exupéry, Antoine de.")), ("260", ("b", "Nhã Nam ;"), ("c", "c2018")),
               ("084", ("a", "8(44)")), ("852", ("b", "7A1"), ("p", "TN-0103"))),
        record(("245", ("a", "Quê nội.")), ("100", ("a", "Võ Quảng")), ("260", ("c", "[2005]"))),
    ]


def binary(records: list[Record]) -> bytes:
    return b"".join(r.as_marc() for r in records)


def marcxml(records: list[Record]) -> bytes:
    body = b"".join(record_to_xml(r, namespace=True) for r in records)
    return (b'<?xml version="1.0" encoding="UTF-8"?>\n'
            b'<collection xmlns="http://www.loc.gov/MARC21/slim">' + body + b"</collection>")


def test_binary_marc_titles_copies_and_numbered_records(school):
    plan = plan_import("catalog", "koha.mrc", binary(good_records()), prefix="tn", category="TN")
    assert plan.ok, [e.describe_in("en") for e in plan.errors]
    assert plan.rows == 3 and plan.unit == "record"
    apply_plan(school, plan)
    de_men = Title.get(Title.isbn == DE_MEN)
    assert (de_men.title, de_men.author, de_men.publisher, de_men.year, de_men.classification, de_men.category) == (
        "Dế Mèn phiêu lưu ký", "Tô Hoài", "Kim Đồng", 2019, "895.9223", "TN")
    copies = {c.code: (c.location, c.shelf, c.price, c.added_on) for c in de_men.copies}
    assert copies == {"TN-0101": ("main", "TN-A", 45000, date(2025, 9, 5)),
                      "TN-0102": ("main", "", 52000, None)}
    prince = Title.get(Title.isbn == "9780306406157")
    assert (prince.title, prince.author, prince.publisher, prince.year, prince.classification) == (
        "Hoàng tử bé : tiểu thuyết", "Saint-Exupéry, Antoine de", "Nhã Nam", 2018, "8(44)")
    assert [(c.code, c.shelf) for c in prince.copies] == [("TN-0103", "7A1")]
    # No holdings: numbered after the highest TN- label of the school (TN-0004) and of the file (TN-0103).
    que_noi = Title.get(Title.title == "Quê nội")
    assert [c.code for c in que_noi.copies] == ["TN-0104"]
    assert (que_noi.year, que_noi.author, que_noi.isbn) == (2005, "Võ Quảng", None)


def test_marcxml_gives_the_same_facts_as_binary(school):
    from_binary = plan_import("catalog", "koha.mrc", binary(good_records()), prefix="TN-")
    from_xml = plan_import("catalog", "koha.xml", marcxml(good_records()), prefix="TN-")
    assert from_xml.ok and from_xml.facts == from_binary.facts and len(from_xml.facts) == 4


def test_reimporting_marc_updates_rather_than_duplicates(school):
    data = binary(good_records()[:2])
    apply_plan(school, plan_import("catalog", "koha.mrc", data))
    apply_plan(school, plan_import("catalog", "koha.mrc", data))
    assert Copy.select().where(Copy.code.startswith("TN-01")).count() == 3
    assert Title.select().where(Title.isbn == DE_MEN).count() == 1


def test_bad_records_are_reported_by_record_number(school):
    records = good_records()[:2] + [
        record(("020", ("a", isbn13("978604210738")[:-1] + "0")), ("245", ("a", "Sai số ISBN")),
               ("952", ("p", "TN-0201"))),
        record(("100", ("a", "Không nhan đề")), ("952", ("p", "TN-0202"))),
        record(("245", ("a", "Trùng mã")), ("952", ("p", "TN-0101"))),
        record(("245", ("a", "Không có bản")),),
    ]
    plan = plan_import("catalog", "koha.mrc", binary(records))
    assert [(e.line, e.code) for e in plan.errors] == [
        (3, "invalid_isbn"), (4, "missing_value"), (5, "duplicate_code"), (6, "no_accession_number")]
    assert plan.errors[0].describe_in("vi").startswith("Bản ghi 3: ")
    assert plan.errors[2].describe_in("en") == (
        "Record 5: The code 'TN-0101' also appears in record 1.")
    assert "245$a" in plan.errors[1].message_in("vi")


def test_a_damaged_record_and_a_file_that_is_not_marc(school):
    good = binary(good_records()[:1])
    damaged = good + b"00099nam a2200000   4500" + b"garbage" * 5 + b"\x1d"
    plan = plan_import("catalog", "koha.mrc", damaged)
    assert [(e.line, e.code) for e in plan.errors] == [(2, "unreadable_record")]
    broken_xml = plan_import("catalog", "koha.xml", b"<collection><record><datafield")
    assert [(e.line, e.code) for e in broken_xml.errors] == [(None, "unreadable_file")]
    assert "MARCXML" in broken_xml.errors[0].message_in("vi")


def test_marc_through_the_cli(data_dir, tmp_path):
    file = tmp_path / "koha.mrc"
    file.write_bytes(binary(good_records()))
    result = muontra("import", "marc", str(file), "--data", str(data_dir), "--prefix", "TN-", "--lang", "en")
    assert result.returncode == 0, result.stderr
    assert "Imported 4 rows." in result.stdout
    with sqlite3.connect(data_dir / DB_FILENAME) as conn:
        codes = sorted(code for (code,) in conn.execute("SELECT code FROM copy"))
    assert codes == ["TN-0101", "TN-0102", "TN-0103", "TN-0104"]

    bad = tmp_path / "bad.xml"
    bad.write_bytes(marcxml([record(("245", ("a", "Không có bản")),)]))
    refused = muontra("import", "marc", str(bad), "--data", str(data_dir))
    assert refused.returncode == 1
    assert "Bản ghi 1: " in refused.stderr and "952$p" in refused.stderr
