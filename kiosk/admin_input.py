"""Checking what the librarian typed into the policy, calendar and patron forms.

Pure: plain values in, typed values out, or :class:`InvalidForm` listing every
problem (each a translatable message), so the form comes back with all of them at once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from sync.schema import POLICY_LIMITS

from .errors import N_, BadInput, MuontraError
from .i18n import DEFAULT_LANGUAGE, translate
from .importer import normalize_isbn
from .rules import Rule
from .spreadsheet import parse_date
from .vocabulary import CATEGORIES, MAIN_LIBRARY, PATRON_KINDS

DUE_MODES = ("days", "term_end", "year_end")
ANY = "*"
LIMITS = POLICY_LIMITS  # the server refuses a policy beyond them: the form says so first


FIELD_WORDS = {
    "patron_kind": N_("Reader"), "category": N_("Category"), "max_loans": N_("Max. books"),
    "loan_days": N_("Loan days"), "max_renewals": N_("Renewals"), "due_mode": N_("Due"),
    "name": N_("Full name"), "kind": N_("Kind"), "code": N_("Card code"), "title": N_("Title"),
    "item": N_("Label"),
}


class FormProblem(MuontraError):
    code = "form_problem"

    def message_in(self, lang: str = DEFAULT_LANGUAGE) -> str:
        # Name the field as the form labels it, in the librarian's language.
        params = dict(self.params)
        if "field" in params:
            params["field"] = translate(FIELD_WORDS.get(params["field"], params["field"]), lang)
        return translate(self.message, lang, **params)


class NotANumber(FormProblem):
    message = N_("Row %(row)s: '%(field)s' must be a whole number from 0 to %(most)s.")


class UnknownChoice(FormProblem):
    message = N_("Row %(row)s: '%(value)s' is not a valid choice for '%(field)s'.")


class DuplicateRule(FormProblem):
    message = N_("Row %(row)s: there is already a rule for %(kind)s × %(category)s.")


class NoGeneralRule(FormProblem):
    message = N_("There must be a rule for every kind of reader with category '*' (all other books).")


class BadDay(FormProblem):
    message = N_("Line %(row)s: '%(value)s' is not a date. Write it as dd/mm/yyyy, e.g. 29/01/2026.")


class BadRange(FormProblem):
    message = N_("Line %(row)s: the range ends before it starts.")


class RangeTooLong(FormProblem):
    message = N_("Line %(row)s: a closed period may be at most 60 days long.")


class BadWeekday(FormProblem):
    message = N_("'%(value)s' is not a day of the week.")


class AllWeekdaysClosed(FormProblem):
    message = N_("The library cannot be closed on every day of the week.")


class BadIsbn(FormProblem):
    message = N_("'%(value)s' is not a valid ISBN (check the digits).")


class BadYearValue(FormProblem):
    message = N_("'%(value)s' is not a year.")


class MissingField(FormProblem):
    message = N_("'%(field)s' must be filled in.")


class InvalidForm(BadInput):
    code = "invalid_form"
    message = N_("Please correct the problems below; nothing was saved.")

    def __init__(self, problems: list[FormProblem]) -> None:
        self.problems = problems
        super().__init__()

    def problems_in(self, lang: str) -> list[str]:
        return [problem.message_in(lang) for problem in self.problems]


# ---------------------------------------------------------------- policy

RULE_FIELDS = ("patron_kind", "category", "max_loans", "loan_days", "max_renewals", "due_mode", "loanable")


def _whole_number(text: str, row: int, name: str, problems: list[FormProblem]) -> int:
    text = (text or "").strip()
    if text.isdigit() and int(text) <= LIMITS[name]:
        return int(text)
    problems.append(NotANumber(row=row, field=name, most=LIMITS[name]))
    return 0


def parse_policy(rows: list[Mapping[str, str]]) -> list[Rule]:
    """Rows of the policy table (strings from the form) → rules. Blank and deleted rows are skipped."""
    problems: list[FormProblem] = []
    rules: list[Rule] = []
    seen: set[tuple[str, str]] = set()
    for number, row in enumerate(rows, start=1):
        if row.get("delete") or not (row.get("patron_kind") or "").strip():
            continue
        kind, category = row["patron_kind"].strip(), (row.get("category") or "").strip()
        due_mode = (row.get("due_mode") or "days").strip()
        for name, value, allowed in (("patron_kind", kind, (*PATRON_KINDS, ANY)),
                                     ("category", category, (*CATEGORIES, ANY)),
                                     ("due_mode", due_mode, DUE_MODES)):
            if value not in allowed:
                problems.append(UnknownChoice(row=number, field=name, value=value))
        numbers = {name: _whole_number(row.get(name, ""), number, name, problems) for name in LIMITS}
        if (kind, category) in seen:
            problems.append(DuplicateRule(row=number, kind=kind, category=category))
        seen.add((kind, category))
        rules.append(Rule(kind, category, due_mode=due_mode, loanable=bool(row.get("loanable")), **numbers))
    kinds = {rule.patron_kind for rule in rules}
    if any((kind, ANY) not in seen for kind in kinds) and (ANY, ANY) not in seen:
        problems.append(NoGeneralRule())
    if problems:
        raise InvalidForm(problems)
    return rules


# ---------------------------------------------------------------- calendar


@dataclass(frozen=True)
class CalendarInput:
    closed_weekdays: tuple[int, ...]
    closed_days: tuple[tuple[date, str], ...]
    term_ends: tuple[date, ...]
    year_end: date | None


MAX_CLOSED_RANGE = 60


def _day(text: str, row: int, problems: list[FormProblem]) -> date | None:
    found = parse_date(text.strip())
    if found is None:
        problems.append(BadDay(row=row, value=text.strip()))
    return found


_DATE = r"\d{1,4}[/.\-]\d{1,2}[/.\-]\d{1,4}"
_CLOSED_LINE = re.compile(rf"({_DATE})(?:\s*[-–]\s*({_DATE}))?\s*(.*)")


def parse_closed_days(text: str, problems: list[FormProblem]) -> list[tuple[date, str]]:
    """One closed day or period per line: "29/01/2026 Tết", "16/02/2026 - 22/02/2026 Nghỉ Tết"."""
    days: dict[date, str] = {}
    for row, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        match = _CLOSED_LINE.fullmatch(line)
        if match is None:
            problems.append(BadDay(row=row, value=line.split()[0]))
            continue
        start = _day(match.group(1), row, problems)
        end = _day(match.group(2), row, problems) if match.group(2) else start
        if start is None or end is None:
            continue
        if end < start:
            problems.append(BadRange(row=row))
        elif (end - start).days >= MAX_CLOSED_RANGE:
            problems.append(RangeTooLong(row=row))
        else:
            for offset in range((end - start).days + 1):
                days[start + timedelta(days=offset)] = match.group(3).strip()
    return sorted(days.items())


def parse_calendar(form: Mapping[str, object]) -> CalendarInput:
    """``form``: closed_weekdays (list of "0".."6"), closed_days (text), term_ends (list), year_end."""
    problems: list[FormProblem] = []
    weekdays = set()
    for value in form.get("closed_weekdays", []) or []:
        if str(value) in {str(n) for n in range(7)}:
            weekdays.add(int(value))
        else:
            problems.append(BadWeekday(value=value))
    if len(weekdays) == 7:
        problems.append(AllWeekdaysClosed())
    closed = parse_closed_days(str(form.get("closed_days", "") or ""), problems)
    term_ends = []
    for index, value in enumerate(form.get("term_ends", []) or [], start=1):
        if str(value).strip():
            found = _day(str(value), index, problems)
            if found:
                term_ends.append(found)
    year_end = None
    if str(form.get("year_end", "") or "").strip():
        year_end = _day(str(form["year_end"]), 1, problems)
    if problems:
        raise InvalidForm(problems)
    return CalendarInput(tuple(sorted(weekdays)), tuple(closed), tuple(sorted(set(term_ends))), year_end)


# ---------------------------------------------------------------- patrons


@dataclass(frozen=True)
class PatronInput:
    code: str
    name: str
    class_name: str
    kind: str
    school_year: str
    active: bool


def parse_patron(form: Mapping[str, str], code: str) -> PatronInput:
    problems: list[FormProblem] = []
    name = " ".join((form.get("name") or "").split())
    if not name:
        problems.append(MissingField(field="name"))
    kind = (form.get("kind") or "").strip()
    if kind not in PATRON_KINDS:
        problems.append(UnknownChoice(row=1, field="kind", value=kind))
    if not code:
        problems.append(MissingField(field="code"))
    if problems:
        raise InvalidForm(problems)
    return PatronInput(code, name, (form.get("class_name") or "").strip().upper(), kind,
                       (form.get("school_year") or "").strip(), bool(form.get("active")))


# ---------------------------------------------------------------- copies


@dataclass(frozen=True)
class CopyInput:
    item: str
    title: str
    isbn: str | None
    author: str
    publisher: str
    year: int | None
    category: str
    classification: str
    location: str
    shelf: str


def parse_copy(form: Mapping[str, str], item: str) -> CopyInput:
    """The copy form: one copy (its label) and the title it is a copy of."""
    problems: list[FormProblem] = []
    text = {name: " ".join((form.get(name) or "").split()) for name in (
        "title", "isbn", "author", "publisher", "year", "category", "classification", "location", "shelf")}
    if not item:
        problems.append(MissingField(field="item"))
    if not text["title"]:
        problems.append(MissingField(field="title"))
    if text["category"] not in CATEGORIES:
        problems.append(UnknownChoice(row=1, field="category", value=text["category"]))
    isbn = None
    if text["isbn"]:
        try:
            isbn = normalize_isbn(text["isbn"])
        except ValueError:
            problems.append(BadIsbn(value=text["isbn"]))
    year = None
    if text["year"]:
        if text["year"].isdigit() and 1000 <= int(text["year"]) <= 2100:
            year = int(text["year"])
        else:
            problems.append(BadYearValue(value=text["year"]))
    if problems:
        raise InvalidForm(problems)
    return CopyInput(item, text["title"], isbn, text["author"], text["publisher"], year, text["category"],
                     text["classification"], text["location"] or MAIN_LIBRARY, text["shelf"])
