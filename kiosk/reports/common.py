"""What every report shares: tables, periods, output formats and their errors.

A report is computed once as :class:`Table` objects (headers and rows already
in the reader's language) and then written as xlsx, csv or PDF, so the three
formats can never disagree.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

from .. import stored_settings
from ..errors import N_, MuontraError
from ..i18n import translate
from ..models import Patron

Cell = str | int | float | date | datetime | None
DATE_FORMAT = "%d/%m/%Y"


class ReportError(MuontraError):
    code = "report_error"


class UnknownClass(ReportError):
    code = "unknown_class"
    message = N_("There is no class named '%(name)s'.")
    http_status = 404


class BadFormat(ReportError):
    code = "bad_format"
    message = N_("Unknown format '%(format)s': use one of %(choices)s.")


class BadPeriod(ReportError):
    code = "bad_period"
    message = N_("The period '%(value)s' is not valid: %(hint)s")


@dataclass
class Table:
    """One sheet of a workbook, one table in a PDF."""

    name: str  # sheet name: at most 31 characters, no []:*?/\
    title: str
    headers: list[str]
    rows: list[list[Cell]] = field(default_factory=list)
    widths: list[float] | None = None  # relative column widths for PDF and xlsx
    note: str = ""

    def column(self, header: str) -> list[Cell]:
        index = self.headers.index(header)
        return [row[index] for row in self.rows]


def translator(lang: str) -> Callable[..., str]:
    """``_`` for a report written in ``lang`` (any language, whatever the request's)."""

    def _(message: str, **params: object) -> str:
        return translate(message, lang, **params)

    return _


def check_format(value: str, choices: Sequence[str]) -> str:
    wanted = (value or "").strip().lower()
    if wanted not in choices:
        raise BadFormat(format=value, choices=", ".join(choices))
    return wanted


def format_for(out: str, given: str | None, choices: Sequence[str]) -> str:
    """The format asked for, or the one the output file's extension names."""
    if given:
        return check_format(given, choices)
    return check_format(Path(out).suffix.lstrip("."), choices)


def school_name() -> str:
    return stored_settings.read("school_name")


def sort_key(text: str) -> str:
    """Alphabetical order without diacritics getting in the way (Đ sorts with D)."""
    text = text.replace("đ", "d").replace("Đ", "D")
    stripped = "".join(ch for ch in unicodedata.normalize("NFD", text) if not unicodedata.combining(ch))
    return stripped.casefold()


def patron_sort_key(name: str) -> tuple[str, str]:
    """Class lists sort Vietnamese names by given name (last word), then by the whole name."""
    parts = name.split()
    return sort_key(parts[-1] if parts else name), sort_key(name)


def require_class(class_name: str) -> str:
    wanted = class_name.strip()
    if not wanted or not Patron.select().where(Patron.class_name == wanted).exists():
        raise UnknownClass(name=class_name)
    return wanted


def fmt_day(value: date | datetime | None) -> str:
    return value.strftime(DATE_FORMAT) if value else ""


# ----------------------------------------------------------------- periods


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive
    label: str

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end

    def utc_bounds(self, timezone: ZoneInfo) -> tuple[datetime, datetime]:
        """Naive UTC ``[start, stop)`` for stored timestamps, the period's days being local days."""
        def utc(day: date) -> datetime:
            local = datetime.combine(day, datetime.min.time(), tzinfo=timezone)
            return local.astimezone(UTC).replace(tzinfo=None)

        return utc(self.start), utc(self.end + timedelta(days=1))

    def months(self) -> list[tuple[int, int]]:
        result, year, month = [], self.start.year, self.start.month
        while (year, month) <= (self.end.year, self.end.month):
            result.append((year, month))
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return result


def _parse_day(value: str, hint: str) -> date:
    # dd/mm/yyyy as people write it in Vietnam, or yyyy-mm-dd: whatever a browser's locale shows.
    from ..spreadsheet import parse_date

    day = parse_date(value.strip())
    if day is None:
        raise BadPeriod(value=value, hint=hint)
    return day


def school_year_of(day: date) -> str:
    start_month, start_day = _year_start()
    first = day.year if (day.month, day.day) >= (start_month, start_day) else day.year - 1
    return f"{first}-{first + 1}"


def _year_start() -> tuple[int, int]:
    """The school year's first day as (month, day), setting ``school_year_start`` ("MM-DD")."""
    return stored_settings.read("school_year_start")


def school_year(label: str) -> Period:
    """2025-2026 → 1 Sep 2025 … 31 Aug 2026 (or from the ``school_year_start`` setting)."""
    hint = "YYYY-YYYY, 2025-2026"  # the hint goes into a message in the reader's language: keep it neutral
    parts = label.strip().split("-")
    if len(parts) != 2 or not all(p.isdigit() and len(p) == 4 for p in parts) or int(parts[1]) != int(parts[0]) + 1:
        raise BadPeriod(value=label, hint=hint)
    month, day = _year_start()
    start = date(int(parts[0]), month, day)
    end = date(int(parts[1]), month, day) - timedelta(days=1)
    return Period(start, end, label.strip())


def term(year: Period, number: int) -> Period:
    """Term 1 ends on the first of the ``term_ends`` setting (default 15 January); term 2 is the rest."""
    ends = sorted(
        d for d in stored_settings.read("term_ends") if year.contains(d)
    )
    first_end = ends[0] if ends else date(year.end.year, 1, 15)
    if number == 1:
        return Period(year.start, first_end, f"{year.label} HK1")
    if number == 2:
        second_end = ends[1] if len(ends) > 1 else year.end
        return Period(first_end + timedelta(days=1), second_end, f"{year.label} HK2")
    raise BadPeriod(value=str(number), hint="1, 2")


def month(label: str) -> Period:
    try:
        first = datetime.strptime(label.strip(), "%Y-%m").date()
    except ValueError as exc:
        raise BadPeriod(value=label, hint="YYYY-MM") from exc
    following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    return Period(first, following - timedelta(days=1), first.strftime("%m/%Y"))


def date_range(start: str, end: str) -> Period:
    first, last = _parse_day(start, "YYYY-MM-DD"), _parse_day(end, "YYYY-MM-DD")
    if last < first:
        raise BadPeriod(value=f"{start} … {end}", hint="YYYY-MM-DD ≤ YYYY-MM-DD")
    return Period(first, last, f"{fmt_day(first)} – {fmt_day(last)}")


# ----------------------------------------------------------------- writers


def write_xlsx(tables: Iterable[Table], out: IO[bytes] | str | Path, *, heading: str = "") -> None:
    """One sheet per table: the title in row 1, headers in row 2 (frozen, printed on every page)."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter

    book = Workbook()
    book.remove(book.active)
    thin = Side(style="thin", color="999999")
    for table in tables:
        sheet = book.create_sheet(table.name[:31])
        title = f"{heading} — {table.title}" if heading else table.title
        sheet.cell(row=1, column=1, value=title).font = Font(bold=True, size=13)
        for col, header in enumerate(table.headers, start=1):
            cell = sheet.cell(row=2, column=col, value=header)
            cell.font = Font(bold=True)
            cell.fill = PatternFill("solid", fgColor="DDE7F0")
            cell.alignment = Alignment(wrap_text=True, vertical="center")
            cell.border = Border(top=thin, bottom=thin, left=thin, right=thin)
        for r, row in enumerate(table.rows, start=3):
            for c, value in enumerate(row, start=1):
                cell = sheet.cell(row=r, column=c, value=value)
                if isinstance(value, str):
                    # openpyxl stores a text starting with "=" as a live formula: a reader named
                    # =HYPERLINK(…) would run in the teacher's Excel. Text stays text (OWASP CSV injection).
                    cell.data_type = "s"
                elif isinstance(value, datetime):
                    cell.number_format = "DD/MM/YYYY HH:MM"
                elif isinstance(value, date):
                    cell.number_format = "DD/MM/YYYY"
        if table.note:
            sheet.cell(row=len(table.rows) + 4, column=1, value=table.note).font = Font(italic=True)
        widths = table.widths or [1.0] * len(table.headers)
        scale = 100 / sum(widths)
        for col, width in enumerate(widths, start=1):
            sheet.column_dimensions[get_column_letter(col)].width = max(8, round(width * scale * 1.2))
        sheet.freeze_panes = "A3"
        sheet.print_title_rows = "2:2"
        sheet.page_setup.orientation = "landscape" if len(table.headers) > 6 else "portrait"
        sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
        sheet.page_setup.fitToWidth = 1
        sheet.page_setup.fitToHeight = 0
        sheet.sheet_properties.pageSetUpPr.fitToPage = True
    if not book.sheetnames:
        book.create_sheet("-")
    book.save(out)


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> str:
    """A cell as CSV text; a text Excel would read as a formula (= + - @, tab, CR first) gets a leading
    apostrophe, so a name like =HYPERLINK(…) stays a name (OWASP CSV injection). Numbers stay numbers."""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return "" if value is None else str(value)


def write_csv(table: Table, out: IO[str]) -> None:
    """UTF-8 with a BOM by the caller, so Excel opens Vietnamese text correctly."""
    writer = csv.writer(out)
    writer.writerow([csv_cell(header) for header in table.headers])
    for row in table.rows:
        writer.writerow([csv_cell(value) for value in row])


def csv_bytes(table: Table) -> bytes:
    buffer = io.StringIO()
    write_csv(table, buffer)
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def local_day(moment: datetime, timezone: ZoneInfo) -> date:
    """The local calendar day of a stored naive-UTC timestamp."""
    return moment.replace(tzinfo=UTC).astimezone(timezone).date()
