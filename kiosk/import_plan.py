"""What an import found: its problems, its plan of facts and changes, and the words both importers share.

:mod:`kiosk.importer` (spreadsheets) and :mod:`kiosk.marc` (MARC 21) both build an
:class:`ImportPlan` out of these pieces; neither imports the other's reading code, so
there is no import loop between them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from .codes import isbn13
from .errors import N_, MuontraError
from .i18n import DEFAULT_LANGUAGE, translate

# Progress while checking rows: (rows done, rows in the file).
CheckProgress = Callable[[int, int], None]
# Progress while writing: how many more facts were recorded (click's ``bar.update``).
WriteProgress = Callable[[int], None]

WRITE_CHUNK = 500

# ---------------------------------------------------------------- limits
# Checked before (or while) parsing, so a hostile or broken file costs little: a 293 KB xlsx
# can hold a 300 MB cell, and a sheet can claim a million rows. A real school file is far below.
MAX_FILE_BYTES = 64 * 1024 * 1024  # what is read at all (the web page's upload limit too)
MAX_UNCOMPRESSED_BYTES = 128 * 1024 * 1024  # an xlsx's members, all together, unpacked
MAX_MEMBER_BYTES = 96 * 1024 * 1024  # one member of an xlsx (a sheet, the shared strings)
MAX_ROWS = 100_000  # rows of all sheets together, or MARC records
MAX_CELLS = 2_000_000  # cells read (rows × used columns)
MAX_COLUMNS = 60  # columns read per row: no school list has more; the rest is ignored
MAX_CELL_CHARS = 32_767  # Excel's own limit for one cell
MAX_LISTED_PROBLEMS = 100  # an error page or the CLI lists this many; the count says the rest


# ---------------------------------------------------------------- problems


class ImportProblem(MuontraError):
    """A problem with one row (``line``), or with the whole file (``line`` None).

    ``unit`` says what ``line`` counts: a sheet row ("line") or a MARC record ("record").
    ``sheet`` names the sheet when a workbook has several.
    """

    code = "import_problem"

    def __init__(self, line: int | None = None, unit: str = "line", sheet: str = "", **params: Any) -> None:
        self.line, self.unit, self.sheet = line, unit, sheet
        super().__init__(**params)

    @property
    def field(self) -> str:
        return str(self.params.get("column", ""))

    @property
    def value(self) -> str:
        return str(self.params.get("value", ""))

    def where_in(self, lang: str = DEFAULT_LANGUAGE) -> str:
        if self.line is None:
            where = translate(N_("File"), lang)
        elif self.unit == "record":
            where = translate(N_("Record %(number)s"), lang, number=self.line)
        else:
            where = translate(N_("Line %(number)s"), lang, number=self.line)
        return f"{self.sheet} · {where}" if self.sheet else where

    def describe_in(self, lang: str = DEFAULT_LANGUAGE) -> str:
        """One line for a report: where, then why."""
        return f"{self.where_in(lang)}: {self.message_in(lang)}"

    def to_dict(self, lang: str = DEFAULT_LANGUAGE) -> dict[str, Any]:
        return {**super().to_dict(lang), "line": self.line, "unit": self.unit, "sheet": self.sheet,
                "field": self.field, "value": self.value}


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


class FileTooLarge(RowError):
    code = "file_too_large"
    message = N_("The file is too large to import (%(size)s, at most %(limit)s). Split it into several files.")


class WorkbookTooLarge(FileTooLarge):
    code = "file_too_large"
    message = N_("The workbook unpacks to %(size)s (%(what)s), more than the %(limit)s an import may use. "
                 "Split it into several files, or remove pictures and very long cells.")


class TooManyRows(RowError):
    code = "too_many_rows"
    message = N_("The file has more than %(limit)s rows: split it into several files.")


class TooManyCells(TooManyRows):
    code = "too_many_cells"
    message = N_("The file has more than %(limit)s cells: split it into several files.")


class CellTooLong(RowError):
    code = "cell_too_long"
    message = N_("A cell in '%(column)s' holds %(size)s characters, more than Excel allows (%(limit)s).")


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


class UnknownGender(RowError):
    code = "unknown_gender"
    message = N_("'%(value)s' in '%(column)s' is not a gender: use Nam or Nữ (male or female).")


class UnknownCategory(RowError):
    code = "unknown_category"
    message = N_("'%(value)s' is not a category: use SGK, STK, SNV, TN, báo/tạp chí or khác.")


class InvalidIsbn(RowError):
    code = "invalid_isbn"
    message = N_("'%(value)s' is not a valid ISBN (the check digit is wrong or it has too few digits).")


class IsbnTitleClash(RowError):
    code = "isbn_title_clash"
    message = N_("The ISBN %(value)s is also given to '%(other)s' (at %(first)s) but here names '%(title)s'. "
                 "One ISBN is one title: correct the ISBN or the title.")


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


class SkippedSheet(ImportWarning):
    code = "skipped_sheet"
    message = N_("The sheet '%(name)s' was not read: it is hidden.")


class SheetWithoutHeader(SkippedSheet):
    message = N_("The sheet '%(name)s' was not read: it has no header row naming %(expected)s.")


class SheetOtherColumns(SkippedSheet):
    message = N_("The sheet '%(name)s' was not read: its columns (%(found)s) differ from the first sheet's.")


class IgnoredFooter(ImportWarning):
    code = "ignored_footer"
    message = N_("From this line on, the sheet was read as its footer (signatures, totals) and ignored.")


class IgnoredNumberRows(ImportWarning):
    code = "ignored_number_rows"
    message = N_("%(count)s rows holding only a row number (STT) were ignored.")


class PlanHasErrors(MuontraError):
    code = "import_has_errors"
    message = N_("The file has %(count)s bad rows: nothing was imported. Correct them and import again.")


class ChangesNeedConfirmation(MuontraError):
    code = "import_changes_unconfirmed"
    message = N_("The file changes %(count)s existing rows: nothing was imported. "
                 "Look at the changes and confirm them.")
    http_status = 409


class PlanOutdated(MuontraError):
    code = "import_outdated"
    message = N_("The data changed since the file was checked (a copy was lent meanwhile?). "
                 "Nothing was imported: check the file again.")
    http_status = 409


# ---------------------------------------------------------------- the plan


@dataclass
class Change:
    """One existing row the import would change: what it is, where the file says so, each field old → new."""

    what: str  # "patron", "title" or "copy"
    key: str  # the card code, the copy's label, or the title as stored
    line: int | None
    unit: str
    fields: list[tuple[str, Any, Any]]  # (field, old, new)
    sheet: str = ""

    def where_in(self, lang: str = DEFAULT_LANGUAGE) -> str:
        return ImportProblem(self.line, self.unit, self.sheet).where_in(lang)

    def describe(self, lang: str = "en") -> str:
        """The changes of this row: "Name: An → Ân; Class: 6A1 → 7A1"."""
        return "; ".join(f"{translate(FIELD_LABELS.get(name, name), lang)}: {_shown(old)} → {_shown(new)}"
                         for name, old, new in self.fields)

    def line_in(self, lang: str = DEFAULT_LANGUAGE) -> str:
        return f"{self.where_in(lang)} · {self.key}: {self.describe(lang)}"


FIELD_LABELS = {
    "name": N_("Name"), "class_name": N_("Class"), "kind": N_("Kind"), "school_year": N_("School year"),
    "active": N_("Active"), "title": N_("Title"), "author": N_("Author"), "publisher": N_("Publisher"),
    "year": N_("Year"), "category": N_("Category"), "classification": N_("Classification"),
    "location": N_("Location"), "shelf": N_("Shelf"), "price": N_("Price"), "added_on": N_("Added on"),
    "status": N_("Status"),
}


def _shown(value: Any) -> str:
    return "∅" if value in (None, "") else str(value)


@dataclass
class ImportPlan:
    kind: str
    rows: int = 0
    errors: list[ImportProblem] = field(default_factory=list)
    warnings: list[ImportProblem] = field(default_factory=list)
    facts: list[tuple[str, dict]] = field(default_factory=list)
    unit: str = "line"
    # Filled by :func:`kiosk.importer.compare`: what the facts would do to what is stored.
    new: int = 0
    unchanged: int = 0
    changes: list[Change] = field(default_factory=list)
    # Where each fact comes from (line, sheet), index for index with ``facts``.
    origins: list[tuple[int | None, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def add(self, fact: tuple[str, dict], line: int | None, sheet: str = "") -> None:
        self.facts.append(fact)
        self.origins.append((line, sheet))

    def listed_errors(self) -> list[ImportProblem]:
        return self.errors[:MAX_LISTED_PROBLEMS]

    def summary_in(self, lang: str = DEFAULT_LANGUAGE) -> str:
        return translate(N_("%(new)s new, %(changed)s changed, %(unchanged)s unchanged."), lang,
                         new=self.new, changed=len(self.changes), unchanged=self.unchanged)


# ---------------------------------------------------------------- words both importers share


def fold(text: str) -> str:
    """Header key: no diacritics, case, spaces or punctuation ("Mã HS" → "mahs", "Số ĐKCB" → "sodkcb")."""
    text = unicodedata.normalize("NFD", str(text).replace("đ", "d").replace("Đ", "D"))
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Mn")
    return re.sub(r"[^a-z0-9]", "", text.lower())


def nfc(text: str) -> str:
    """Stored text: composed Unicode (NFD from LC/OCLC or a Mac would make a second "HÀ"), single spaces."""
    return " ".join(unicodedata.normalize("NFC", text).split())


CATEGORY_WORDS = {
    **{fold(word): "SGK" for word in ("SGK", "sách giáo khoa", "textbook")},
    **{fold(word): "STK" for word in ("STK", "sách tham khảo", "reference", "REF")},
    **{fold(word): "SNV" for word in ("SNV", "sách nghiệp vụ", "sách giáo viên", "SGV", "teachers")},
    **{fold(word): "TN" for word in ("TN", "thiếu nhi", "sách thiếu nhi", "truyện", "children")},
    **{fold(word): "periodical" for word in ("báo", "tạp chí", "báo, tạp chí", "báo/tạp chí",
                                             "periodical", "newspaper", "magazine", "CR", "SER")},
    **{fold(word): "other" for word in ("other", "khác")},
}


def parse_amount(text: str) -> int | None:
    """Whole đồng from "45.000", "45,000 đ", "45000" or "45000.00"; None if it is not an amount.

    A separator followed by three digits groups thousands; one followed by one or two
    digits at the end starts the cents (Koha, English Excel), which are dropped.
    """
    compact = re.sub(r"vnđ|vnd|đ|\s", "", text.lower())
    compact = re.sub(r"[.,]\d{1,2}$", "", compact)
    digits = re.sub(r"[.,]", "", compact)
    return int(digits) if digits.isdigit() else None


# An ISBN as catalogues write it: "ISBN 978-604-2-10738-7 (bìa mềm) :", "0330029495:", "0192547011(v1)".
_ISBN_PART = re.compile(r"(?:ISBN[\s:-]*)?([0-9][0-9\s-]{7,}[0-9Xx])", re.IGNORECASE)


def normalize_isbn(text: str) -> str:
    """ISBN-13 digits for an ISBN-10 or -13 with a valid check digit, ISBD qualifiers dropped; ValueError otherwise."""
    number = _isbn13_of(text)
    if number is None:
        raise ValueError(text)
    return number


@lru_cache(maxsize=65_536)
def _isbn13_of(text: str) -> str | None:
    # Cached: a register repeats each class set's ISBN on every copy's row, and validating is most of a row's cost.
    match = _ISBN_PART.search(unicodedata.normalize("NFKC", text))
    return isbn13(match.group(1)) if match else None


class TitleClashes:
    """Rows (or MARC records) giving one ISBN to different titles: listed, never merged into the last one."""

    def __init__(self) -> None:
        self.first: dict[str, tuple[str, str]] = {}

    def check(self, payload: Mapping[str, Any], where: str, fail: Callable[..., None]) -> None:
        isbn, title = payload.get("isbn"), payload.get("title") or ""
        if not isbn or not title:
            return
        other, first = self.first.setdefault(isbn, (title, where))
        if other.casefold() != title.casefold():
            fail(value=isbn, other=other, first=first, title=title)
