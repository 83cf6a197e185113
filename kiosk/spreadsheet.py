"""Reading a CSV or .xlsx file into sheets of cells, as Excel shows them, within the import limits.

Files: ``.xlsx`` (every sheet, hidden ones named and skipped) or CSV in any of Excel's
flavours (UTF-8 with or without BOM, UTF-16 "Unicode text", comma/semicolon/tab, CRLF,
quoted fields). A CSV that is not UTF-8 is read as Windows-1258 (what Vietnamese Windows
Excel writes for "CSV") with a warning asking the librarian to check the names.

An xlsx is a zip: its unpacked sizes are checked before openpyxl opens it, and sheets are
streamed (read-only mode), so a small file holding a huge cell or a million rows is refused
quickly and cheaply. A numeric cell keeps the digits Excel *shows*: a student code stored as
the number 112345678 with the format ``0000000000`` is read as "0112345678".
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from .import_plan import (
    MAX_CELL_CHARS,
    MAX_CELLS,
    MAX_COLUMNS,
    MAX_MEMBER_BYTES,
    MAX_ROWS,
    MAX_UNCOMPRESSED_BYTES,
    CellTooLong,
    EmptyFile,
    ImportProblem,
    NotUtf8,
    SkippedSheet,
    TooManyCells,
    TooManyRows,
    UnreadableFile,
    UnsupportedFile,
    WorkbookTooLarge,
)


@dataclass
class Sheet:
    name: str  # "" for a CSV
    rows: list[tuple[int, list[Any]]]  # (line as the librarian sees it, cells)


@dataclass
class Workbook:
    sheets: list[Sheet]
    warnings: list[ImportProblem] = field(default_factory=list)


def megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.0f} MB" if size >= 1024 * 1024 else f"{size / 1024:.0f} KB"


class Budget:
    """Rows and cells read so far, across every sheet of one file."""

    def __init__(self) -> None:
        self.rows = self.cells = 0

    def take(self, cells: list[Any]) -> None:
        if any(value not in (None, "") for value in cells):
            self.rows += 1
            self.cells += len(cells)
        if self.rows > MAX_ROWS:
            raise TooManyRows(limit=f"{MAX_ROWS:,}".replace(",", "."))
        if self.cells > MAX_CELLS:
            raise TooManyCells(limit=f"{MAX_CELLS:,}".replace(",", "."))


def text_of(value: Any) -> str:
    """A cell as text; a code Excel stored as a number stays "1001", not "1001.0"."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat(sep=" ")
    return unicodedata.normalize("NFC", str(value)).strip()


# ---------------------------------------------------------------- CSV


def _decode(data: bytes) -> tuple[str, list[ImportProblem]]:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):  # Excel's "Unicode text": UTF-16 with a BOM
        return data.decode("utf-16", errors="replace"), []
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError:
        # Windows-1258 writes many Vietnamese letters as base letter + combining mark: NFC joins them.
        text = data.decode("cp1258", errors="replace")
        return unicodedata.normalize("NFC", text), [NotUtf8()]


def _delimiter(text: str) -> str:
    sample = "\n".join(text[:65536].splitlines()[:20])
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t").delimiter
    except csv.Error:
        first = text.splitlines()[0] if text else ""
        return max(",;\t", key=first.count)


def read_csv(data: bytes) -> Workbook:
    text, warnings = _decode(data)
    # Excel honours (and hides) a first line "sep=;" naming the delimiter: the header is then row 1.
    hint = re.match(r"sep=(.)\r?\n", text)
    if hint:
        delimiter, text = hint.group(1), text[hint.end():]
    else:
        delimiter = _delimiter(text)
    csv.field_size_limit(MAX_CELL_CHARS + 1)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    budget, rows = Budget(), []
    try:
        for line, row in enumerate(reader, start=1):
            row = row[:MAX_COLUMNS]
            budget.take(row)
            rows.append((line, row))
    except csv.Error as exc:
        if "field larger" in str(exc):
            raise CellTooLong(len(rows) + 1, column="?", size=f"> {MAX_CELL_CHARS}", limit=MAX_CELL_CHARS) from exc
        raise
    return Workbook([Sheet("", rows)], warnings)


# ---------------------------------------------------------------- xlsx

# A number format that pads with zeros, maybe with literal text around: 0000000000, "HS"00000, 000\-000.
_LITERAL = r'(?:"[^"]*"|\\.|[^0#?"\\;@.,%EeHhMmSsDdYy\[\]]+?)*'
_PADDED = re.compile(rf"({_LITERAL})([0#?]+)({_LITERAL})")


def _unquote(literal: str) -> str:
    return re.sub(r'"([^"]*)"|\\(.)', lambda m: m.group(1) if m.group(1) is not None else m.group(2), literal)


def as_shown(value: Any, number_format: str | None) -> Any:
    """A whole number as Excel displays it with its format (leading zeros, literal prefix); else the value."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not number_format:
        return value
    if number_format == "@":  # "Text" format on a number typed before the format was set
        return text_of(value)
    section = number_format.split(";")[0]
    match = _PADDED.fullmatch(section)
    if match is None or "0" not in match.group(2) or not float(value).is_integer() or value < 0:
        return value
    digits = str(int(value)).zfill(match.group(2).count("0"))
    return _unquote(match.group(1)) + digits + _unquote(match.group(3))


def check_zip(data: bytes) -> None:
    """Refuse an xlsx whose members unpack to more than the limits, before anything is parsed.

    zipfile never reads past a member's declared size (and checks its CRC), so declared
    sizes are a real bound on what openpyxl can unpack.
    """
    try:
        members = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise UnreadableFile(format="Excel (.xlsx)") from exc
    total = 0
    for member in members:
        if member.file_size > MAX_MEMBER_BYTES:
            raise WorkbookTooLarge(what=member.filename, size=megabytes(member.file_size),
                                   limit=megabytes(MAX_MEMBER_BYTES))
        total += member.file_size
    if total > MAX_UNCOMPRESSED_BYTES:
        raise WorkbookTooLarge(what="*", size=megabytes(total), limit=megabytes(MAX_UNCOMPRESSED_BYTES))


def _sheet_rows(sheet: Any, budget: Budget) -> list[tuple[int, list[Any]]]:
    rows = []
    for line, cells in enumerate(sheet.iter_rows(max_col=MAX_COLUMNS), start=1):
        values = []
        for cell in cells:
            value = getattr(cell, "value", None)
            if isinstance(value, str):
                if len(value) > MAX_CELL_CHARS:
                    raise CellTooLong(line, sheet=sheet.title, column=getattr(cell, "coordinate", "?"),
                                      size=len(value), limit=MAX_CELL_CHARS)
            elif isinstance(value, int | float) and not isinstance(value, bool):
                value = as_shown(value, getattr(cell, "number_format", None))  # only numbers need their format
            values.append(value)
        budget.take(values)
        rows.append((line, values))
    while rows and all(value in (None, "") for value in rows[-1][1]):
        rows.pop()
    return rows


def read_xlsx(data: bytes) -> Workbook:
    from openpyxl import load_workbook

    check_zip(data)
    book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        budget, sheets, warnings = Budget(), [], []
        for sheet in book.worksheets:
            if sheet.sheet_state != "visible":
                warnings.append(SkippedSheet(name=sheet.title))
                continue
            sheets.append(Sheet(sheet.title, _sheet_rows(sheet, budget)))
        return Workbook(sheets, warnings)
    finally:
        book.close()


def read_workbook(filename: str, data: bytes) -> Workbook:
    """The sheets of a CSV or .xlsx file; raises an :class:`ImportProblem` for an unreadable or too large file."""
    if not data.strip():
        raise EmptyFile()
    name = filename.lower()
    if name.endswith((".xlsx", ".xlsm")) or data.startswith(b"PK\x03\x04"):
        try:
            return read_xlsx(data)
        except ImportProblem:
            raise
        except Exception as exc:  # openpyxl raises whatever its XML parser or zipfile meets inside
            raise UnreadableFile(format="Excel (.xlsx)") from exc
    if name.endswith((".xls", ".ods", ".pdf", ".doc", ".docx")) or data.startswith(b"\xd0\xcf\x11\xe0"):
        raise UnsupportedFile()
    try:
        return read_csv(data)
    except csv.Error as exc:
        raise UnreadableFile(format="CSV") from exc


_DMY = re.compile(r"(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2}|\d{4})")
_YMD = re.compile(r"(\d{4})[/.\-](\d{1,2})[/.\-](\d{1,2})")


def parse_date(value: Any) -> date | None:
    """A real Excel date, dd/mm/yyyy (the Vietnamese order), or yyyy-mm-dd; None if neither."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = text_of(value).split(" ")[0]
    try:
        if match := _YMD.fullmatch(text):
            year, month, day = (int(part) for part in match.groups())
            return date(year, month, day)
        if match := _DMY.fullmatch(text):
            day, month, year = (int(part) for part in match.groups())
            return date(year + 2000 if year < 100 else year, month, day)
    except ValueError:
        return None
    return None
