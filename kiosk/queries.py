"""Read-only queries for the librarian's pages (never used on the public screen)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from peewee import fn

from .importer import fold
from .models import ClosedDay, Copy, Loan, Patron, Title
from .services import open_loan_of, open_loans_of

SEARCH_LIMIT = 50


@dataclass(frozen=True)
class LoanLine:
    item: str
    title: str
    checked_out_at: date
    due: date
    renewals: int
    overdue_days: int


@dataclass(frozen=True)
class CopyLine:
    code: str
    title: str
    author: str
    category: str
    location: str
    status: str


@dataclass(frozen=True)
class Counts:
    patrons: int
    copies: int
    open_loans: int
    overdue: int


def search_patrons(text: str, limit: int = SEARCH_LIMIT) -> list[Patron]:
    """Patrons whose code, name or class contains ``text``, without minding case or diacritics
    (a librarian types "nguyen van an" for "Nguyễn Văn An"); the exact code comes first."""
    key = fold(text)
    if not key:
        return []
    found = [p for p in Patron.select() if key in fold(p.code) or key in fold(p.name)
             or key == fold(p.class_name)]
    exact = text.strip().upper()
    return sorted(found, key=lambda p: (p.code != exact, p.class_name, p.name))[:limit]


def search_copies(text: str, limit: int = SEARCH_LIMIT) -> list[CopyLine]:
    """Copies whose label, title, author or ISBN contains ``text`` (case and diacritics ignored)."""
    key = fold(text)
    if not key:
        return []
    titles = [t.id for t in Title.select(Title.id, Title.title, Title.author, Title.isbn)
              if key in fold(t.title) or key in fold(t.author) or (t.isbn and key == fold(t.isbn))]
    by_code = Copy.code.contains(text.strip().upper())
    condition = (by_code | Copy.title.in_(titles)) if titles else by_code
    rows = Copy.select(Copy, Title).join(Title).where(condition).order_by(Copy.code).limit(limit)
    return [_copy_line(copy) for copy in rows]


def _copy_line(copy: Copy) -> CopyLine:
    return CopyLine(copy.code, copy.title.title, copy.title.author, copy.title.category, copy.location,
                    copy.status)


def loans_of(patron: Patron, today: date) -> list[LoanLine]:
    return [
        LoanLine(loan.copy.code, loan.copy.title.title, loan.checked_out_at.date(), loan.due, loan.renewals,
                 max(0, (today - loan.due).days))
        for loan in open_loans_of(patron)
    ]


def find_copy(code: str) -> Copy | None:
    return Copy.select(Copy, Title).join(Title).where(Copy.code == code).first()


def borrower_of(copy: Copy) -> Patron | None:
    loan = open_loan_of(copy)
    return loan.patron if loan else None


def open_loan_line(copy: Copy, today: date) -> LoanLine | None:
    loan = open_loan_of(copy)
    if loan is None:
        return None
    return LoanLine(copy.code, copy.title.title, loan.checked_out_at.date(), loan.due, loan.renewals,
                    max(0, (today - loan.due).days))


def counts(today: date) -> Counts:
    open_loans = Loan.select().where(Loan.is_open())
    return Counts(
        patrons=Patron.select().where(Patron.active).count(),
        copies=Copy.select().count(),
        open_loans=open_loans.count(),
        overdue=open_loans.where(Loan.due < today).count(),
    )


def closed_days() -> list[ClosedDay]:
    # A day that isn't a date (stored by an old version or pulled) can't be shown or kept: it is skipped.
    return [row for row in ClosedDay.select().order_by(ClosedDay.day) if isinstance(row.day, date)]


@dataclass(frozen=True)
class ClassOverdue:
    class_name: str
    students: int
    books: int


def overdue_by_class(today: date) -> list[ClassOverdue]:
    """Classes with overdue books, for the librarian to hand each homeroom teacher their list."""
    rows = (
        Loan.select(Patron.class_name, fn.COUNT(fn.DISTINCT(Patron.id)), fn.COUNT(Loan.id))
        .join(Patron)
        .where(Loan.is_open() & (Loan.due < today) & (Patron.class_name != ""))
        .group_by(Patron.class_name)
        .order_by(Patron.class_name)
        .tuples()
    )
    return [ClassOverdue(name, students, books) for name, students, books in rows]
