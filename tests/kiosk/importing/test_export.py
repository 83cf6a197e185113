"""Data out: exports read back by our importer (losslessly) and by pymarc; formula-looking cells escaped."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook
from pymarc import MARCReader

from kiosk.db import write_transaction
from kiosk.exporter import export_bytes
from kiosk.importer import apply_plan, plan_import
from kiosk.ledger import record_many
from kiosk.models import Copy, Event, Loan, Patron, Title
from tests.conftest import muontra
from tests.kiosk.importing.conftest import isbn13

LETTERS = ("aàáảãạăằắẳẵặâầấẩẫậbcdđeèéẻẽẹêềếểễệghiìíỉĩịklmnoòóỏõọôồốổỗộơờớởỡợpqrstuùúủũụưừứửữự"
           "vxyỳýỷỹỵ")
ALPHABET = LETTERS + LETTERS.upper() + "0123456789 .,:;-/()'&!?=+@"


def text(min_size: int = 1) -> st.SearchStrategy[str]:
    return st.text(ALPHABET, min_size=min_size, max_size=30).map(lambda t: " ".join(t.split())).filter(
        lambda t: len(t) >= min_size)


patron = st.fixed_dictionaries({
    "name": text(), "kind": st.sampled_from(["student", "teacher", "helper"]),
    "class_name": st.from_regex(r"(6|7|8|9|10)A[1-9]", fullmatch=True), "school_year": st.sampled_from(["", "2025-2026"]),
    "active": st.booleans(),
})
title = st.fixed_dictionaries({
    "title": text(), "author": text(0), "publisher": text(0), "year": st.none() | st.integers(1900, 2030),
    "category": st.sampled_from(["SGK", "STK", "SNV", "TN", "periodical", "other"]),
    "classification": st.sampled_from(["", "895.9223", "8(V)", "51"]),
    "isbn": st.none() | st.integers(0, 999_999).map(lambda n: isbn13(f"978604{n:06d}")),
})
copy = st.fixed_dictionaries({
    "location": st.sampled_from(["main", "6A1", "7A2"]), "shelf": text(0), "price": st.none() | st.integers(0, 500_000),
    "added_on": st.none() | st.dates(date(2000, 1, 1), date(2030, 12, 31)).map(date.isoformat),
    "status": st.sampled_from(["available", "available", "lost", "damaged", "withdrawn", "not_for_loan"]),
})


def clear() -> None:
    for model in (Loan, Copy, Title, Patron, Event):
        model.delete().execute()


def snapshot() -> dict:
    return {
        "patrons": {(p.code, p.name, p.class_name, p.kind, p.school_year, p.active) for p in Patron.select()},
        "copies": {(c.code, c.title.isbn, c.title.title, c.title.author, c.title.publisher, c.title.year,
                    c.title.category, c.title.classification, c.location, c.shelf, c.price, c.added_on, c.status)
                   for c in Copy.select()},
        "loans": {(loan.patron.code, loan.copy.code, loan.checked_out_at.date(), loan.due) for loan in Loan.select()},
    }


def fill(circ, patrons: list[dict], titles: list[tuple[dict, list[dict]]], lent: int) -> None:
    facts = [("patron.upsert", {**p, "code": f"HS{n:04d}"}) for n, p in enumerate(patrons)]
    isbns = set()
    number = 0
    for t, copies in titles:
        if t["isbn"] in isbns:
            t = {**t, "isbn": None}
        isbns.add(t["isbn"])
        for c in copies:
            number += 1
            facts.append(("catalog.upsert", {**t, **c, "item": f"TN-{number:04d}"}))
    available = [payload["item"] for kind, payload in facts if kind == "catalog.upsert"
                 and payload["status"] == "available"]
    for n, item in enumerate(available[:min(lent, len(patrons))]):
        facts.append(("loan.checkout", {"loan": f"L{n}", "item": item, "patron": f"HS{n:04d}",
                                        "at": datetime(2026, 2, 1 + n).isoformat(), "due": "2026-03-01",
                                        "location": "main", "device": "kiosk"}))
    with write_transaction():
        record_many(facts, device=circ.device, device_time=circ.now())


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(patrons=st.lists(patron, min_size=1, max_size=6),
       titles=st.lists(st.tuples(title, st.lists(copy, min_size=1, max_size=3)), min_size=1, max_size=5),
       lent=st.integers(0, 3), sheet=st.sampled_from(["xlsx", "csv"]))
def test_export_then_import_gives_back_the_same_library(circ, patrons, titles, lent, sheet):
    clear()
    fill(circ, patrons, titles, lent)
    before = snapshot()
    files = {"patrons": export_bytes("patrons", sheet), "catalog": export_bytes("catalog", "marc"),
             "loans": export_bytes("loans", sheet)}
    clear()
    for kind, name in (("patrons", f"p.{sheet}"), ("catalog", "c.mrc"), ("loans", f"l.{sheet}")):
        plan = plan_import(kind, name, files[kind])
        assert plan.ok, [e.describe_in("en") for e in plan.errors]
        apply_plan(circ, plan)
    assert snapshot() == before


def test_catalogue_spreadsheets_round_trip_and_pymarc_reads_our_marc(school):
    before = snapshot()
    marc = export_bytes("catalog", "marc")
    records = list(MARCReader(io.BytesIO(marc), to_unicode=True, force_utf8=True))
    assert len(records) == 7 and all(r is not None for r in records)  # 8 copies, 7 titles
    toan = next(r for r in records if r.get("020") and r["020"]["a"] == "9786040000026")
    assert [f["p"] for f in toan.get_fields("952")] == ["SGK-0001", "SGK-0002"] and toan["942"]["c"] == "SGK"
    for fmt in ("xlsx", "csv"):
        plan = plan_import("catalog", f"c.{fmt}", export_bytes("catalog", fmt))
        assert plan.ok and (plan.new, plan.changes, plan.unchanged) == (0, [], 8)
    assert snapshot() == before


def test_formula_looking_names_are_escaped_in_spreadsheets(circ):
    clear()
    fill(circ, [{"name": "=HYPERLINK(\"http://x\",\"An\")", "kind": "student", "class_name": "6A1",
                 "school_year": "", "active": True},
                {"name": "@SUM(1+1)", "kind": "student", "class_name": "6A1", "school_year": "", "active": True}],
         [], 0)
    names = sorted(["=HYPERLINK(\"http://x\",\"An\")", "@SUM(1+1)"])
    book = load_workbook(io.BytesIO(export_bytes("patrons", "xlsx")))
    # xlsx: the names are text cells (never formulas), exactly as stored.
    assert sorted(row[1] for row in book.active.iter_rows(min_row=3, values_only=True)) == names
    assert all(cell.data_type == "s" for row in book.active.iter_rows(min_row=3) for cell in row[1:2])
    # csv: one leading apostrophe, so Excel shows the text; the importer takes it off again.
    rows = list(csv.reader(io.StringIO(export_bytes("patrons", "csv").decode("utf-8-sig"))))
    assert sorted(row[1] for row in rows[1:]) == ["'" + name for name in names]
    for fmt in ("xlsx", "csv"):
        plan = plan_import("patrons", f"p.{fmt}", export_bytes("patrons", fmt))
        assert plan.ok and plan.changes == [] and plan.unchanged == 2, fmt


def test_export_command_writes_files_the_import_command_reads(tmp_path):
    school, copy_to = tmp_path / "a", tmp_path / "b"
    source = tmp_path / "p.csv"
    source.write_text("Mã HS,Họ và tên,Lớp\nHS1,Nguyễn An,6A1\n", encoding="utf-8")
    assert muontra("import", "patrons", str(source), "--data", str(school)).returncode == 0
    out = tmp_path / "ban-doc.xlsx"
    result = muontra("export", "patrons", "--out", str(out), "--data", str(school))
    assert result.returncode == 0, result.stderr
    again = muontra("import", "patrons", str(out), "--data", str(copy_to), "--lang", "en")
    assert again.returncode == 0 and "1 new, 0 changed, 0 unchanged." in again.stdout
    marc = muontra("export", "patrons", "--format", "marc", "--out", str(tmp_path / "x.mrc"), "--data", str(school))
    assert marc.returncode != 0 and "Traceback" not in marc.stderr


def test_the_librarians_export_links_hand_out_the_same_files(client, school):
    from tests.kiosk.test_pages_admin import login

    login(client)
    marc = client.get("/admin/export/catalog.marc")
    assert marc.status_code == 200 and marc.mimetype == "application/marc"
    assert "muontra-catalog.mrc" in marc.headers["Content-Disposition"]
    assert len(list(MARCReader(io.BytesIO(marc.data), to_unicode=True, force_utf8=True))) == 7
    patrons = client.get("/admin/export/patrons.csv")
    assert patrons.status_code == 200
    plan = plan_import("patrons", "p.csv", patrons.data)
    assert plan.ok and (plan.new, plan.changes, plan.unchanged) == (0, [], 5)
    assert client.get("/admin/export/patrons.marc").status_code == 404
    assert client.get("/admin/export/secrets.csv").status_code == 404
    stranger = client.application.test_client()
    assert stranger.get("/admin/export/patrons.csv").status_code == 302  # the PIN first
