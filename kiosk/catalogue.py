"""Tra cứu — the public catalogue search on the kiosk: which titles match, how many copies are on
the shelf and where the copies are (a shelf of the main library, a class library, on loan until a
date). Never who has a copy: the screen is public.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date

from .codes import BadCheckDigit, book_number
from .errors import N_, BadInput
from .importer import fold
from .models import Copy, Loan, Title

SEARCH_RESULTS = 20
MAX_QUERY = 100


class QueryTooLong(BadInput):
    code = "query_too_long"
    message = N_("Please type a shorter search (a few words of the title or the author).")

# Copies a reader can't find on any shelf are left out of "where"; lost ones were never there.
HIDDEN_STATUSES = ("lost", "withdrawn")


@dataclass(frozen=True)
class Place:
    location: str  # "main" or a class library ("lop-6A1")
    shelf: str
    status: str  # available | on_loan | not_for_loan | damaged
    count: int
    due: date | None = None  # the earliest due date of the copies on loan here


@dataclass(frozen=True)
class TitleResult:
    title: str
    author: str
    isbn: str | None
    available: int
    places: tuple[Place, ...]
    item: str | None = None  # a label of one of its copies: how a reservation names the title


def _matches(key: str, title: Title) -> bool:
    return key in fold(title.title) or key in fold(title.author) or bool(title.isbn and key in title.isbn)


def search(text: str, limit: int = SEARCH_RESULTS) -> list[TitleResult]:
    """Titles whose title, author or ISBN contains ``text``, ignoring case, spaces and Vietnamese
    diacritics ("de men" finds "Dế Mèn"); an ISBN typed with dashes or scanned from a cover works too."""
    if len(text) > MAX_QUERY:
        raise QueryTooLong()
    try:
        isbn = book_number(text.strip())
    except BadCheckDigit:  # an ISBN typed with a wrong digit: search the digits as typed
        isbn = None
    key = isbn or fold(text)
    if len(key) < 2:
        return []
    titles = [t for t in Title.select(Title.id, Title.title, Title.author, Title.isbn) if _matches(key, t)]
    # Titles starting with the words typed first, then the rest alphabetically.
    titles.sort(key=lambda t: (not fold(t.title).startswith(key), fold(t.title)))
    titles = titles[:limit]
    if not titles:
        return []
    copies = list(
        Copy.select(Copy.id, Copy.title, Copy.location, Copy.shelf, Copy.status, Copy.code)
        .where(Copy.title.in_([t.id for t in titles]) & Copy.status.not_in(HIDDEN_STATUSES))
        .tuples()
    )
    dues = dict(
        Loan.select(Loan.copy, Loan.due)
        .where(Loan.copy.in_([c[0] for c in copies]) & Loan.is_open())
        .tuples()
    ) if copies else {}
    by_title: dict[int, list[tuple]] = {}
    labels: dict[int, str] = {}
    for copy_id, title_id, location, shelf, status, code in copies:
        by_title.setdefault(title_id, []).append((location, shelf, status, dues.get(copy_id)))
        labels[title_id] = min(code, labels.get(title_id, code))
    return [_result(t, by_title.get(t.id, []), labels.get(t.id)) for t in titles]


def _result(title: Title, copies: list[tuple], item: str | None = None) -> TitleResult:
    counts = Counter((location, shelf if status != "on_loan" else "", status) for location, shelf, status, _ in copies)
    earliest: dict[tuple, date] = {}
    for location, _shelf, status, due in copies:
        if status == "on_loan" and due is not None:
            place = (location, "", status)
            earliest[place] = min(due, earliest.get(place, due))
    order = {"available": 0, "not_for_loan": 1, "on_loan": 2, "damaged": 3}
    places = sorted(
        (Place(location, shelf, status, count, earliest.get((location, shelf, status)))
         for (location, shelf, status), count in counts.items()),
        key=lambda p: (order.get(p.status, 9), p.location != "main", p.location, p.shelf),
    )
    available = sum(p.count for p in places if p.status == "available")
    return TitleResult(title.title, title.author, title.isbn, available, tuple(places), item)
