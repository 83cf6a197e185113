"""Loading a real school: patrons, catalogue and open loans from CSV or Excel files (MARC: :mod:`kiosk.marc`).

Two steps, so nothing is written until the librarian has seen the result:
:func:`plan_import` reads and checks every row, turns the file into ledger facts (or a
list of bad rows) and compares them with what is stored ("N new, M changed, K unchanged",
each change old → new); :func:`apply_plan` records a clean plan in ONE transaction, and
only with ``accept_changes`` when it changes existing rows. A file with a single bad
row writes nothing.

Line numbers are the ones the librarian sees in Excel: the sheet's row number, header
row included (a header under title rows keeps its real row number). Every visible sheet
whose header names the required columns is read (one sheet per class); hidden sheets and
sheets without such a header are named in a warning.
"""

from __future__ import annotations

import re
import uuid as uuidlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from peewee import IntegrityError, chunked

from . import marc
from .codes import clean
from .db import write_transaction
from .errors import MuontraError
from .import_plan import (  # noqa: F401  (re-exported: the importer's public names)
    CATEGORY_WORDS,
    MAX_FILE_BYTES,
    WRITE_CHUNK,
    BadCode,
    BadDate,
    BadNumber,
    BadYear,
    BadYesNo,
    Change,
    ChangesNeedConfirmation,
    CheckProgress,
    CopyAlreadyOnLoan,
    DueBeforeCheckout,
    DuplicateCode,
    EmptyFile,
    FileTooLarge,
    IgnoredColumns,
    IgnoredFooter,
    IgnoredNumberRows,
    ImportPlan,
    ImportProblem,
    InvalidIsbn,
    IsbnTitleClash,
    MissingColumn,
    MissingValue,
    NoHeader,
    PlanHasErrors,
    PlanOutdated,
    RowError,
    SheetOtherColumns,
    SheetWithoutHeader,
    TitleClashes,
    UnknownCategory,
    UnknownCopyCode,
    UnknownGender,
    UnknownImportKind,
    UnknownPatronCode,
    UnknownPatronKind,
    UnreadableFile,
    WriteProgress,
    fold,
    nfc,
    normalize_isbn,
    parse_amount,
)
from .ledger import IN_CHUNK, PATRON_FIELDS, _title_key, _title_values, _titles, record_many
from .models import Copy, Loan, Patron, Title
from .services import Circulation
from .spreadsheet import Sheet, Workbook, megabytes, parse_date, read_workbook, text_of
from .vocabulary import PATRON_KINDS

KINDS = ("patrons", "catalog", "loans")
# How far down a header row may sit under title rows ("SỞ GD&ĐT…", "DANH SÁCH HỌC SINH LỚP 6A1").
HEADER_SEARCH_ROWS = 15
IMPORT_DEVICE = "import"
_text = text_of


# ---------------------------------------------------------------- the alias table
# THE place where column headers are known (docs/import.md lists it). A header matches an alias
# whatever its case, diacritics, spaces and punctuation. When several headers of a file name the
# same field, the one earlier in the alias list wins and the others are listed as ignored, so a
# national-database export with both "Mã học sinh" and "Mã định danh" uses the school's code.
# Sources: the national school database (CSDL ngành, csdl.moet.gov.vn) student list, the exports
# of SMAS, VnEdu and QLTH-style school-management software, and the paper registers (sổ đăng ký
# cá biệt, sổ mượn) as schools type them in Excel.


@dataclass(frozen=True)
class Column:
    name: str  # the English header, also the field name
    aliases: tuple[str, ...]
    required: bool = False

    @property
    def label(self) -> str:
        return f"{self.name} / {self.aliases[0]}"

    def keys(self) -> list[str]:
        return [fold(self.name), *(fold(alias) for alias in self.aliases)]


COLUMNS: Mapping[str, tuple[Column, ...]] = {
    "patrons": (
        Column("code", ("Mã HS", "Mã học sinh", "Mã số học sinh", "Mã số HS", "Mã số", "Mã thẻ", "Mã bạn đọc",
                        "Mã độc giả", "Số thẻ", "Mã", "Mã cán bộ", "Mã giáo viên", "Mã định danh",
                        "Mã định danh Bộ GD&ĐT", "Mã định danh Bộ GD&ĐT (trên CSDL ngành)", "Mã định danh học sinh",
                        "Mã định danh cá nhân", "Mã ĐDCN", "Số ĐDCN", "student code", "card"),
               required=True),
        Column("name", ("Họ và tên", "Họ tên", "Họ tên học sinh", "Họ và tên học sinh", "Tên học sinh",
                        "Họ và tên giáo viên", "Họ tên giáo viên", "Họ tên cán bộ", "full name"), required=True),
        # Split name columns (VnEdu, SMAS, CSDL ngành's two-level header): joined in this order.
        Column("family", ("Họ", "family name", "last name")),
        Column("middle", ("Họ đệm", "Họ và đệm", "Họ lót", "Họ và tên đệm", "Tên đệm", "Đệm", "middle name")),
        Column("given", ("Tên", "given name", "first name")),
        # Not required as a column: a file of teachers has no class; a student row without one is an error.
        Column("class", ("Lớp", "Tên lớp", "Lớp học", "Lớp hiện tại", "Mã lớp", "class name")),
        Column("kind", ("Loại", "Đối tượng", "Loại bạn đọc", "Chức vụ", "type")),
        Column("school_year", ("Năm học", "school year", "year")),
        Column("active", ("Hoạt động", "Còn học", "Trạng thái", "Trạng thái học sinh", "Tình trạng")),
        Column("gender", ("Giới tính", "Phái", "Nam/Nữ", "Nam, nữ", "sex")),
        Column("female", ("Nữ",)),  # a column ticked "x" for girls, as hand-made lists have it
    ),
    "catalog": (
        Column("barcode", ("Số ĐKCB", "ĐKCB", "Số đăng ký cá biệt", "Đăng ký cá biệt", "Mã vạch", "Mã sách",
                           "Mã cá biệt", "code", "item", "accession number", "accession"), required=True),
        Column("isbn", ("Mã ISBN", "Chỉ số ISBN", "Số ISBN")),
        Column("title", ("Nhan đề", "Tên sách", "Tên tài liệu", "Nhan đề sách", "Tên"), required=True),
        Column("author", ("Tác giả", "Tác giả chính")),
        Column("category", ("Loại sách", "Môn loại", "Loại", "Loại tài liệu", "Kho sách")),
        Column("publisher", ("Nhà xuất bản", "NXB")),
        Column("year", ("Năm xuất bản", "Năm XB", "Năm")),
        Column("location", ("Kho", "Vị trí", "Thư viện lớp")),
        Column("classification", ("Ký hiệu phân loại", "Phân loại", "Ký hiệu", "Môn loại DDC", "DDC")),
        Column("shelf", ("Kệ", "Kệ sách", "Giá sách")),
        Column("price", ("Giá tiền", "Giá bìa", "Đơn giá", "Giá")),
        Column("added_on", ("Ngày nhập", "Ngày vào sổ", "Ngày nhập kho", "added")),
    ),
    "loans": (
        Column("patron", ("Mã HS", "Mã học sinh", "Mã bạn đọc", "Mã độc giả", "Mã thẻ", "Người mượn",
                          "Số thẻ", "patron"), required=True),
        Column("item", ("Số ĐKCB", "ĐKCB", "Mã vạch", "Mã sách", "barcode"), required=True),
        Column("checked_out", ("Ngày mượn", "checkout", "checked out on"), required=True),
        Column("due", ("Hạn trả", "Ngày hẹn trả", "Ngày phải trả", "due date"), required=True),
    ),
}
NAME_PARTS = ("family", "middle", "given")
# The row-number column every list has: read for nothing, and not worth a warning.
ROW_NUMBER_HEADERS = {fold(header) for header in ("STT", "TT", "Số TT", "Số thứ tự", "No.")}


def _header_map(kind: str, header: list[Any]) -> tuple[dict[str, int], list[str]]:
    """Field name → cell index, and the headers no field claims (or another header of the field beat)."""
    claimed: dict[str, tuple[str, int]] = {}
    for column in COLUMNS[kind]:
        for rank, key in enumerate(column.keys()):
            claimed.setdefault(key, (column.name, rank))
    found: dict[str, tuple[int, int]] = {}
    ignored: list[str] = []
    for index, cell in enumerate(header):
        text = _text(cell)
        if not text:
            continue
        name, rank = claimed.get(fold(text), ("", 0))
        if not name:
            if fold(text) not in ROW_NUMBER_HEADERS:
                ignored.append(text)
        elif name not in found or rank < found[name][1]:
            if name in found:
                ignored.append(_text(header[found[name][0]]))
            found[name] = (index, rank)
        else:
            ignored.append(text)
    columns = {name: index for name, (index, _rank) in found.items()}
    if kind == "patrons":
        _settle_name_columns(columns, header, ignored)
    return columns, ignored


def _settle_name_columns(columns: dict[str, int], header: list[Any], ignored: list[str]) -> None:
    """"Tên" alone is the full name; next to "Họ đệm" or "Họ" it is the given name; a full name column wins."""
    parts = [part for part in NAME_PARTS if part in columns]
    if "name" in columns:
        ignored.extend(_text(header[columns.pop(part)]) for part in parts)
    elif parts == ["given"] or parts == ["family"]:
        columns["name"] = columns.pop(parts[0])


def _satisfied(kind: str, columns: Mapping[str, int]) -> set[str]:
    """The fields a header provides, a name made of parts counting as the name."""
    fields = set(columns)
    if kind == "patrons" and "given" in fields:
        fields.add("name")
    return fields


def _required(kind: str) -> list[Column]:
    return [column for column in COLUMNS[kind] if column.required]


# ---------------------------------------------------------------- values

def class_name(text: str) -> str:
    """Classes as the kiosk files them: "6a1 " → "6A1", "Lớp 6A1" → "6A1", "lop 10 a2" → "10A2"."""
    compact = "".join(text.split())
    compact = re.sub(r"^(?:lớp|lop|LỚP|LOP|Lớp|Lop)", "", compact, flags=re.IGNORECASE)
    return compact.upper()


def unescape_formula(text: str) -> str:
    """Undo the quote our exports put before a cell starting with = + - @ (spreadsheet formula injection)."""
    if len(text) > 1 and text[0] == "'" and text[1] in "=+-@\t\r":
        return text[1:]
    return text


PATRON_KIND_WORDS = {
    **{fold(word): "student" for word in ("student", "học sinh", "HS", "sinh viên")},
    **{fold(word): "teacher" for word in ("teacher", "giáo viên", "GV", "cán bộ", "nhân viên", "staff",
                                          "hiệu trưởng", "phó hiệu trưởng", "tổng phụ trách", "thư viện")},
    **{fold(word): "helper" for word in ("helper", "cộng tác viên", "CTV")},
}
GENDER_WORDS = {
    **{fold(word): "male" for word in ("nam", "male", "m", "trai")},
    **{fold(word): "female" for word in ("nữ", "nu", "female", "f", "gái")},
}
YES_WORDS = {fold(word) for word in ("1", "yes", "y", "true", "x", "có", "còn", "còn học", "hoạt động",
                                     "đang học", "đang làm việc")}
NO_WORDS = {fold(word) for word in ("0", "no", "n", "false", "không", "nghỉ", "nghỉ học", "đã nghỉ",
                                    "ra trường", "chuyển trường", "chuyển đi", "đã chuyển đi", "thôi học",
                                    "bỏ học", "đã tốt nghiệp", "nghỉ hưu")}
# Lines under a list: "Người lập biểu", "(Ký, ghi rõ họ tên)", "Ngày 15 tháng 9 năm 2025", "Tổng số: 45".
# Matched at the start of a folded cell, so a name like "Tống Sơn" ("tongson") is never a footer.
FOOTER = re.compile(r"^(?:nguoilap|(?:pho)?hieutruong|ky(?:va)?(?:ghiro)?(?:ho)?ten|kyghiro|tongcong|"
                    r"tongso(?:\d|hs|hocsinh|sach|ban|cuon)|xacnhan|ngay\d*thang\d*nam|nguoighi|thuthu|"
                    r"giaovienchunhiem|ketoan|\(ky)")


# ---------------------------------------------------------------- checking rows


class Row:
    """One data row, read through the header map; problems are collected, not raised."""

    def __init__(self, line: int, cells: list[Any], header: list[Any], columns: Mapping[str, int],
                 errors: list[ImportProblem], sheet: str = ""):
        self.line, self.cells, self.header, self.columns, self.errors = line, cells, header, columns, errors
        self.sheet = sheet

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
        return nfc(unescape_formula(_text(self.raw(name))))

    def fail(self, problem: type[RowError], **params: Any) -> None:
        self.errors.append(problem(self.line, sheet=self.sheet, **params))

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

    def where(self) -> str:
        return f"{self.line} ({self.sheet})" if self.sheet else str(self.line)


class Check:
    """Row checks for one kind of import; ``seen`` spots duplicate codes within the file (all sheets)."""

    def __init__(self) -> None:
        self.seen: dict[str, str] = {}
        self.warnings: list[ImportProblem] = []

    def unique(self, row: Row, code: str | None) -> None:
        if code is None:
            return
        first = self.seen.setdefault(code, row.where())
        if first != row.where():
            row.fail(DuplicateCode, value=code, first=first)

    def fact(self, row: Row) -> tuple[str, dict] | None:
        raise NotImplementedError


class PatronCheck(Check):
    def __init__(self) -> None:
        super().__init__()

    def name(self, row: Row) -> str:
        if row.has("name"):
            return row.required("name")
        parts = [row.text(part) for part in NAME_PARTS if row.has(part)]
        if not row.text("given"):
            row.fail(MissingValue, column=row.label("given"))
        return " ".join(part for part in parts if part)

    def gender(self, row: Row) -> str | None:
        if row.has("gender") and row.text("gender"):
            gender = GENDER_WORDS.get(fold(row.text("gender")))
            if gender is None:
                row.fail(UnknownGender, value=row.text("gender"), column=row.label("gender"))
            return gender
        if row.has("female"):
            return "female" if fold(row.text("female")) in YES_WORDS else "male"
        return None

    def fact(self, row: Row) -> tuple[str, dict] | None:
        code = row.code("code")
        self.unique(row, code)
        name = self.name(row)
        klass = class_name(row.text("class"))
        kind = "student"
        if row.text("kind"):
            kind = PATRON_KIND_WORDS.get(fold(row.text("kind")), "")
            if kind not in PATRON_KINDS:
                row.fail(UnknownPatronKind, value=row.text("kind"))
        if kind == "student" and not klass:
            row.fail(MissingValue, column=row.label("class"))
        payload: dict[str, Any] = {"code": code, "name": name, "class_name": klass, "kind": kind}
        if row.has("school_year"):
            payload["school_year"] = row.text("school_year")
        if row.has("active") and row.text("active"):
            word = fold(row.text("active"))
            if word not in YES_WORDS | NO_WORDS:
                row.fail(BadYesNo, value=row.text("active"), column=row.label("active"))
            payload["active"] = word in YES_WORDS
        gender = self.gender(row)
        if gender:  # how the kiosk addresses a teacher (thầy / cô); a blank cell keeps what is stored
            payload["gender"] = gender
        return "patron.upsert", payload


class CatalogCheck(Check):
    def __init__(self) -> None:
        super().__init__()
        self.titles = TitleClashes()

    def fact(self, row: Row) -> tuple[str, dict] | None:
        code = row.code("barcode")
        self.unique(row, code)
        isbn = None
        if row.text("isbn"):
            try:
                isbn = normalize_isbn(row.text("isbn"))
            except ValueError:
                row.fail(InvalidIsbn, value=row.text("isbn"), column=row.label("isbn"))
        category = None  # no column, or empty: an existing title keeps its category (see compare)
        if row.text("category"):
            category = CATEGORY_WORDS.get(fold(row.text("category")))
            if not category:
                row.fail(UnknownCategory, value=row.text("category"), column=row.label("category"))
        payload: dict[str, Any] = {
            "item": code,
            "isbn": isbn,
            "title": row.required("title"),
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
        self.titles.check(payload, row.where(), lambda **params: row.fail(IsbnTitleClash, **params))
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
            row.fail(UnknownPatronCode, value=patron, column=row.label("patron"))
        if item is not None:
            if item not in self.copies:
                row.fail(UnknownCopyCode, value=item, column=row.label("item"))
            elif item in self.on_loan:
                row.fail(CopyAlreadyOnLoan, value=item, column=row.label("item"))
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


# ---------------------------------------------------------------- headers and sheets


@dataclass
class Header:
    position: int  # index in the sheet's rows of the first data row
    line: int
    cells: list[Any]
    columns: dict[str, int]
    ignored: list[str]


def _is_blank(cells: Iterable[Any]) -> bool:
    return all(_text(cell) == "" for cell in cells)


def _looks_like_header(kind: str, cells: list[Any]) -> bool:
    """A second header row: names at least one column, holds no number (data rows have codes, STT)."""
    columns, _ignored = _header_map(kind, cells)
    numbers = any(isinstance(cell, int | float) and not isinstance(cell, bool) for cell in cells)
    return bool(columns) and not numbers


def find_header(kind: str, rows: list[tuple[int, list[Any]]]) -> Header | None:
    """The row (among the first few) naming the most columns, at least one of them required.

    A header over two rows ("Họ và tên" merged over "Họ đệm" | "Tên", as the national database
    exports it) is read as one: a cell of the second row names its column, else the cell above does.
    """
    required = {column.name for column in _required(kind)}
    best: tuple[int, int] | None = None  # (columns named, position)
    for position, (_line, cells) in enumerate(rows[:HEADER_SEARCH_ROWS]):
        columns, _ignored = _header_map(kind, cells)
        if required & _satisfied(kind, columns) and (best is None or len(columns) > best[0]):
            best = (len(columns), position)
    if best is None:
        return None
    position = best[1]
    line, cells = rows[position]
    cells = list(cells)
    if position + 1 < len(rows) and _looks_like_header(kind, rows[position + 1][1]):
        below = rows[position + 1][1]
        width = max(len(cells), len(below))
        cells = [(below[i] if i < len(below) and _text(below[i]) else (cells[i] if i < len(cells) else None))
                 for i in range(width)]
        position += 1
    columns, ignored = _header_map(kind, cells)
    return Header(position + 1, line, cells, columns, ignored)


@dataclass
class SheetOutcome:
    sheet: Sheet
    header: Header | None


def _footer_or_number(row_cells: list[Any], columns: Mapping[str, int], kind: str) -> str:
    """"footer", "number" (a row holding only its STT) or "" for a row whose required cells are empty."""
    # The codes decide: a footer may write in the name column ("Tổng số: 45", the signer's name).
    keys = {"patrons": ("code",), "catalog": ("barcode",), "loans": ("patron", "item")}[kind]
    if any(_text(row_cells[columns[key]]) for key in keys if key in columns and columns[key] < len(row_cells)):
        return ""
    texts = [_text(cell) for cell in row_cells if _text(cell)]
    if any(FOOTER.match(fold(text)) for text in texts):
        return "footer"
    if len(texts) == 1 and texts[0].isdigit():
        return "number"
    return ""


def check_workbook(kind: str, book: Workbook, progress: CheckProgress | None = None) -> ImportPlan:
    plan = ImportPlan(kind, warnings=list(book.warnings))
    expected = ", ".join(column.label for column in _required(kind))
    outcomes = [SheetOutcome(sheet, find_header(kind, sheet.rows)) for sheet in book.sheets]
    read = [outcome for outcome in outcomes if outcome.header is not None]
    if not read:
        first = next((sheet for sheet in book.sheets if sheet.rows), None)
        plan.errors.append(NoHeader(1, sheet=first.name if first and len(book.sheets) > 1 else "",
                                    expected=expected))
        return plan
    several = len([sheet for sheet in book.sheets if sheet.rows]) > 1
    check = CHECKS[kind]()
    total = sum(len(outcome.sheet.rows) for outcome in read)
    done = 0
    for outcome in outcomes:
        sheet, header = outcome.sheet, outcome.header
        sheet_name = sheet.name if several else ""
        if header is None:
            if sheet.rows:
                plan.warnings.append(SheetWithoutHeader(name=sheet.name, expected=expected))
            continue
        fields = _satisfied(kind, header.columns)
        missing = [column.label for column in _required(kind) if column.name not in fields]
        if missing:
            found = ", ".join(_text(cell) for cell in header.cells if _text(cell)) or "—"
            if outcome is read[0]:
                plan.errors.extend(MissingColumn(header.line, sheet=sheet_name, column=label, found=found)
                                   for label in missing)
                return plan
            plan.warnings.append(SheetOtherColumns(name=sheet.name, found=found))
            continue
        if header.ignored:
            plan.warnings.append(IgnoredColumns(header.line, sheet=sheet_name, columns=", ".join(header.ignored)))
        numbers = 0
        for line, cells in sheet.rows[header.position:]:
            done += 1
            if _is_blank(cells):
                continue
            shape = _footer_or_number(cells, header.columns, kind)
            if shape == "footer":
                plan.warnings.append(IgnoredFooter(line, sheet=sheet_name))
                break
            if shape == "number":
                numbers += 1
                continue
            plan.rows += 1
            errors_before = len(plan.errors)
            fact = check.fact(Row(line, cells, header.cells, header.columns, plan.errors, sheet_name))
            if fact is not None and len(plan.errors) == errors_before:
                plan.add(fact, line, sheet_name)
            if progress and done % WRITE_CHUNK == 0:
                progress(done, total)
        if numbers:
            plan.warnings.append(IgnoredNumberRows(sheet=sheet_name, count=numbers))
    if progress:
        progress(total, total)
    return plan


# ---------------------------------------------------------------- comparing with what is stored


def _diff(stored: Mapping[str, Any], wanted: Mapping[str, Any], names: Iterable[str]) -> list[tuple[str, Any, Any]]:
    return [(name, stored.get(name), wanted[name]) for name in names if name in wanted
            and _comparable(stored.get(name)) != _comparable(wanted[name])]


def _comparable(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    return "" if value is None else value


def _compare_patrons(plan: ImportPlan) -> None:
    codes = [payload["code"] for _type, payload in plan.facts]
    stored: dict[str, dict] = {}
    for chunk in chunked(codes, IN_CHUNK):
        stored.update((row["code"], row) for row in Patron.select().where(Patron.code.in_(chunk)).dicts())
    for (_type, payload), (line, sheet) in zip(plan.facts, plan.origins, strict=True):
        row = stored.get(payload["code"])
        if row is None:
            plan.new += 1
            continue
        fields = _diff(row, payload, PATRON_FIELDS)
        if fields:
            plan.changes.append(Change("patron", payload["code"], line, plan.unit, fields, sheet))
        else:
            plan.unchanged += 1


TITLE_DIFF_FIELDS = ("title", "author", "publisher", "year", "category", "classification")
COPY_DIFF_FIELDS = ("location", "shelf", "price", "added_on")


def _compare_catalog(plan: ImportPlan) -> None:
    """Copies new or changed, titles retitled or recategorised; an unspecified category keeps the stored one."""
    payloads = [payload for _type, payload in plan.facts]
    keys = [_title_key(_title_values(payload)) for payload in payloads]
    titles = _titles(list(dict.fromkeys(keys)))
    copies: dict[str, dict] = {}
    for chunk in chunked([payload["item"] for payload in payloads], IN_CHUNK):
        copies.update((row["code"], row) for row in Copy.select().where(Copy.code.in_(chunk)).dicts())
    title_names = {}
    copy_title_ids = list({row["title"] for row in copies.values()})
    for chunk in chunked(copy_title_ids, IN_CHUNK):
        title_names.update(Title.select(Title.id, Title.title).where(Title.id.in_(chunk)).tuples())
    shown_titles: set = set()
    for payload, key, (line, sheet) in zip(payloads, keys, plan.origins, strict=True):
        stored_title = titles.get(key)
        if payload.get("category") is None:
            payload["category"] = stored_title["category"] if stored_title else "other"
        changed = False
        if stored_title is not None and key not in shown_titles:
            shown_titles.add(key)
            fields = _diff(stored_title, _title_values(payload), TITLE_DIFF_FIELDS)
            if fields:
                plan.changes.append(Change("title", stored_title["title"], line, plan.unit, fields, sheet))
                changed = True
        copy = copies.get(payload["item"])
        if copy is None:
            plan.new += 1
            continue
        fields = _diff(copy, payload, COPY_DIFF_FIELDS)
        if stored_title is None or copy["title"] != stored_title["id"]:
            fields.insert(0, ("title", title_names.get(copy["title"], ""), payload["title"]))
        if fields:
            plan.changes.append(Change("copy", payload["item"], line, plan.unit, fields, sheet))
        elif not changed:
            plan.unchanged += 1


def compare(plan: ImportPlan) -> ImportPlan:
    """Fill in what the plan's facts would do to the stored rows: new, changed (old → new), unchanged."""
    if not plan.ok:
        return plan
    if plan.kind == "patrons":
        _compare_patrons(plan)
    elif plan.kind == "catalog":
        _compare_catalog(plan)
    else:
        plan.new = len(plan.facts)
    return plan


def changes_fingerprint(plan: ImportPlan) -> str:
    """Names the changes a librarian saw, so a confirmation covers those and no others."""
    import hashlib

    text = "\n".join(f"{change.what}|{change.key}|{change.fields!r}" for change in plan.changes)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


# ---------------------------------------------------------------- planning and writing


def plan_import(kind: str, filename: str, data: bytes, *, progress: CheckProgress | None = None,
                prefix: str | None = None, category: str | None = None,
                type_map: Mapping[str, str] | None = None, encoding: str | None = None) -> ImportPlan:
    """Read, check and compare a whole file; nothing is written.

    ``kind`` is "patrons", "catalog" or "loans". A catalogue may also be a MARC 21 file
    (binary or MARCXML, recognised by its content, see :mod:`kiosk.marc`): copies without a
    barcode are numbered after the highest of ``prefix``; ``category`` files titles whose
    record names no item type, ``type_map`` maps item types (942$c/952$y) to categories.
    The database must be bound.
    """
    if kind not in KINDS:
        raise UnknownImportKind(kind=kind)
    if len(data) > MAX_FILE_BYTES:
        return ImportPlan(kind, errors=[FileTooLarge(size=megabytes(len(data)), limit=megabytes(MAX_FILE_BYTES))])
    if kind == "catalog" and marc.is_marc(filename, data):
        plan = marc.plan_marc(data, prefix=prefix, category=category, type_map=type_map, encoding=encoding,
                              progress=progress)
        return compare(plan)
    try:
        book = read_workbook(filename, data)
    except ImportProblem as problem:
        return ImportPlan(kind, errors=[problem])
    plan = check_workbook(kind, book, progress)
    if kind == "catalog" and category:  # rows without a category, as for MARC records without an item type
        default = marc.check_category(category)
        for _type, payload in plan.facts:
            payload["category"] = payload["category"] or default
    return compare(plan)


def apply_plan(circ: Circulation, plan: ImportPlan, progress: WriteProgress | None = None, *,
               accept_changes: bool = False) -> int:
    """Record every fact of a clean plan in one transaction; returns how many were recorded.

    ``circ`` is the :class:`~kiosk.services.Circulation` of this device (its id and clock stamp
    the facts). A plan with errors is refused, and so is one changing existing rows unless
    ``accept_changes`` (the librarian saw the changes and confirmed them); nothing is written then.
    """
    if not plan.ok:
        raise PlanHasErrors(count=len(plan.errors))
    if plan.changes and not accept_changes:
        raise ChangesNeedConfirmation(count=len(plan.changes))
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
