"""Helpers for the import tests: Vietnamese school workbooks built with openpyxl, MARC records with pymarc."""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from pymarc import Field, Indicators, Record, Subfield
from stdnum import ean

MARC_FILES = Path(__file__).resolve().parents[2] / "data" / "marc"


def workbook(*sheets: tuple[str, Iterable[list[Any]]], hidden: Iterable[str] = (),
             formats: dict[str, str] | None = None, merges: Iterable[str] = ()) -> bytes:
    """An .xlsx with the sheets given in order; ``formats`` maps a cell (on every sheet) to a number format."""
    book = Workbook()
    book.remove(book.active)
    for name, rows in sheets:
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
        for cell, number_format in (formats or {}).items():
            sheet[cell].number_format = number_format
        for merged in merges:
            sheet.merge_cells(merged)
        if name in hidden:
            sheet.sheet_state = "hidden"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def column_format(rows: int, column: str, number_format: str, start: int = 1) -> dict[str, str]:
    return {f"{column}{row}": number_format for row in range(start, start + rows)}


def isbn13(stem: str) -> str:
    return stem + ean.calc_check_digit(stem)


def marc_record(*fields: tuple, leader: str | None = None, utf8: bool = True) -> Record:
    record = Record(force_utf8=utf8)
    if leader:
        record.leader = leader
    elif utf8:
        record.leader = record.leader[:5] + "nam a22" + record.leader[12:]
    for tag, *subfields in fields:
        record.add_field(Field(tag=tag, indicators=Indicators(" ", " "),
                               subfields=[Subfield(code, value) for code, value in subfields]))
    return record


def marc_binary(records: Iterable[Record]) -> bytes:
    return b"".join(record.as_marc() for record in records)


def problems(plan) -> list[tuple[int | None, str]]:
    return [(error.line, error.code) for error in plan.errors]


TONES = "\u0300\u0301\u0303\u0309\u0323"


def cp1258(text: str) -> bytes:
    """Vietnamese as Windows-1258 writes it: letters with ^ ˘ ư ơ whole, tone marks as separate characters."""
    out = b""
    for char in unicodedata.normalize("NFC", text):
        try:
            out += char.encode("cp1258")
        except UnicodeEncodeError:
            parts = unicodedata.normalize("NFD", char)
            base = unicodedata.normalize("NFC", "".join(c for c in parts if c not in TONES))
            out += base.encode("cp1258") + "".join(c for c in parts if c in TONES).encode("cp1258")
    return out


def raw_marc(fields: list[tuple[str, bytes]], leader9: bytes = b" ", kind: bytes = b"a") -> bytes:
    """One ISO 2709 record from already-encoded field bodies (indicators, subfields): any bytes, any encoding."""
    directory, body = b"", b""
    for tag, data in fields:
        data += b"\x1e"
        directory += tag.encode() + b"%04d%05d" % (len(data), len(body))
        body += data
    base = 24 + len(directory) + 1
    length = base + len(body) + 1
    leader = b"%05dn%sm %s22%05d   4500" % (length, kind, leader9, base)
    return leader + directory + b"\x1e" + body + b"\x1d"


def subfields(*pairs: tuple[str, bytes], indicators: bytes = b"  ") -> bytes:
    return indicators + b"".join(b"\x1f" + code.encode() + value for code, value in pairs)


def workbook_with_huge_cell(megabytes: int) -> bytes:
    """A valid .xlsx whose cell B2 holds ``megabytes`` MB of text: a few hundred KB zipped (a "zip bomb" sheet)."""
    import zipfile

    source = zipfile.ZipFile(io.BytesIO(workbook(("DS", [["Mã HS", "Họ và tên", "Lớp"], ["HS1", "x", "6A1"]]))))
    before, after = source.read("xl/worksheets/sheet1.xml").split(b"<t>x</t>")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for member in source.infolist():
            if member.filename != "xl/worksheets/sheet1.xml":
                archive.writestr(member, source.read(member))
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            sheet.write(before + b"<t>")
            chunk = b"A" * (1024 * 1024)
            for _ in range(megabytes):
                sheet.write(chunk)
            sheet.write(b"</t>" + after)
    return out.getvalue()
