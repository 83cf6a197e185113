"""Pure decisions for the workflows: no Flask, no database, no clock.

The service layer loads plain values, asks these functions, and records the facts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from ..errors import N_, MuontraError
from ..vocabulary import MAIN_LIBRARY

CLASS_LIBRARY_PREFIX = "lop-"
DEFAULT_PREFIXES: Mapping[str, str] = {"SGK-": "SGK", "STK-": "STK", "SNV-": "SNV", "TN-": "TN"}
ACCESSION_DIGITS = 4


class WorkflowError(MuontraError):
    code = "workflow"
    http_status = 409


class NotAHelper(WorkflowError):
    code = "not_a_helper"
    message = N_("This card is not a library helper's card.")
    http_status = 403


class StaffOnly(WorkflowError):
    code = "staff_only"
    message = N_("Please scan a helper card or sign in as the librarian first.")
    http_status = 401


class LibrarianOnly(WorkflowError):
    code = "librarian_only"
    message = N_("Only the librarian can do this.")
    http_status = 403


class NotATeacher(WorkflowError):
    code = "not_a_teacher"
    message = N_("%(code)s is not a teacher's card.")


class BadClassName(WorkflowError):
    code = "bad_class_name"
    message = N_("Please give the class, for example 6A1.")


class DueInThePast(WorkflowError):
    code = "due_in_the_past"
    message = N_("The return date must be after today.")


class UnknownBatch(WorkflowError):
    code = "unknown_batch"
    message = N_("There is no such rotation batch.")
    http_status = 404


class BatchClosed(WorkflowError):
    code = "batch_closed"
    message = N_("This batch has already come back and is closed.")


class CopyAlreadyOut(WorkflowError):
    code = "copy_already_out"
    message = N_("%(item)s is already out with the class library %(location)s.")


class CopyNotOnShelf(WorkflowError):
    code = "copy_not_on_shelf"
    message = N_("%(item)s is not on the shelf (on loan, lost, damaged or withdrawn), so it cannot go to a class library.")


class CoverIsbn(WorkflowError):
    # Same code as the kiosk's rules.AmbiguousIsbn: one instruction, "scan the label".
    code = "scan_label"
    aliases = ("scan_the_label",)
    message = N_("That is a cover ISBN, not a copy. Please scan the library label.")


class UnknownCopy(WorkflowError):
    code = "unknown_copy"
    message = N_("%(item)s is not in the catalogue.")
    http_status = 404


class NothingToUndo(WorkflowError):
    code = "nothing_to_undo"
    message = N_("There is no scan to undo.")


class UnknownSession(WorkflowError):
    code = "unknown_stocktake"
    message = N_("There is no such stock-take.")
    http_status = 404


class SessionFinished(WorkflowError):
    code = "stocktake_finished"
    message = N_("This stock-take is finished; open a new one to scan again.")


class BadPrefix(WorkflowError):
    code = "bad_prefix"
    message = N_("Unknown collection prefix %(prefix)s. Known: %(known)s.")


class BadCount(WorkflowError):
    code = "bad_count"
    message = N_("The number of copies must be between 1 and %(most)s.")


class TitleNeeded(WorkflowError):
    code = "title_needed"
    message = N_("This ISBN is not in the catalogue yet: please type the title once.")


class NotAnIsbn(WorkflowError):
    code = "not_an_isbn"
    message = N_("That is not an ISBN. Scan the barcode on the back cover, or leave it empty.")


# ---------------------------------------------------------------- places


def class_library(class_name: str) -> str:
    """The location code of a class's library: 6A1 → lop-6A1."""
    name = class_name.strip().upper()
    if not re.fullmatch(r"[0-9]{1,2}[A-Z][0-9A-Z]{0,3}", name):
        raise BadClassName()
    return CLASS_LIBRARY_PREFIX + name


def location_label(location: str | None, lang: str) -> str:
    """A location as people say it: "Thư viện lớp 6A1", "Thư viện chính"."""
    from ..i18n import translate

    if location is None:
        return translate(N_("Whole collection"), lang)
    if location == MAIN_LIBRARY:
        return translate(N_("Main library"), lang)
    if location.startswith(CLASS_LIBRARY_PREFIX):
        return translate(N_("Class library %(class_name)s"), lang, class_name=location[len(CLASS_LIBRARY_PREFIX):])
    return location


@lru_cache(maxsize=4096)
def shelf_key(shelf: str) -> tuple:
    """Natural order of shelf marks: A2 before A10 (cached: a library has few shelves, many books)."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", shelf.upper()) if part)


@dataclass(frozen=True)
class Scope:
    """What a stock-take covers: a location (None: all) and an optional shelf range."""

    location: str | None = None
    shelf_from: str = ""
    shelf_to: str = ""

    def covers(self, location: str, shelf: str) -> bool:
        if self.location is not None and location != self.location:
            return False
        if self.shelf_from and shelf_key(shelf) < shelf_key(self.shelf_from):
            return False
        if self.shelf_to and shelf_key(shelf) > shelf_key(self.shelf_to):
            return False
        return True


# ---------------------------------------------------------------- rotation


@dataclass(frozen=True)
class CopyState:
    code: str
    location: str
    shelf: str
    status: str
    on_loan: bool = False
    batch: str | None = None  # uuid of the batch it is out with, if any


def check_can_rotate(copy: CopyState) -> None:
    if copy.batch is not None:
        raise CopyAlreadyOut(item=copy.code, location=copy.location)
    if copy.on_loan or copy.status != "available":
        raise CopyNotOnShelf(item=copy.code)


def classify_return(copy: CopyState | None, batch: str, already_returned: bool) -> str:
    """What a scan at the batch return desk means.

    returned: it belongs to this batch; again: it was already scanned back;
    other_batch: it is out with another class; not_in_batch: it belongs elsewhere;
    unknown: not in the catalogue.
    """
    if copy is None:
        return "unknown"
    if copy.batch == batch:
        return "returned"
    if already_returned:
        return "again"
    if copy.batch is not None:
        return "other_batch"
    return "not_in_batch"


# ---------------------------------------------------------------- stock-take


@dataclass(frozen=True)
class StocktakeCopy:
    code: str
    title: str
    location: str
    shelf: str
    status: str
    on_loan: bool


@dataclass
class StocktakeResult:
    expected: list[str] = field(default_factory=list)  # in scope and should be on the shelf
    present: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    seen_on_loan: list[str] = field(default_factory=list)
    misplaced: list[str] = field(default_factory=list)
    found_lost: list[str] = field(default_factory=list)  # had been marked lost, now seen
    unknown: list[str] = field(default_factory=list)

    @property
    def progress(self) -> tuple[int, int]:
        """(expected copies seen, expected copies): the "312 / 340" on screen."""
        return len(self.expected) - len(self.missing), len(self.expected)

    def as_dict(self) -> dict[str, list[str]]:
        return {name: list(getattr(self, name)) for name in RESULT_LISTS}


RESULT_LISTS = ("expected", "present", "missing", "seen_on_loan", "misplaced", "found_lost", "unknown")
# Statuses that a stock-take does not expect on the shelf.
NOT_EXPECTED = frozenset({"withdrawn", "lost"})


def stocktake_result(
    scope: Scope, copies: Iterable[StocktakeCopy], scanned: Iterable[str], found_lost: Iterable[str] = ()
) -> StocktakeResult:
    """Compare what was seen with what the catalogue says should be there.

    ``copies`` is every known copy (so a scan of a copy from elsewhere is misplaced,
    not unknown); ``scanned`` the distinct codes seen, in any order; ``found_lost``
    the scanned ones that were marked lost when scanned (the scan restored them).
    """
    seen = set(scanned)
    was_lost = set(found_lost)
    by_code = {}
    result = StocktakeResult()
    for copy in sorted(copies, key=lambda c: (shelf_key(c.shelf), c.code)):
        by_code[copy.code] = copy
        in_scope = scope.covers(copy.location, copy.shelf)
        if copy.code in seen:
            if copy.status == "lost" or copy.code in was_lost:
                result.found_lost.append(copy.code)
            if copy.on_loan:
                result.seen_on_loan.append(copy.code)
            elif in_scope and copy.status != "withdrawn":
                result.present.append(copy.code)
            else:
                result.misplaced.append(copy.code)
        if in_scope and copy.status not in NOT_EXPECTED and not copy.on_loan:
            result.expected.append(copy.code)
            if copy.code not in seen:
                result.missing.append(copy.code)
    result.unknown = sorted(code for code in seen if code not in by_code)
    return result


def stocktake_progress(scope: Scope, shelves: Iterable[tuple[str, str, int, int]]) -> tuple[int, int]:
    """(expected copies seen, expected copies) from per-shelf counts.

    ``shelves`` holds (location, shelf, copies expected there, of which scanned), so the
    live count on every scan costs one grouped query, not a pass over the collection;
    it agrees with :func:`stocktake_result`'s ``progress``.
    """
    seen = expected = 0
    for location, shelf, count, scanned in shelves:
        if scope.covers(location, shelf):
            expected += count
            seen += scanned
    return seen, expected


# ---------------------------------------------------------------- intake


def check_prefix(prefix: str, prefixes: Mapping[str, str]) -> str:
    wanted = prefix.strip().upper()
    if wanted and not wanted.endswith("-"):
        wanted += "-"
    if wanted not in prefixes:
        raise BadPrefix(prefix=prefix, known=", ".join(prefixes))
    return wanted


def next_accession_numbers(prefix: str, existing: Iterable[str], count: int, most: int = 500) -> list[str]:
    """``count`` new accession codes after the highest existing one of ``prefix``.

    Numbers are zero-padded to the widest seen (at least four digits), so the
    register's order and the label's text agree; gaps are never refilled — an old
    number may be on a withdrawn book's record.
    """
    if not 1 <= count <= most:
        raise BadCount(most=most)
    pattern = re.compile(re.escape(prefix) + r"(\d+)$")
    highest, width = 0, ACCESSION_DIGITS
    for code in existing:
        match = pattern.match(code)
        if match:
            highest = max(highest, int(match.group(1)))
            width = max(width, len(match.group(1)))
    return [f"{prefix}{number:0{width}d}" for number in range(highest + 1, highest + count + 1)]
