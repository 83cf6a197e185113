"""The library's data out again: the catalogue as MARC 21 (Koha's 952 holdings), patrons and loans as xlsx/csv.

A school is never locked in: every file written here is read back by :mod:`kiosk.importer`
and :mod:`kiosk.marc` into the same rows (tests/kiosk/importing/test_export.py round-trips
them), and the MARC file is plain MARC 21 any library system or pymarc reads. Spreadsheets
carry the importer's own headers, under a title row, as the reports do.

MARC layout, one record per title (titles without copies are not written: they hold no book):
020$a ISBN · 100$a author · 245$a title · 264$b publisher, $c year · 082$a classification ·
942$c category · one 952 per copy: $p label, $y category, $c shelf, $k location (Mượn Trả's own
use; Koha leaves $k empty), $g price, $d date added, $1 lost, $4 damaged, $0 withdrawn,
$7 not for loan.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import IO, Any

from pymarc import Field, Indicators, Record, Subfield

from .errors import N_, MuontraError
from .models import Copy, Loan, Patron, Title
from .reports.common import Cell, Table, check_format, csv_bytes, write_xlsx

KINDS = ("catalog", "patrons", "loans")
FORMATS = {"catalog": ("marc", "xlsx", "csv"), "patrons": ("xlsx", "csv"), "loans": ("xlsx", "csv")}
KIND_WORDS = {"student": "học sinh", "teacher": "giáo viên", "helper": "cộng tác viên"}
STATUS_SUBFIELDS = {"lost": "1", "damaged": "4", "withdrawn": "0", "not_for_loan": "7"}


class UnknownExport(MuontraError):
    code = "unknown_export"
    message = N_("Unknown export '%(kind)s' as %(format)s: use catalog (marc, xlsx, csv), patrons or loans "
                 "(xlsx, csv).")


# ---------------------------------------------------------------- tables


def _rows(rows: Iterable[list[Cell]]) -> list[list[Cell]]:
    # The one report writer (reports/common.py) keeps formula-like texts as text (xlsx) or quoted (csv).
    return [list(row) for row in rows]


def patrons_table() -> Table:
    query = Patron.select().order_by(Patron.class_name, Patron.code)
    return Table("patrons", "Bạn đọc / Readers",
                 ["Mã thẻ", "Họ và tên", "Lớp", "Đối tượng", "Năm học", "Hoạt động"],
                 _rows([p.code, p.name, p.class_name, KIND_WORDS[p.kind], p.school_year,
                        "có" if p.active else "không"] for p in query))


def loans_table() -> Table:
    query = (Loan.select(Loan, Patron, Copy, Title).join(Patron).switch(Loan).join(Copy).join(Title)
             .where(Loan.is_open()).order_by(Loan.checked_out_at))
    return Table("loans", "Sách đang mượn / Open loans",
                 ["Mã thẻ", "Số ĐKCB", "Ngày mượn", "Hạn trả", "Họ và tên", "Nhan đề"],
                 _rows([loan.patron.code, loan.copy.code, loan.checked_out_at.date(), loan.due,
                        loan.patron.name, loan.copy.title.title] for loan in query))


def catalog_table() -> Table:
    query = Copy.select(Copy, Title).join(Title).order_by(Copy.code)
    return Table("catalog", "Sổ đăng ký cá biệt / Catalogue",
                 ["Số ĐKCB", "ISBN", "Nhan đề", "Tác giả", "Loại sách", "Nhà xuất bản", "Năm XB", "Kho",
                  "Ký hiệu phân loại", "Kệ", "Giá tiền", "Ngày nhập"],
                 _rows([c.code, c.title.isbn or "", c.title.title, c.title.author, c.title.category,
                        c.title.publisher, c.title.year, c.location, c.title.classification, c.shelf, c.price,
                        c.added_on] for c in query))


# ---------------------------------------------------------------- MARC


def _datafield(tag: str, *subfields: tuple[str, Any], indicators: tuple[str, str] = (" ", " ")) -> Field | None:
    values = [Subfield(code, str(value)) for code, value in subfields if value not in (None, "")]
    return Field(tag=tag, indicators=Indicators(*indicators), subfields=values) if values else None


def _item(copy: Copy, category: str) -> Field:
    status = STATUS_SUBFIELDS.get(copy.status)
    return _datafield("952", ("p", copy.code), ("y", category), ("c", copy.shelf), ("k", copy.location),
                      ("g", copy.price), ("d", copy.added_on.isoformat() if copy.added_on else None),
                      *([(status, "1")] if status else []))


def title_record(title: Title, copies: list[Copy]) -> Record:
    """One MARC 21 record, UTF-8; each subfield ends with the ISBD mark the importer takes off again."""
    record = Record(force_utf8=True)
    record.leader = record.leader[:5] + "nam a22" + record.leader[12:]
    record.leader = record.leader[:9] + "a" + record.leader[10:]
    fields = [
        _datafield("020", ("a", title.isbn)),
        _datafield("082", ("a", title.classification)),
        _datafield("100", ("a", f"{title.author}." if title.author else "")),
        _datafield("245", ("a", f"{title.title}."), indicators=("1" if title.author else "0", "0")),
        _datafield("264", ("b", f"{title.publisher}," if title.publisher else ""), ("c", title.year),
                   indicators=(" ", "1")),
        _datafield("942", ("c", title.category)),
        *(_item(copy, title.category) for copy in copies),
    ]
    for field in fields:
        if field is not None:
            record.add_field(field)
    return record


def write_marc(out: IO[bytes]) -> int:
    """Every title with copies as binary MARC 21; returns how many records were written."""
    copies: dict[int, list[Copy]] = {}
    for copy in Copy.select().order_by(Copy.code):
        copies.setdefault(copy.title_id, []).append(copy)
    count = 0
    for title in Title.select().where(Title.id.in_(list(copies))).order_by(Title.id) if copies else []:
        out.write(title_record(title, copies[title.id]).as_marc())
        count += 1
    return count


# ---------------------------------------------------------------- one entry point

TABLES = {"catalog": catalog_table, "patrons": patrons_table, "loans": loans_table}


def export(kind: str, fmt: str, out: IO[bytes]) -> None:
    """Write ``kind`` (catalog, patrons, loans) as ``fmt`` (marc, xlsx, csv) into ``out``."""
    if kind not in KINDS or fmt not in FORMATS[kind]:
        raise UnknownExport(kind=kind, format=fmt)
    if fmt == "marc":
        write_marc(out)
        return
    table = TABLES[kind]()
    if fmt == "csv":
        out.write(csv_bytes(table))
    else:
        write_xlsx([table], out)


def export_bytes(kind: str, fmt: str) -> bytes:
    buffer = io.BytesIO()
    export(kind, check_format(fmt, FORMATS.get(kind, ())), buffer)
    return buffer.getvalue()
