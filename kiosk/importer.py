"""Loading a real school: patrons, catalogue and open loans from CSV or Excel files.

Two steps, so nothing is written until the librarian has seen the result:
:func:`plan_import` reads and checks every row and turns the file into ledger
facts (or a list of bad rows); :func:`apply_plan` records a clean plan in ONE
transaction. A file with a single bad row writes nothing.

Files: ``.xlsx`` (first sheet) or CSV in any of Excel's flavours (UTF-8 with or
without BOM, UTF-16 "Unicode text", comma/semicolon/tab, CRLF, quoted fields).
A CSV that is not UTF-8 is read as Windows-1258 (what Vietnamese Windows Excel
writes for "CSV") and the plan carries a warning asking the librarian to check
the names. MARC 21 catalogue files are handled by :mod:`kiosk.marc`.

Line numbers are the ones the librarian sees in Excel: the sheet's row number,
header row included (a header under a title row keeps its real row number).
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import uuid as uuidlib
import zipfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from peewee import IntegrityError

from .codes import clean, isbn13
from .db import write_transaction
from .errors import N_, MuontraError
from .i18n import DEFAULT_LANGUAGE, translate
from .ledger import record_many
from .models import PATRON_KINDS, Copy, Loan, Patron
from .services import Circulation

KINDS = ("patrons", "catalog", "loans")
# Progress while checking rows: (rows done, rows in the file).
CheckProgress = Callable[[int, int], None]
# Progress while writing: how many more facts were recorded (click's ``bar.update``).
WriteProgress = Callable[[int], None]

WRITE_CHUNK = 500
# How far down a header row may sit under a title row ("DANH SÁCH HỌC SINH LỚP 6A1").
HEADER_SEARCH_ROWS = 10
IMPORT_DEVICE = "import"


# ---------------------------------------------------------------- problems


class ImportProblem(MuontraError):
    """A problem with one row (``line``), or with the whole file (``line`` None).

    ``unit`` says what ``line`` counts: a sheet row ("line") or a MARC record ("record").
    """

    code = "import_problem"

    def __init__(self, line: int | None = None, unit: str = "line", **params: Any) -> None:
        self.line, self.unit = line, unit
        super().__init__(**params)

    def where_in(self, lang: str = DEFAULT_LANGUAGE) -> str:
        if self.line is None:
            return translate(N_("File"), lang)
        if self.unit == "record":
            return translate(N_("Record %(number)s"), lang, number=self.line)
        return translate(N_("Line %(number)s"), lang, number=self.line)

    def describe_in(self, lang: str = DEFAULT_LANGUAGE) -> str:
        """One line for a report: where, then why."""
        return f"{self.where_in(lang)}: {self.message_in(lang)}"

    def to_dict(self, lang: str = DEFAULT_LANGUAGE) -> dict[str, Any]:
        return {**super().to_dict(lang), "line": self.line, "unit": self.unit}


class RowError(ImportProblem):
    code = "bad_row"


class UnknownImportKind(MuontraError):
    code = "unknown_import_kind"
    message = N_("Unknown kind of import '%(kind)s': use patrons, catalog or loans.")


class EmptyFile(RowError):
    code = "empty_file"
    message = N_("The file is empty.")


class UnsupportedFile(RowError):
    code = "unsupported_file"
    message = N_(
        "This kind of file cannot be imported. Use .xlsx or .csv "
        "(an old .xls file: open it in Excel and save it as .xlsx)."
    )


class UnreadableFile(RowError):
    code = "unreadable_file"
    message = N_("The file could not be read as %(format)s. Is it damaged, or saved in another format?")


class NoHeader(RowError):
    code = "no_header"
    message = N_("No header row was found. The first row must name the columns, for example: %(expected)s.")


class MissingColumn(RowError):
    code = "missing_column"
    message = N_("The column '%(column)s' is missing. Columns found: %(found)s.")


class MissingValue(RowError):
    code = "missing_value"
    message = N_("'%(column)s' is empty.")


class BadCode(RowError):
    code = "bad_code"
    message = N_("The code '%(value)s' in '%(column)s' is too long for a card or label.")


class DuplicateCode(RowError):
    code = "duplicate_code"
    message = N_("The code '%(value)s' also appears on line %(first)s.")


class UnknownPatronKind(RowError):
    code = "unknown_kind"
    message = N_("'%(value)s' is not a kind of reader: use học sinh, giáo viên or cộng tác viên "
                 "(student, teacher, helper).")


class UnknownCategory(RowError):
    code = "unknown_category"
    message = N_("'%(value)s' is not a category: use SGK, STK, SNV, TN, báo/tạp chí or khác.")


class InvalidIsbn(RowError):
    code = "invalid_isbn"
    message = N_("'%(value)s' is not a valid ISBN (the check digit is wrong or it has too few digits).")


class BadDate(RowError):
    code = "bad_date"
    message = N_("'%(value)s' in '%(column)s' is not a date: write it as dd/mm/yyyy.")


class BadYear(RowError):
    code = "bad_year"
    message = N_("'%(value)s' in '%(column)s' is not a year.")


class BadNumber(RowError):
    code = "bad_number"
    message = N_("'%(value)s' in '%(column)s' is not a number.")


class BadYesNo(RowError):
    code = "bad_yes_no"
    message = N_("'%(value)s' in '%(column)s' should be có or không (yes or no).")


class UnknownPatronCode(RowError):
    code = "unknown_patron"
    message = N_("No reader has the code '%(value)s'. Import the readers first.")


class UnknownCopyCode(RowError):
    code = "unknown_copy"
    aliases = ("unknown_item",)
    message = N_("No copy has the label '%(value)s'. Import the catalogue first.")


class CopyAlreadyOnLoan(RowError):
    code = "copy_on_loan"
    aliases = ("item_on_loan",)
    message = N_("The copy '%(value)s' is already on loan.")


class DueBeforeCheckout(RowError):
    code = "due_before_checkout"
    message = N_("The due date %(due)s is before the checkout date %(checked_out)s.")


class ImportWarning(ImportProblem):
    code = "import_warning"


class IgnoredColumns(ImportWarning):
    code = "ignored_columns"
    message = N_("These columns are not used and were ignored: %(columns)s.")


class NotUtf8(ImportWarning):
    code = "not_utf8"
    message = N_(
        "The file is not in UTF-8, so it was read as Windows-1258 (Vietnamese). Check that names look "
        "right, or save it from Excel as \"CSV UTF-8\"."
    )


class PlanHasErrors(MuontraError):
    code = "import_has_errors"
    message = N_("The file has %(count)s bad rows: nothing was imported. Correct them and import again.")


class PlanOutdated(MuontraError):
    code = "import_outdated"
    message = N_("The data changed since the file was checked (a copy was lent meanwhile?). "
                 "Nothing was imported: check the file again.")
    http_status = 409


# ---------------------------------------------------------------- the plan


@dataclass
class ImportPlan:
    kind: str
    rows: int = 0
    errors: list[ImportProblem] = field(default_factory=list)
    warnings: list[ImportProblem] = field(default_factory=list)
    facts: list[tuple[str, dict]] = field(default_factory=list)
    unit: str = "line"

    @property
    def ok(self) -> bool:
        return not self.errors


# ---------------------------------------------------------------- columns


def fold(text: str) -> str:
    """Header key: no diacritics, case, spaces or punctuation ("Mã HS" → "mahs", "Số ĐKCB" → "sodkcb")."""
    text = unicodedata.normalize("NFD", str(text).replace("đ", "d").replace("Đ", "D"))
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Mn")
    return re.sub(r"[^a-z0-9]", "", text.lower())


@dataclass(frozen=True)
class Column:
    name: str  # the English header, also the field name
    aliases: tuple[str, ...]
    required: bool = False

    @property
    def label(self) -> str:
        return f"{self.name} / {self.aliases[0]}"

    def keys(self) -> set[str]:
        return {fold(self.name), *(fold(alias) for alias in self.aliases)}


COLUMNS: Mapping[str, tuple[Column, ...]] = {
    "patrons": (
        Column("code", ("Mã HS", "Mã học sinh", "Mã số", "Mã thẻ", "Mã bạn đọc", "Mã độc giả", "Số thẻ",
                        "Mã", "student code", "card"), required=True),
        Column("name", ("Họ và tên", "Họ tên", "Tên", "Họ và tên học sinh", "full name"), required=True),
        # Not required as a column: a file of teachers has no class; a student row without one is an error.
        Column("class", ("Lớp", "class name")),
        Column("kind", ("Loại", "Đối tượng", "Loại bạn đọc", "type")),
        Column("school_year", ("Năm học", "school year", "year")),
        Column("active", ("Hoạt động", "Còn học", "Trạng thái")),
    ),
    "catalog": (
        Column("barcode", ("Số ĐKCB", "ĐKCB", "Số đăng ký cá biệt", "Mã vạch", "Mã sách", "code", "item",
                           "accession number", "accession"), required=True),
        Column("isbn", ("Mã ISBN",)),
        Column("title", ("Nhan đề", "Tên sách", "Tên tài liệu", "Tên"), required=True),
        Column("author", ("Tác giả",)),
        Column("category", ("Loại sách", "Môn loại", "Loại", "Loại tài liệu", "Kho sách")),
        Column("publisher", ("Nhà xuất bản", "NXB")),
        Column("year", ("Năm xuất bản", "Năm XB", "Năm")),
        Column("location", ("Kho", "Vị trí", "Thư viện lớp")),
        Column("classification", ("Ký hiệu phân loại", "Phân loại", "Ký hiệu", "DDC")),
        Column("shelf", ("Kệ", "Kệ sách", "Giá sách")),
        Column("price", ("Giá tiền", "Giá bìa", "Đơn giá", "Giá")),
        Column("added_on", ("Ngày nhập", "Ngày vào sổ", "Ngày nhập kho", "added")),
    ),
    "loans": (
        Column("patron", ("Mã HS", "Mã học sinh", "Mã bạn đọc", "Mã độc giả", "Mã thẻ", "Người mượn",
                          "Số thẻ"), required=True),
        Column("item", ("Số ĐKCB", "ĐKCB", "Mã vạch", "Mã sách", "barcode"), required=True),
        Column("checked_out", ("Ngày mượn", "checkout", "checked out on"), required=True),
        Column("due", ("Hạn trả", "Ngày hẹn trả", "Ngày phải trả", "due date"), required=True),
    ),
}

def _header_map(kind: str, header: list[Any]) -> tuple[dict[str, int], list[str]]:
    """Field name → cell index, and the headers no field claims."""
    claimed: dict[str, str] = {}
    for column in COLUMNS[kind]:
        for key in column.keys():
            claimed.setdefault(key, column.name)
    found: dict[str, int] = {}
    ignored = []
    for index, cell in enumerate(header):
        text = _text(cell)
        if not text:
            continue
        name = claimed.get(fold(text))
        if name and name not in found:
            found[name] = index
        else:
            ignored.append(text)
    return found, ignored


# ---------------------------------------------------------------- cells


def _text(value: Any) -> str:
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


_DMY = re.compile(r"(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2}|\d{4})")
_YMD = re.compile(r"(\d{4})[/.\-](\d{1,2})[/.\-](\d{1,2})")


def parse_date(value: Any) -> date | None:
    """A real Excel date, dd/mm/yyyy (the Vietnamese order), or yyyy-mm-dd; None if neither."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = _text(value).split(" ")[0]
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


def parse_amount(text: str) -> int | None:
    """Whole đồng from "45.000", "45,000 đ", "45000" or "45000.00"; None if it is not an amount.

    A separator followed by three digits groups thousands; one followed by one or two
    digits at the end starts the cents (Koha, English Excel), which are dropped.
    """
    compact = re.sub(r"vnđ|vnd|đ|\s", "", text.lower())
    compact = re.sub(r"[.,]\d{1,2}$", "", compact)
    digits = re.sub(r"[.,]", "", compact)
    return int(digits) if digits.isdigit() else None


def normalize_isbn(text: str) -> str:
    """ISBN-13 digits for an ISBN-10 or -13 with a valid check digit; ValueError otherwise."""
    number = isbn13(text)
    if number is None:
        raise ValueError(text)
    return number


PATRON_KIND_WORDS = {
    **{fold(word): "student" for word in ("student", "học sinh", "HS", "sinh viên")},
    **{fold(word): "teacher" for word in ("teacher", "giáo viên", "GV", "cán bộ", "nhân viên", "staff")},
    **{fold(word): "helper" for word in ("helper", "cộng tác viên", "CTV")},
}

CATEGORY_WORDS = {
    **{fold(word): "SGK" for word in ("SGK", "sách giáo khoa", "textbook")},
    **{fold(word): "STK" for word in ("STK", "sách tham khảo", "reference")},
    **{fold(word): "SNV" for word in ("SNV", "sách nghiệp vụ", "sách giáo viên", "SGV", "teachers")},
    **{fold(word): "TN" for word in ("TN", "thiếu nhi", "sách thiếu nhi", "truyện", "children")},
    **{fold(word): "periodical" for word in ("báo", "tạp chí", "báo, tạp chí", "báo/tạp chí",
                                             "periodical", "newspaper", "magazine")},
    **{fold(word): "other" for word in ("other", "khác")},
}

YES_WORDS = {fold(word) for word in ("1", "yes", "y", "true", "x", "có", "còn", "còn học", "hoạt động")}
NO_WORDS = {fold(word) for word in ("0", "no", "n", "false", "không", "nghỉ", "nghỉ học", "đã nghỉ",
                                    "ra trường", "chuyển trường")}


# ---------------------------------------------------------------- reading files


@dataclass
class Table:
    rows: list[tuple[int, list[Any]]]  # (line as the librarian sees it, cells)
    warnings: list[ImportProblem] = field(default_factory=list)


def _decode(data: bytes) -> tuple[str, list[ImportProblem]]:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):  # Excel's "Unicode text": UTF-16 with a BOM
        return data.decode("utf-16"), []
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError:
        # Windows-1258 writes many Vietnamese letters as base letter + combining mark: NFC joins them.
        text = data.decode("cp1258", errors="replace")
        return unicodedata.normalize("NFC", text), [NotUtf8()]


def _delimiter(text: str) -> str:
    sample = "\n".join(text.splitlines()[:20])
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t").delimiter
    except csv.Error:
        first = text.splitlines()[0] if text else ""
        return max(",;\t", key=first.count)


def read_csv(data: bytes) -> Table:
    text, warnings = _decode(data)
    # Excel honours (and hides) a first line "sep=;" naming the delimiter: the header is then row 1.
    hint = re.match(r"sep=(.)\r?\n", text)
    if hint:
        delimiter, text = hint.group(1), text[hint.end():]
    else:
        delimiter = _delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    return Table([(line, row) for line, row in enumerate(reader, start=1)], warnings)


def read_xlsx(data: bytes) -> Table:
    from openpyxl import load_workbook

    workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        sheet = workbook.worksheets[0]
        return Table([(line, list(row)) for line, row in enumerate(sheet.iter_rows(values_only=True), start=1)])
    finally:
        workbook.close()


def read_table(filename: str, data: bytes) -> Table:
    """The rows of a CSV or .xlsx file; raises an :class:`ImportProblem` for an unreadable file."""
    if not data.strip():
        raise EmptyFile()
    name = filename.lower()
    if name.endswith((".xlsx", ".xlsm")) or data.startswith(b"PK\x03\x04"):
        try:
            return read_xlsx(data)
        except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
            raise UnreadableFile(format="Excel (.xlsx)") from exc
    if name.endswith((".xls", ".ods", ".pdf", ".doc", ".docx")) or data.startswith(b"\xd0\xcf\x11\xe0"):
        raise UnsupportedFile()
    try:
        return read_csv(data)
    except csv.Error as exc:
        raise UnreadableFile(format="CSV") from exc


def _is_blank(cells: Iterable[Any]) -> bool:
    return all(_text(cell) == "" for cell in cells)


# ---------------------------------------------------------------- checking rows


class Row:
    """One data row, read through the header map; problems are collected, not raised."""

    def __init__(self, line: int, cells: list[Any], header: list[Any], columns: Mapping[str, int],
                 errors: list[ImportProblem]):
        self.line, self.cells, self.header, self.columns, self.errors = line, cells, header, columns, errors

    def label(self, name: str) -> str:
        """The column as the librarian's file names it ("Lớp", not "class")."""
        index = self.columns.get(name)
        return (_text(self.header[index]) if index is not None else "") or name

    def has(self, name: str) -> bool:
        return name in self.columns

    def raw(self, name: str) -> Any:
        index = self.columns.get(name)
        return self.cells[index] if index is not None and index < len(self.cells) else None

    def text(self, name: str) -> str:
        return _text(self.raw(name))

    def fail(self, problem: type[RowError], **params: Any) -> None:
        self.errors.append(problem(self.line, **params))

    def required(self, name: str) -> str:
        value = self.text(name)
        if not value:
            self.fail(MissingValue, column=self.label(name))
        return value

    def code(self, name: str) -> str | None:
        value = self.required(name)
        if not value:
            return None
        try:
            return clean(value)
        except MuontraError:
            self.fail(BadCode, value=value[:40] + "…", column=self.label(name))
            return None

    def day(self, name: str, *, required: bool = False) -> date | None:
        value = self.required(name) if required else self.text(name)
        if not value:
            return None
        parsed = parse_date(self.raw(name))
        if parsed is None:
            self.fail(BadDate, value=value, column=self.label(name))
        return parsed

    def number(self, name: str, problem: type[RowError] = BadNumber) -> int | None:
        raw, value = self.raw(name), self.text(name)
        if not value:
            return None
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            return int(round(raw))
        amount = parse_amount(value)
        if amount is None:
            self.fail(problem, value=value, column=self.label(name))
        return amount

    def year(self, name: str) -> int | None:
        value = self.number(name, BadYear)
        if value is not None and not 1000 <= value <= 2999:
            self.fail(BadYear, value=self.text(name), column=self.label(name))
            return None
        return value


class Check:
    """Row checks for one kind of import; ``seen`` spots duplicate codes within the file."""

    def __init__(self) -> None:
        self.seen: dict[str, int] = {}

    def unique(self, row: Row, code: str | None) -> None:
        if code is None:
            return
        first = self.seen.setdefault(code, row.line)
        if first != row.line:
            row.fail(DuplicateCode, value=code, first=first)

    def fact(self, row: Row) -> tuple[str, dict] | None:
        raise NotImplementedError


class PatronCheck(Check):
    def fact(self, row: Row) -> tuple[str, dict] | None:
        code = row.code("code")
        self.unique(row, code)
        name = " ".join(row.required("name").split())
        class_name = row.text("class").replace(" ", "").upper()
        kind = "student"
        if row.text("kind"):
            kind = PATRON_KIND_WORDS.get(fold(row.text("kind")), "")
            if kind not in PATRON_KINDS:
                row.fail(UnknownPatronKind, value=row.text("kind"))
        if kind == "student" and not class_name:
            row.fail(MissingValue, column=row.label("class"))
        payload: dict[str, Any] = {"code": code, "name": name, "class_name": class_name, "kind": kind}
        if row.has("school_year"):
            payload["school_year"] = row.text("school_year")
        if row.has("active") and row.text("active"):
            word = fold(row.text("active"))
            if word not in YES_WORDS | NO_WORDS:
                row.fail(BadYesNo, value=row.text("active"), column=row.label("active"))
            payload["active"] = word in YES_WORDS
        return "patron.upsert", payload


class CatalogCheck(Check):
    def fact(self, row: Row) -> tuple[str, dict] | None:
        code = row.code("barcode")
        self.unique(row, code)
        isbn = None
        if row.text("isbn"):
            try:
                isbn = normalize_isbn(row.text("isbn"))
            except ValueError:
                row.fail(InvalidIsbn, value=row.text("isbn"))
        category = "other"
        if row.text("category"):
            category = CATEGORY_WORDS.get(fold(row.text("category")), "")
            if not category:
                row.fail(UnknownCategory, value=row.text("category"))
        payload: dict[str, Any] = {
            "item": code,
            "isbn": isbn,
            "title": " ".join(row.required("title").split()),
            "author": row.text("author"),
            "publisher": row.text("publisher"),
            "year": row.year("year"),
            "category": category,
            "classification": row.text("classification"),
        }
        # Copy fields only when the file has the column: a re-import must not reset them.
        if row.has("location"):
            payload["location"] = row.text("location") or "main"
        if row.has("shelf"):
            payload["shelf"] = row.text("shelf")
        if row.has("price"):
            payload["price"] = row.number("price")
        if row.has("added_on"):
            added = row.day("added_on")
            payload["added_on"] = added.isoformat() if added else None
        return "catalog.upsert", payload


class LoanCheck(Check):
    """Open loans from a paper loan book; patrons and copies must already be in the database."""

    def __init__(self) -> None:
        super().__init__()
        self.patrons = {code for (code,) in Patron.select(Patron.code).tuples()}
        self.copies = dict(Copy.select(Copy.code, Copy.location).tuples())
        self.on_loan = {
            code for (code,) in Copy.select(Copy.code).join(Loan).where(Loan.is_open()).tuples()
        }

    def fact(self, row: Row) -> tuple[str, dict] | None:
        patron, item = row.code("patron"), row.code("item")
        if patron is not None and patron not in self.patrons:
            row.fail(UnknownPatronCode, value=patron)
        if item is not None:
            if item not in self.copies:
                row.fail(UnknownCopyCode, value=item)
            elif item in self.on_loan:
                row.fail(CopyAlreadyOnLoan, value=item)
            else:
                self.unique(row, item)
        checked_out = row.day("checked_out", required=True)
        due = row.day("due", required=True)
        if checked_out and due and due < checked_out:
            row.fail(DueBeforeCheckout, due=due.strftime("%d/%m/%Y"), checked_out=checked_out.strftime("%d/%m/%Y"))
        if checked_out is None or due is None:
            return None
        return "loan.checkout", {
            "loan": str(uuidlib.uuid4()),
            "item": item,
            "patron": patron,
            # The paper book has no time of day; midnight UTC is 07:00 in Vietnam, a school morning.
            "at": datetime.combine(checked_out, time(0)).isoformat(timespec="microseconds"),
            "due": due.isoformat(),
            "location": self.copies.get(item or ""),
            "device": IMPORT_DEVICE,
        }


CHECKS: Mapping[str, type[Check]] = {"patrons": PatronCheck, "catalog": CatalogCheck, "loans": LoanCheck}


def _find_header(kind: str, table: Table) -> tuple[int, dict[str, int], list[str]] | None:
    """The first row (of the first few) that names at least one required column."""
    required = {column.name for column in COLUMNS[kind] if column.required}
    for position, (_line, cells) in enumerate(table.rows[:HEADER_SEARCH_ROWS]):
        found, ignored = _header_map(kind, cells)
        if required & found.keys():
            return position, found, ignored
    return None


def check_rows(kind: str, table: Table, progress: CheckProgress | None = None) -> ImportPlan:
    plan = ImportPlan(kind, warnings=list(table.warnings))
    header = _find_header(kind, table)
    if header is None:
        expected = ", ".join(column.label for column in COLUMNS[kind] if column.required)
        plan.errors.append(NoHeader(1, expected=expected))
        return plan
    position, columns, ignored = header
    header_line, header_cells = table.rows[position]
    missing = [column.label for column in COLUMNS[kind] if column.required and column.name not in columns]
    if missing:
        found = ", ".join(_text(cell) for cell in header_cells if _text(cell)) or "—"
        plan.errors.extend(MissingColumn(header_line, column=label, found=found) for label in missing)
        return plan
    if ignored:
        plan.warnings.append(IgnoredColumns(header_line, columns=", ".join(ignored)))
    check = CHECKS[kind]()
    body = table.rows[position + 1:]
    for done, (line, cells) in enumerate(body, start=1):
        if not _is_blank(cells):
            plan.rows += 1
            errors_before = len(plan.errors)
            fact = check.fact(Row(line, cells, header_cells, columns, plan.errors))
            if fact is not None and len(plan.errors) == errors_before:
                plan.facts.append(fact)
        if progress and (done % WRITE_CHUNK == 0 or done == len(body)):
            progress(done, len(body))
    return plan


def plan_import(kind: str, filename: str, data: bytes, *, progress: CheckProgress | None = None,
                prefix: str | None = None, category: str | None = None) -> ImportPlan:
    """Read and check a whole file; nothing is written.

    ``kind`` is "patrons", "catalog" or "loans". A catalogue may also be a MARC 21
    file (binary or MARCXML, see :mod:`kiosk.marc`): records without a copy barcode
    get accession numbers after the highest of ``prefix``, filed under ``category``
    (default: the prefix's). Loans and MARC are checked against the database, which
    must be bound.
    """
    if kind not in KINDS:
        raise UnknownImportKind(kind=kind)
    from . import marc  # here, not at the top: kiosk.marc builds on this module

    if kind == "catalog" and marc.is_marc(filename, data):
        return marc.plan_marc(data, prefix=prefix, category=category, progress=progress)
    try:
        table = read_table(filename, data)
    except ImportProblem as problem:
        return ImportPlan(kind, errors=[problem])
    return check_rows(kind, table, progress)


def apply_plan(circ: Circulation, plan: ImportPlan, progress: WriteProgress | None = None) -> int:
    """Record every fact of a clean plan in one transaction; returns how many were recorded.

    ``circ`` is the :class:`~kiosk.services.Circulation` of this device (its id and
    clock stamp the facts). A plan with errors is refused and nothing is written.
    """
    if not plan.ok:
        raise PlanHasErrors(count=len(plan.errors))
    try:
        with write_transaction():
            now = circ.now()
            for start in range(0, len(plan.facts), WRITE_CHUNK):
                chunk = plan.facts[start:start + WRITE_CHUNK]
                record_many(chunk, device=circ.device, device_time=now)
                if progress:
                    progress(len(chunk))
    except IntegrityError as exc:
        raise PlanOutdated() from exc
    return len(plan.facts)
