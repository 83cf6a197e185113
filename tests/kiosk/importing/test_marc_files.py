"""MARC as libraries have it: real pymarc test files (tests/data/marc) and Koha-like records built with pymarc."""

from __future__ import annotations

import re
import unicodedata

import pytest

from kiosk.importer import PlanHasErrors, apply_plan, plan_import
from kiosk.marc import is_marc
from kiosk.models import Copy, Event, Title
from tests.conftest import muontra
from tests.kiosk.importing.conftest import (
    MARC_FILES,
    cp1258,
    isbn13,
    marc_binary,
    marc_record,
    problems,
    raw_marc,
    subfields,
)


def marc_file(name: str) -> bytes:
    return (MARC_FILES / name).read_bytes()


def stored_titles() -> list[str]:
    return [title.title for title in Title.select().order_by(Title.id)]


def written(circ, data: bytes, name: str = "koha.mrc", **options):
    plan = plan_import("catalog", name, data, **options)
    assert plan.ok, [e.describe_in("en") for e in plan.errors]
    apply_plan(circ, plan)
    return plan


def test_library_of_congress_marc8_is_decoded(circ):
    written(circ, marc_file("marc8.dat"), prefix="STK-")
    assert stored_titles() == ["Escape from loneliness"]


def test_decomposed_utf8_from_a_catalogue_is_stored_composed(circ):
    data = marc_file("regression45.dat")
    assert unicodedata.normalize("NFC", data.decode("utf-8", "replace")) != data.decode("utf-8", "replace")
    written(circ, data, prefix="STK-")
    titles = stored_titles()
    assert len(titles) == 12 and all(unicodedata.is_normalized("NFC", title) for title in titles)
    assert any("\u012d" in title for title in titles)  # ĭ composed, not i + combining breve


def test_windows_1251_file_is_refused_per_record_then_read_with_its_encoding(circ):
    refused = plan_import("catalog", "1251.dat", marc_file("1251.dat"), prefix="STK-")
    assert {code for _line, code in problems(refused)} == {"undecodable_record"}
    assert [e.line for e in refused.errors] == [1, 2, 3, 4, 5, 6]
    assert "--encoding" in refused.errors[0].message_in("en")
    with pytest.raises(PlanHasErrors):
        apply_plan(circ, refused)
    assert Title.select().count() == 0
    written(circ, marc_file("1251.dat"), name="1251.dat", prefix="STK-", encoding="cp1251")
    assert stored_titles()[0].startswith("Основы гидравлического расчета инженерных сетей : [учеб. пособие для вузов")


def test_vietnamese_legacy_record_is_never_stored_as_garbage(circ):
    # "Toán 6. Tập một" alone is valid MARC-8 by chance; the publisher's "Hà Nội" is not.
    title = "Toán 6. Tập một"
    record = raw_marc([("245", subfields(("a", cp1258("Toán 6.")), ("n", cp1258("Tập một")))),
                       ("264", subfields(("a", cp1258("Hà Nội :")), ("b", cp1258("Giáo dục Việt Nam")))),
                       ("952", subfields(("p", b"SGK-0001")))])
    plan = plan_import("catalog", "cu.dat", record)
    assert problems(plan) == [(1, "undecodable_record")]
    written(circ, record, name="cu.dat", encoding="cp1258")
    assert stored_titles() == [title]


def test_one_stray_byte_is_replaced_with_a_warning_naming_the_field(circ):
    good = marc_binary([marc_record(("245", ("a", "Toán 6")), ("952", ("p", "SGK-0001")))])
    damaged = good.replace("á".encode(), b"\xe1 ")
    plan = written(circ, damaged, name="exported_records")
    assert stored_titles() == ["To\ufffd n 6"]
    warning = next(w for w in plan.warnings if w.code == "replaced_characters")
    assert (warning.line, warning.params["count"], warning.params["fields"]) == (1, 1, "245$a")


def test_utf8_leader_flag_missing_and_damaged_subfield_codes_are_read_and_reported(circ, capfd):
    plan = written(circ, marc_file("utf8_without_leader_flag.dat") + marc_file("utf8_invalid.mrc"), prefix="STK-")
    assert [(w.line, w.code) for w in plan.warnings] == [(1, "read_as_utf8"), (2, "repaired_record")]
    assert len(stored_titles()) == 2
    out, err = capfd.readouterr()
    assert "site-packages" not in out + err and "Warning" not in out + err


def test_damaged_records_are_listed_by_number_and_nothing_is_written(circ):
    plan = plan_import("catalog", "bad_records.mrc", marc_file("bad_records.mrc"), prefix="STK-")
    assert plan.rows == 8
    assert {line for line, code in problems(plan) if code == "unreadable_record"} == {2, 3, 4, 5, 6, 7}
    assert Event.select().count() == 0


def test_unimarc_and_holdings_records_are_refused_saying_what_they_are(circ):
    unimarc = plan_import("catalog", "testunimarc.dat", marc_file("testunimarc.dat"), prefix="STK-")
    assert problems(unimarc) == [(1, "unimarc")] and "UNIMARC" in unimarc.errors[0].message_in("vi")
    holdings = raw_marc([("852", subfields(("p", b"TN-0001")))], kind=b"x")
    plan = plan_import("catalog", "holdings.mrc", holdings)
    assert problems(plan) == [(1, "not_bibliographic")] and "holdings" in plan.errors[0].message_in("en")


@pytest.mark.parametrize("name", ["exported_records", "koha.dat", "koha.bin", "catalog.txt"])
def test_binary_marc_is_recognised_by_content_whatever_the_name(circ, name):
    data = marc_binary([marc_record(("245", ("a", "Quê nội.")), ("952", ("p", "TN-0001")))])
    assert is_marc(name, data)
    written(circ, data, name=name)
    assert stored_titles() == ["Quê nội"]


@pytest.mark.parametrize("prefix", ["marc", "mx", "slim"])
def test_marcxml_with_any_namespace_prefix(circ, prefix):
    xml = marc_file("batch.xml").decode()
    xml = re.sub(r"<(/?)marc:", rf"<\1{prefix}:", xml).replace("xmlns:marc=", f"xmlns:{prefix}=")
    assert f"<{prefix}:record" in xml or prefix == "marc"
    written(circ, xml.encode(), name="records.dat", prefix="STK-")
    assert stored_titles() == ["The Great Ray Charles", "The White House"]


def test_malformed_marcxml_is_a_clear_message_and_no_traceback(tmp_path):
    file = tmp_path / "bad_tag.xml"
    file.write_bytes(marc_file("bad_tag.xml") + b"<unclosed")
    result = muontra("import", "marc", str(file), "--data", str(tmp_path / "school"), "--lang", "en")
    assert result.returncode == 1
    assert "could not be read as MARCXML" in result.stderr and "Traceback" not in result.stderr


def test_volumes_of_a_series_stay_two_titles():
    records = [marc_record(("245", ("a", "Toán 6."), ("n", "Tập một /"), ("c", "Hà Huy Khoái")),
                           ("952", ("p", "SGK-0001"))),
               marc_record(("245", ("a", "Toán 6."), ("n", "Tập hai /")), ("952", ("p", "SGK-0002"))),
               marc_record(("245", ("a", "Lịch sử Việt Nam."), ("n", "Tập 2,"), ("p", "Thời Lý - Trần.")),
                           ("952", ("p", "STK-0001")))]
    plan = plan_import("catalog", "sgk.mrc", marc_binary(records))
    assert [payload["title"] for _type, payload in plan.facts] == [
        "Toán 6. Tập một", "Toán 6. Tập hai", "Lịch sử Việt Nam. Tập 2, Thời Lý - Trần"]


def test_isbns_with_isbd_punctuation_and_qualifiers_are_read(circ):
    records = [marc_record(("020", ("a", "0330029495:")), ("245", ("a", "A")), ("952", ("p", "STK-0001"))),
               marc_record(("020", ("a", "0192547011(v1)")), ("245", ("a", "B")), ("952", ("p", "STK-0002"))),
               marc_record(("020", ("a", "9786042107389 (bìa mềm) :")), ("245", ("a", "C")),
                           ("952", ("p", "STK-0003")))]
    written(circ, marc_binary(records))
    assert sorted(t.isbn for t in Title.select()) == ["9780192547019", "9780330029490", "9786042107389"]


def test_every_koha_item_is_a_copy_numbered_from_the_prefix_without_barcode(circ):
    record = marc_record(("245", ("a", "Dế Mèn phiêu lưu ký")),
                         ("952", ("a", "THCS"), ("p", "TN-0100")), ("952", ("a", "THCS"), ("c", "Kệ 2")),
                         ("952", ("a", "THCS"), ("y", "TN")))
    written(circ, marc_binary([record]), prefix="TN-")
    assert sorted((c.code, c.shelf) for c in Copy.select()) == [("TN-0100", ""), ("TN-0101", "Kệ 2"),
                                                                 ("TN-0102", "")]
    without_prefix = plan_import("catalog", "k.mrc", marc_binary([marc_record(("245", ("a", "X")),
                                                                              ("952", ("c", "Kệ 2")))]))
    assert problems(without_prefix) == [(1, "no_accession_number")]


def test_prefix_numbers_copies_but_never_recategorises(circ):
    isbn = isbn13("978604000003")
    written(circ, marc_binary([marc_record(("020", ("a", isbn)), ("245", ("a", "Toán 6")), ("942", ("c", "SGK")),
                                           ("952", ("p", "SGK-0001")))]))
    again = marc_binary([marc_record(("020", ("a", isbn)), ("245", ("a", "Toán 6")))])
    plan = plan_import("catalog", "again.mrc", again, prefix="TN-")
    assert (plan.new, plan.changes) == (1, [])
    apply_plan(circ, plan)
    assert [(c.code, c.title.category) for c in Copy.select().order_by(Copy.code)] == [
        ("SGK-0001", "SGK"), ("TN-0001", "SGK")]


def test_item_types_come_from_942_or_952_through_the_librarians_map(circ):
    record = marc_record(("245", ("a", "Từ điển")), ("942", ("c", "BK")), ("952", ("p", "STK-0001")))
    unknown = plan_import("catalog", "k.mrc", marc_binary([record]))
    assert problems(unknown) == [(1, "unknown_item_type")] and "--map-type BK=STK" in unknown.errors[0].message_in("en")
    written(circ, marc_binary([record]), type_map={"BK": "STK"})
    assert Title.get().category == "STK"


def test_records_sharing_an_isbn_with_different_titles_are_listed_not_merged(circ):
    isbn = isbn13("978604000004")
    records = [marc_record(("020", ("a", isbn)), ("245", ("a", "Toán 6."), ("n", "Tập một")), ("952", ("p", "S-1"))),
               marc_record(("020", ("a", isbn)), ("245", ("a", "Ngữ văn 6")), ("952", ("p", "S-2")))]
    plan = plan_import("catalog", "k.mrc", marc_binary(records))
    assert problems(plan) == [(2, "isbn_title_clash")]
    assert "Toán 6. Tập một" in plan.errors[0].message_in("en") and "#1" in plan.errors[0].message_in("en")


def test_a_marc_title_never_silently_replaces_a_spreadsheets_title(circ):
    isbn = isbn13("978604000005")
    written(circ, marc_binary([marc_record(("020", ("a", isbn)), ("245", ("a", "Toán 6 - Tập một (bản 2025)")),
                                           ("952", ("p", "SGK-0001")))]))
    plan = plan_import("catalog", "k.mrc", marc_binary([marc_record(("020", ("a", isbn)), ("245", ("a", "Toan 6")),
                                                                    ("952", ("p", "SGK-0002")))]))
    assert [(c.what, c.fields[0]) for c in plan.changes] == [("title", ("title", "Toán 6 - Tập một (bản 2025)",
                                                                         "Toan 6"))]
