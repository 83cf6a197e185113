"""The registers a school library keeps, as xlsx and landscape A4 PDF.

- Sổ đăng ký cá biệt (accession register): one line per copy in accession order, per prefix.
- Sổ mượn (loan book): every loan of a period, students and teachers apart.
- Sổ đăng ký tổng quát (general register), yearly summary: stock at the start, copies received,
  copies withdrawn with their reasons, stock at the end, and the year's stock-takes.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from datetime import date, timedelta
from typing import IO
from zoneinfo import ZoneInfo

from ..errors import N_
from ..models import Copy, Loan, LoanNote, Patron, StocktakeSession, Title
from ..rules import OVERRIDABLE, OVERRIDE_REASON_WORDS
from ..vocabulary import CATEGORIES
from .common import Period, ReportError, Table, fmt_day, local_day, school_name, translator, write_xlsx
from .labels import accession_key
from .stats import CATEGORY_LABELS, STATUS_LABELS, STUDENT_KINDS, withdrawal_facts

FORMATS = ("xlsx", "pdf")
KINDS = ("accession", "loans", "general")
FILE_NAMES = {"accession": "so-dang-ky-ca-biet", "loans": "so-muon", "general": "so-dang-ky-tong-quat"}
Progress = Callable[[int], None]


class UnknownRegister(ReportError):
    code = "unknown_register"
    message = N_("Unknown register '%(kind)s': use accession, loans or general.")


def check_kind(kind: str) -> str:
    wanted = kind.strip().lower()
    if wanted not in KINDS:
        raise UnknownRegister(kind=kind)
    return wanted


def prefix_of(code: str) -> str:
    """TN-0012 → TN-: the letters before the number (empty for a bare number)."""
    return re.match(r"^\D*", code)[0]


# ----------------------------------------------------------------- accession register


def accession_register(timezone: ZoneInfo, lang: str, prefix: str | None = None) -> list[Table]:
    _ = translator(lang)
    withdrawn = withdrawal_facts(timezone)
    copies = sorted(Copy.select(Copy, Title).join(Title), key=lambda c: accession_key(c.code))
    groups: dict[str, list[Copy]] = {}
    for copy in copies:
        groups.setdefault(prefix_of(copy.code), []).append(copy)
    if prefix:
        wanted = prefix.strip().upper()
        groups = {key: value for key, value in groups.items() if key.upper().rstrip("-") == wanted.rstrip("-")}
    headers = [_("No."), _("Date received"), _("Accession no."), _("Title"), _("Author"), _("Publisher"),
               _("Year"), _("Price (VND)"), _("Classification"), _("Withdrawal / note")]
    tables = []
    for key, group in groups.items():
        rows = []
        for number, copy in enumerate(group, start=1):
            rows.append([number, copy.added_on, copy.code, copy.title.title, copy.title.author,
                         copy.title.publisher, copy.title.year, copy.price, copy.title.classification,
                         _copy_note(copy, withdrawn.get(copy.code), lang)])
        label = key.rstrip("-") or _("(no prefix)")
        tables.append(Table(
            name=label, title=_("Accession register — %(prefix)s", prefix=label), headers=headers, rows=rows,
            widths=[6, 11.5, 11, 28, 16, 13, 6.5, 10, 11, 22],
        ))
    return tables


def _copy_note(copy: Copy, withdrawal: tuple[date, str] | None, lang: str) -> str:
    """What the register's last column says about a copy that left the shelves for good (or may have)."""
    _ = translator(lang)
    if copy.status == "withdrawn":
        day, fact_note = withdrawal or (None, "")
        note = copy.status_note or fact_note
        when = f" {fmt_day(day)}" if day else ""
        return _("Withdrawn%(when)s: %(note)s", when=when, note=note) if note else _("Withdrawn%(when)s",
                                                                                     when=when)
    if copy.status in ("lost", "damaged"):
        label = _(STATUS_LABELS[copy.status])
        return f"{label}: {copy.status_note}" if copy.status_note else label
    return copy.status_note


# ----------------------------------------------------------------- loan book


def loan_book(period: Period, timezone: ZoneInfo, lang: str) -> list[Table]:
    _ = translator(lang)
    start, stop = period.utc_bounds(timezone)
    loans = (
        Loan.select(Loan, Copy, Title, Patron)
        .join(Copy).join(Title).switch(Loan).join(Patron)
        .where((Loan.checked_out_at >= start) & (Loan.checked_out_at < stop))
        .order_by(Loan.checked_out_at, Loan.id)
    )
    headers = [_("No."), _("Checkout date"), _("Reader code"), _("Name"), _("Class"), _("Accession no."),
               _("Title"), _("Due date"), _("Returned on"), _("Note")]
    students: list[list] = []
    teachers: list[list] = []
    loans = list(loans)
    # The desk's notes are few (overrides, lost books): all of them, not an IN over a year's loans.
    notes = {(note.loan, note.kind): note.details for note in LoanNote.select()}
    for loan in loans:
        book = students if loan.patron.kind in STUDENT_KINDS else teachers
        returned = local_day(loan.returned_at, timezone) if loan.returned_at else None
        lines = []
        if loan.renewals:
            lines.append(_("renewed %(count)s×", count=loan.renewals))
        if returned and returned > loan.due:
            lines.append(_("%(days)s days late", days=(returned - loan.due).days))
        lines.extend(desk_notes(notes.get((loan.uuid, "override")), notes.get((loan.uuid, "settle")), _))
        book.append([len(book) + 1, local_day(loan.checked_out_at, timezone), loan.patron.code, loan.patron.name,
                     loan.patron.class_name, loan.copy.code, loan.copy.title.title, loan.due, returned,
                     "; ".join(lines)])
    widths = [6, 11, 10, 20, 7, 11, 27, 11, 11, 14]
    return [
        Table(name=_("Students"), title=_("Loan book — students — %(period)s", period=period.label),
              headers=headers, rows=students, widths=widths),
        Table(name=_("Teachers"), title=_("Loan book — teachers — %(period)s", period=period.label),
              headers=headers, rows=teachers, widths=widths),
    ]


def desk_notes(override: dict | None, settle: dict | None, _: Callable[..., str]) -> list[str]:
    """The librarian's notes on a loan, for the loan book: an override, a lost book made good."""
    lines = []
    if override:
        lines.append(_("lent despite the rules (%(refusal)s): %(reason)s",
                       refusal=_(OVERRIDABLE.get(override["refusal"], override["refusal"])),
                       reason=_(OVERRIDE_REASON_WORDS.get(override["reason"], override["reason"]))))
    if settle:
        status = _(STATUS_LABELS.get(settle.get("status"), STATUS_LABELS["lost"]))
        if settle.get("how") == "paid":
            lines.append(_("%(status)s, paid %(amount)s đ", status=status, amount=format(settle["amount"], ",").replace(",", ".")))
        elif settle.get("how") == "replaced":
            lines.append(_("%(status)s, replaced by %(copy)s", status=status, copy=settle.get("replacement")))
        else:
            lines.append(_("%(status)s, still owed", status=status))
    return lines




# ----------------------------------------------------------------- general register


def general_register(period: Period, timezone: ZoneInfo, lang: str) -> list[Table]:
    """The year in the general register: what came in, what went out and why, and the stock-takes."""
    _ = translator(lang)
    copies = list(Copy.select(Copy, Title).join(Title))
    withdrawn = withdrawal_facts(timezone)
    # A withdrawn copy with no dated fact (imported that way) left before any year we can report on.
    left_on = {c.code: (withdrawn[c.code][0] if c.code in withdrawn else date.min)
               for c in copies if c.status == "withdrawn"}
    categories = [c for c in CATEGORIES if any(copy.title.category == c for copy in copies)]
    category_headers = [_(CATEGORY_LABELS[c]) for c in categories]

    def held_on(day: date) -> Counter:
        """Copies on the books at the end of ``day`` by category (received, not yet withdrawn)."""
        return Counter(c.title.category for c in copies
                       if (c.added_on is None or c.added_on <= day) and left_on.get(c.code, date.max) > day)

    def value(group: list[Copy]) -> int:
        return sum(c.price or 0 for c in group)

    received: dict[date, list[Copy]] = {}
    for copy in copies:
        if copy.added_on and period.contains(copy.added_on):
            received.setdefault(copy.added_on, []).append(copy)
    receipt_rows = []
    for day in sorted(received):
        group = received[day]
        counts = Counter(c.title.category for c in group)
        receipt_rows.append([day, *[counts[c] for c in categories], len(group), value(group)])
    all_received = [c for group in received.values() for c in group]
    totals = Counter(c.title.category for c in all_received)
    receipt_rows.append([_("Total"), *[totals[c] for c in categories], len(all_received), value(all_received)])

    went: dict[tuple[date, str], list[Copy]] = {}
    for copy in copies:
        day = left_on.get(copy.code)
        if day and period.contains(day):
            reason = (copy.status_note or withdrawn[copy.code][1]).strip() or _("(no reason noted)")
            went.setdefault((day, reason), []).append(copy)
    withdrawal_rows = []
    for (day, reason) in sorted(went):
        group = went[(day, reason)]
        counts = Counter(c.title.category for c in group)
        withdrawal_rows.append([day, reason, *[counts[c] for c in categories], len(group), value(group)])
    all_went = [c for group in went.values() for c in group]
    went_totals = Counter(c.title.category for c in all_went)
    withdrawal_rows.append([_("Total"), "", *[went_totals[c] for c in categories], len(all_went), value(all_went)])

    before, after = held_on(period.start - timedelta(days=1)), held_on(period.end)
    balance_rows = [
        [_("On the books at the start of the period"), *[before[c] for c in categories], sum(before.values())],
        [_("Received"), *[totals[c] for c in categories], len(all_received)],
        [_("Withdrawn"), *[went_totals[c] for c in categories], len(all_went)],
        [_("On the books at the end of the period"), *[after[c] for c in categories], sum(after.values())],
    ]
    tables = [
        Table(name=_("Balance"), title=_("General register — %(period)s — balance", period=period.label),
              headers=["", *category_headers, _("Total")], rows=balance_rows,
              widths=[30, *[12] * len(categories), 12]),
        Table(name=_("Received"), title=_("Part I — copies received"),
              headers=[_("Date received"), *category_headers, _("Copies"), _("Value (VND)")], rows=receipt_rows,
              widths=[14, *[12] * len(categories), 10, 14]),
        Table(name=_("Withdrawn"), title=_("Part II — copies withdrawn, by reason"),
              headers=[_("Date withdrawn"), _("Reason"), *category_headers, _("Copies"), _("Value (VND)")],
              rows=withdrawal_rows, widths=[14, 24, *[12] * len(categories), 10, 14]),
        stocktake_table(period, timezone, lang),
    ]
    return tables


def stocktake_table(period: Period, timezone: ZoneInfo, lang: str) -> Table:
    """Part III: the stock-takes finished in the period, from their frozen results."""
    _ = translator(lang)

    start, stop = period.utc_bounds(timezone)
    sessions = StocktakeSession.select().where(
        StocktakeSession.finished_at.is_null(False) & (StocktakeSession.finished_at >= start)
        & (StocktakeSession.finished_at < stop)).order_by(StocktakeSession.finished_at)
    rows = []
    for session in sessions:
        result = session.result or {}
        scope = session.location or _("Whole library")
        if session.shelf_from or session.shelf_to:
            scope += f" ({session.shelf_from}–{session.shelf_to})"
        rows.append([local_day(session.finished_at, timezone), scope,
                     *[len(result.get(name, [])) for name in
                       ("expected", "present", "missing", "seen_on_loan", "misplaced", "unknown")]])
    return Table(
        name=_("Stock-take"), title=_("Part III — stock-takes"),
        headers=[_("Finished on"), _("Scope"), _("Expected"), _("Present"), _("Missing"), _("Seen on loan"),
                 _("Misplaced"), _("Unknown codes")],
        rows=rows, widths=[12, 24, 10, 10, 10, 12, 10, 12],
        note="" if rows else _("No stock-take was finished in this period."),
    )


# ----------------------------------------------------------------- output

TITLES = {
    "accession": N_("Accession register"),
    "loans": N_("Loan book"),
    "general": N_("General register"),
}


def build(kind: str, period: Period, timezone: ZoneInfo, lang: str, *, prefix: str | None = None) -> list[Table]:
    if kind == "accession":
        return accession_register(timezone, lang, prefix)
    if kind == "loans":
        return loan_book(period, timezone, lang)
    return general_register(period, timezone, lang)


def write(fmt: str, out: IO[bytes], kind: str, tables: list[Table], period: Period, lang: str, *,
          progress: Progress | None = None) -> None:
    _ = translator(lang)
    title = _(TITLES[kind])
    if fmt == "xlsx":
        write_xlsx(tables, out)
        return
    from .pdf import write_tables_pdf

    school = school_name()
    subtitle = school if kind == "accession" else f"{school} · {period.label}".strip(" ·")
    write_tables_pdf(out, title.upper(), subtitle, tables, footer=f"{title} — {school}".strip(" —"),
                     progress=progress)
