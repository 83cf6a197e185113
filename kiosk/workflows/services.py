"""Workflow transactions: load plain values, ask kiosk.workflows.rules, record the facts.

Every method that changes data is one ``write_transaction`` and records facts
through kiosk.ledger, with ``by`` (a helper's patron code or "librarian") in the
payload so the record says who did it.
"""

from __future__ import annotations

import uuid as uuidlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from peewee import IntegrityError, fn

from .. import stored_settings
from ..codes import book_number
from ..db import write_transaction
from ..ledger import iso, record
from ..models import (
    MAIN_LIBRARY,
    Copy,
    Loan,
    Patron,
    RotationBatch,
    RotationItem,
    StocktakeScan,
    StocktakeSession,
    Title,
)
from ..rules import UnknownPatron
from ..services import Circulation, open_loan_of
from . import rules

LIBRARIAN = "librarian"


# ---------------------------------------------------------------- views returned to pages and CLI


@dataclass(frozen=True)
class BatchItem:
    code: str
    title: str
    returned: bool
    on_loan: bool = False
    borrower: str | None = None  # only filled for the librarian: helpers see "on loan"
    due: date | None = None


@dataclass(frozen=True)
class BatchView:
    uuid: str
    location: str
    class_name: str
    teacher: str
    teacher_name: str
    helpers: list[str]
    due: date | None
    opened_at: datetime
    closed_at: datetime | None
    items: list[BatchItem]

    @property
    def total(self) -> int:
        return len(self.items)

    @property
    def returned(self) -> int:
        return sum(1 for item in self.items if item.returned)

    @property
    def missing(self) -> list[BatchItem]:
        return [item for item in self.items if not item.returned]


@dataclass(frozen=True)
class ReturnScan:
    outcome: str  # returned | again | other_batch | not_in_batch | unknown
    item: str
    title: str | None
    location: str | None = None  # where it belongs, for other_batch / not_in_batch
    loan_closed: bool = False  # it was on loan to a student and is now checked in
    returned: int = 0
    total: int = 0


@dataclass(frozen=True)
class Shelving:
    item: str
    title: str
    author: str
    location: str
    shelf: str
    classification: str
    status: str
    on_loan: bool


@dataclass(frozen=True)
class StocktakeScanResult:
    outcome: str  # counted | again | misplaced | on_loan | unknown
    item: str
    title: str | None
    location: str | None
    shelf: str | None
    seen: int
    expected: int


@dataclass(frozen=True)
class StocktakeView:
    uuid: str
    scope: rules.Scope
    opened_at: datetime
    opened_by: str
    finished_at: datetime | None
    scans: int
    result: rules.StocktakeResult
    titles: dict[str, tuple[str, str, str]] = field(default_factory=dict)  # code → (title, location, shelf)


@dataclass(frozen=True)
class Receipt:
    codes: list[str]
    title: str
    isbn: str | None
    category: str


# ---------------------------------------------------------------- the service


def _by_uuid(model, reference: str):
    """A row by its uuid, or by a unique start of it (people type the first 8 characters)."""
    reference = reference.strip().lower()
    row = model.get_or_none(model.uuid == reference)
    if row is None and len(reference) >= 6:
        rows = list(model.select().where(model.uuid.startswith(reference)).limit(2))
        row = rows[0] if len(rows) == 1 else None
    return row



@dataclass
class Workflows:
    """Rotation, helper mode, stock-take and intake at one device."""

    circulation: Circulation

    @property
    def device(self) -> str:
        return self.circulation.device

    def _record(self, event_type: str, payload: dict, now: datetime) -> None:
        record(event_type, {**payload, "device": self.device}, device=self.device, device_time=now)

    def _copy(self, raw: str) -> Copy:
        """The copy a scanned label names; a cover ISBN is refused (it names a title)."""
        text = self.circulation.clean(raw)
        copy = Copy.select(Copy, Title).join(Title).where(Copy.code == text).first()
        if copy is None:
            if book_number(text):
                raise rules.CoverIsbn()
            raise rules.UnknownCopy(item=text)
        return copy

    # ---------------------------------------------------------- helpers

    def helper_sign_in(self, card: str) -> Patron:
        """A helper's card opens helper mode; any other card is refused."""
        patron = Patron.get_or_none(Patron.code == self.circulation.clean(card))
        if patron is None:
            raise UnknownPatron()
        if patron.kind != "helper" or not patron.active:
            raise rules.NotAHelper()
        return patron

    def shelving(self, raw: str) -> Shelving:
        """Where a returned book goes back: location, shelf and classification mark."""
        copy = self._copy(raw)
        return Shelving(
            copy.code, copy.title.title, copy.title.author, copy.location, copy.shelf,
            copy.title.classification, copy.status, open_loan_of(copy) is not None,
        )

    # ---------------------------------------------------------- rotation

    def _copy_state(self, copy: Copy) -> rules.CopyState:
        out = (
            RotationItem.select(RotationItem, RotationBatch).join(RotationBatch)
            .where((RotationItem.copy == copy) & RotationItem.returned_at.is_null()).first()
        )
        return rules.CopyState(
            copy.code, copy.location, copy.shelf, copy.status,
            on_loan=open_loan_of(copy) is not None, batch=out.batch.uuid if out else None,
        )

    def _batch(self, uuid: str) -> RotationBatch:
        batch = _by_uuid(RotationBatch, uuid)
        if batch is None:
            raise rules.UnknownBatch()
        return batch

    def open_batch(self, class_name: str, teacher: str, helpers: Sequence[str], due: date, by: str) -> str:
        location = rules.class_library(class_name)
        if due <= self.circulation.today():
            raise rules.DueInThePast()
        teacher_code = self.circulation.clean(teacher)
        helper_codes = [self.circulation.clean(code) for code in helpers if code.strip()]
        with write_transaction():
            patron = Patron.get_or_none(Patron.code == teacher_code)
            if patron is None or patron.kind != "teacher":
                raise rules.NotATeacher(code=teacher_code)
            for code in helper_codes:
                self.helper_sign_in(code)
            uuid, now = str(uuidlib.uuid4()), self.circulation.now()
            self._record("rotation.open", {
                "batch": uuid, "location": location, "class_name": location[len(rules.CLASS_LIBRARY_PREFIX):],
                "teacher": teacher_code, "helpers": helper_codes, "due": due.isoformat(),
                "at": iso(now), "by": by,
            }, now)
        return uuid

    def add_to_batch(self, batch_uuid: str, raw: str, by: str) -> BatchView:
        """Rotation check-out: the copy moves to the class library with the batch."""
        with write_transaction():
            batch = self._batch(batch_uuid)
            if batch.closed_at is not None:
                raise rules.BatchClosed()
            copy = self._copy(raw)
            rules.check_can_rotate(self._copy_state(copy))
            now = self.circulation.now()
            self._record("rotation.add", {
                "batch": batch.uuid, "item": copy.code, "home_location": copy.location,
                "home_shelf": copy.shelf, "at": iso(now), "by": by,
            }, now)
            self._record("copy.move", {
                "item": copy.code, "location": batch.location, "shelf": "", "at": iso(now), "by": by,
                "reason": "rotation " + batch.uuid,
            }, now)
        return self.batch_view(batch.uuid)

    def batch_view(self, uuid: str, *, show_borrowers: bool = False) -> BatchView:
        batch = self._batch(uuid)
        items = []
        rows = (
            RotationItem.select(RotationItem, Copy, Title).join(Copy).join(Title)
            .where(RotationItem.batch == batch).order_by(Copy.code)
        )
        for row in rows:
            loan = None if row.returned_at else open_loan_of(row.copy)
            items.append(BatchItem(
                row.copy.code, row.copy.title.title, row.returned_at is not None,
                on_loan=loan is not None,
                borrower=f"{loan.patron.name} ({loan.patron.class_name})" if loan and show_borrowers else None,
                due=loan.due if loan else None,
            ))
        teacher = Patron.get_or_none(Patron.code == batch.teacher)
        return BatchView(
            batch.uuid, batch.location, batch.class_name, batch.teacher, teacher.name if teacher else "",
            list(batch.helpers), batch.due, batch.opened_at, batch.closed_at, items,
        )

    def batches(self, *, open_only: bool = True) -> list[BatchView]:
        query = RotationBatch.select().order_by(RotationBatch.opened_at.desc(), RotationBatch.id.desc())
        if open_only:
            query = query.where(RotationBatch.closed_at.is_null())
        return [self.batch_view(batch.uuid) for batch in query]

    def return_scan(self, batch_uuid: str, raw: str, by: str) -> ReturnScan:
        """Batch mode at the library: one scan of a book coming back from the class library."""
        text = self.circulation.clean(raw)
        with write_transaction():
            batch = self._batch(batch_uuid)
            copy = Copy.select(Copy, Title).join(Title).where(Copy.code == text).first()
            if copy is None and book_number(text):
                raise rules.CoverIsbn()
            state = self._copy_state(copy) if copy else None
            already = copy is not None and RotationItem.select().where(
                (RotationItem.batch == batch) & (RotationItem.copy == copy) & RotationItem.returned_at.is_null(False)
            ).exists()
            outcome = rules.classify_return(state, batch.uuid, already)
            loan_closed = None
            if outcome == "returned":
                item = RotationItem.get((RotationItem.batch == batch) & (RotationItem.copy == copy))
                # The book is in the helper's hands: a loan from the class library ends here.
                if state.on_loan:
                    loan_closed = open_loan_of(copy).uuid
                    self.circulation.checkin(copy.code)
                now = self.circulation.now()
                self._record("rotation.return", {
                    "batch": batch.uuid, "item": copy.code, "loan_closed": loan_closed, "at": iso(now), "by": by,
                }, now)
                self._record("copy.move", {
                    "item": copy.code, "location": item.home_location, "shelf": item.home_shelf,
                    "at": iso(now), "by": by, "reason": "rotation return " + batch.uuid,
                }, now)
                self._close_if_complete(batch, by, now)
            view = self.batch_view(batch.uuid)
        where = copy.location if copy is not None and outcome in ("other_batch", "not_in_batch") else None
        return ReturnScan(outcome, copy.code if copy else text, copy.title.title if copy else None, where,
                          loan_closed is not None, view.returned, view.total)

    def _close_if_complete(self, batch: RotationBatch, by: str, now: datetime) -> None:
        waiting = RotationItem.select().where((RotationItem.batch == batch) & RotationItem.returned_at.is_null())
        if not waiting.exists():
            self._record("rotation.close", {"batch": batch.uuid, "at": iso(now), "by": by}, now)

    def undo_return(self, batch_uuid: str, by: str) -> str:
        """Take back the last return scanned in this batch (the book goes back to the class's list)."""
        with write_transaction():
            batch = self._batch(batch_uuid)
            last = (
                RotationItem.select(RotationItem, Copy).join(Copy)
                .where((RotationItem.batch == batch) & RotationItem.returned_at.is_null(False))
                .order_by(RotationItem.returned_at.desc(), RotationItem.id.desc()).first()
            )
            if last is None:
                raise rules.NothingToUndo()
            now = self.circulation.now()
            self._record("rotation.unreturn", {"batch": batch.uuid, "item": last.copy.code, "at": iso(now),
                                               "by": by}, now)
            self._record("copy.move", {
                "item": last.copy.code, "location": batch.location, "shelf": "", "at": iso(now), "by": by,
                "reason": "undo rotation return " + batch.uuid,
            }, now)
        return last.copy.code

    def close_batch(self, batch_uuid: str, by: str) -> BatchView:
        """The librarian ends a batch with books still missing; they stay listed at the class library."""
        with write_transaction():
            batch = self._batch(batch_uuid)
            if batch.closed_at is not None:
                raise rules.BatchClosed()
            now = self.circulation.now()
            self._record("rotation.close", {"batch": batch.uuid, "at": iso(now), "by": by}, now)
        return self.batch_view(batch.uuid)

    # ---------------------------------------------------------- stock-take

    def _session(self, uuid: str) -> StocktakeSession:
        session = _by_uuid(StocktakeSession, uuid)
        if session is None:
            raise rules.UnknownSession()
        return session

    @staticmethod
    def _scope(session: StocktakeSession) -> rules.Scope:
        return rules.Scope(session.location, session.shelf_from, session.shelf_to)

    def locations(self) -> list[str]:
        """Where copies are kept: the main library first, then the class libraries."""
        found = {location for (location,) in Copy.select(Copy.location).distinct().tuples()}
        return sorted(found, key=lambda location: (location != MAIN_LIBRARY, location))

    def open_stocktake(self, location: str | None, shelf_from: str, shelf_to: str, by: str) -> str:
        with write_transaction():
            uuid, now = str(uuidlib.uuid4()), self.circulation.now()
            self._record("stocktake.open", {
                "session": uuid, "location": location or None, "shelf_from": shelf_from.strip().upper(),
                "shelf_to": shelf_to.strip().upper(), "at": iso(now), "by": by,
            }, now)
        return uuid

    def stocktakes(self) -> list[StocktakeSession]:
        return list(StocktakeSession.select().order_by(StocktakeSession.opened_at.desc(), StocktakeSession.id.desc()))

    def stocktake_scan(self, session_uuid: str, raw: str, by: str) -> StocktakeScanResult:
        text = self.circulation.clean(raw)
        with write_transaction():
            session = self._session(session_uuid)
            if session.finished_at is not None:
                raise rules.SessionFinished()
            copy = Copy.select(Copy, Title).join(Title).where(Copy.code == text).first()
            if copy is None and book_number(text):
                raise rules.CoverIsbn()
            again = StocktakeScan.select().where(
                (StocktakeScan.session == session) & (StocktakeScan.item == text)).exists()
            if not again:
                now = self.circulation.now()
                self._record("stocktake.scan", {
                    "session": session.uuid, "scan": str(uuidlib.uuid4()), "item": text,
                    "status_seen": copy.status if copy else "", "at": iso(now), "by": by,
                }, now)
            if copy is None:
                outcome = "unknown"
            elif again:
                outcome = "again"
            elif open_loan_of(copy) is not None:
                outcome = "on_loan"
            elif not self._scope(session).covers(copy.location, copy.shelf):
                outcome = "misplaced"
            else:
                outcome = "counted"
            seen, expected = self._progress(session)
        return StocktakeScanResult(outcome, text, copy.title.title if copy else None,
                                   copy.location if copy else None, copy.shelf if copy else None, seen, expected)

    def _progress(self, session: StocktakeSession) -> tuple[int, int]:
        """The live count, from two grouped queries (it runs on every scan)."""
        scope = self._scope(session)
        on_shelf = Copy.status.not_in(list(rules.NOT_EXPECTED)) & Copy.id.not_in(
            Loan.select(Loan.copy).where(Loan.is_open()))
        if scope.location is not None:
            on_shelf &= Copy.location == scope.location
        shelves = Copy.select(Copy.location, Copy.shelf, fn.COUNT(Copy.id)).where(on_shelf).group_by(
            Copy.location, Copy.shelf)
        seen = dict(((location, shelf), count) for location, shelf, count in (
            Copy.select(Copy.location, Copy.shelf, fn.COUNT(fn.DISTINCT(Copy.id)))
            .join(StocktakeScan, on=(StocktakeScan.item == Copy.code))
            .where(on_shelf & (StocktakeScan.session == session))
            .group_by(Copy.location, Copy.shelf).tuples()))
        return rules.stocktake_progress(scope, (
            (location, shelf, count, seen.get((location, shelf), 0))
            for location, shelf, count in shelves.tuples()))

    def _result(self, session: StocktakeSession) -> rules.StocktakeResult:
        on_loan = {copy_id for (copy_id,) in Loan.select(Loan.copy).where(Loan.is_open()).tuples()}
        copies = [
            rules.StocktakeCopy(code, "", location, shelf, status, copy_id in on_loan)
            for copy_id, code, location, shelf, status in Copy.select(
                Copy.id, Copy.code, Copy.location, Copy.shelf, Copy.status).tuples()
        ]
        scans = list(StocktakeScan.select(StocktakeScan.item, StocktakeScan.status_seen).where(
            StocktakeScan.session == session).tuples())
        scanned = {item for item, _status in scans}
        found_lost = {item for item, status in scans if status == "lost"}
        return rules.stocktake_result(self._scope(session), copies, scanned, found_lost)

    def stocktake_view(self, session_uuid: str) -> StocktakeView:
        session = self._session(session_uuid)
        if session.result is not None:
            result = rules.StocktakeResult(**{name: session.result.get(name, []) for name in rules.RESULT_LISTS})
        else:
            result = self._result(session)
        wanted = {code for name in rules.RESULT_LISTS if name != "expected" for code in getattr(result, name)}
        titles = {
            c.code: (c.title.title, c.location, c.shelf)
            for c in Copy.select(Copy, Title).join(Title).where(Copy.code.in_(list(wanted)))
        } if wanted else {}
        scans = StocktakeScan.select(fn.COUNT(fn.DISTINCT(StocktakeScan.item))).where(
            StocktakeScan.session == session).scalar()
        return StocktakeView(session.uuid, self._scope(session), session.opened_at, session.opened_by,
                             session.finished_at, scans, result, titles)

    def finish_stocktake(self, session_uuid: str, by: str) -> StocktakeView:
        """Freeze the result and mark what was not found as lost ("stock-take <date>"), reversibly."""
        with write_transaction():
            session = self._session(session_uuid)
            if session.finished_at is not None:
                raise rules.SessionFinished()
            result = self._result(session)
            now = self.circulation.now()
            self._record("stocktake.finish", {
                "session": session.uuid, "missing": result.missing, "result": result.as_dict(),
                "note": f"stock-take {self.circulation.today().isoformat()}", "at": iso(now), "by": by,
            }, now)
        return self.stocktake_view(session.uuid)

    # ---------------------------------------------------------- intake

    def prefixes(self) -> dict[str, str]:
        """Collection prefixes and the category each one files under (setting ``accession_prefixes``)."""
        return dict(stored_settings.read("accession_prefixes") or rules.DEFAULT_PREFIXES)

    def lookup_isbn(self, raw: str) -> Title | None:
        isbn = self._isbn(raw)
        return Title.get_or_none(Title.isbn == isbn) if isbn else None

    def _isbn(self, raw: str) -> str | None:
        if not raw.strip():
            return None
        isbn = book_number(self.circulation.clean(raw))
        if isbn is None:
            raise rules.NotAnIsbn()
        return isbn

    def receive(self, *, isbn: str, title: str, prefix: str, count: int, by: str, author: str = "",
                publisher: str = "", year: int | None = None, classification: str = "",
                location: str = MAIN_LIBRARY, shelf: str = "", price: int | None = None,
                source: str = "purchase", donor: str = "") -> Receipt:
        """Accession ``count`` new copies of a title under the next numbers of ``prefix``."""
        isbn_13 = self._isbn(isbn)
        prefixes = self.prefixes()
        wanted_prefix = rules.check_prefix(prefix, prefixes)
        for attempt in range(3):
            try:
                return self._receive(isbn_13, title.strip(), wanted_prefix, prefixes[wanted_prefix], count, by,
                                     author=author.strip(), publisher=publisher.strip(), year=year,
                                     classification=classification.strip(), location=location,
                                     shelf=shelf.strip().upper(), price=price, source=source,
                                     donor=donor.strip())
            except IntegrityError:
                # Another kiosk's intake took the numbers first (server database): take the next ones.
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _receive(self, isbn: str | None, title: str, prefix: str, category: str, count: int, by: str,
                 **details) -> Receipt:
        with write_transaction():
            known = Title.get_or_none(Title.isbn == isbn) if isbn else None
            if known is not None:
                fields = {"title": known.title, "author": known.author, "publisher": known.publisher,
                          "year": known.year, "category": known.category,
                          "classification": known.classification}
                fields.update({k: details[k] for k in ("author", "publisher", "year", "classification")
                               if details[k] and not fields[k]})
            elif title:
                fields = {"title": title, "author": details["author"], "publisher": details["publisher"],
                          "year": details["year"], "category": category,
                          "classification": details["classification"]}
            else:
                raise rules.TitleNeeded()
            existing = [c for (c,) in Copy.select(Copy.code).where(Copy.code.startswith(prefix)).tuples()]
            codes = rules.next_accession_numbers(prefix, existing, count)
            now = self.circulation.now()
            self._record("intake.receive", {
                **fields, "isbn": isbn, "items": codes, "location": details["location"],
                "shelf": details["shelf"], "price": details["price"],
                "added_on": self.circulation.today().isoformat(), "source": details["source"],
                "donor": details["donor"], "at": iso(now), "by": by,
            }, now)
        return Receipt(codes, fields["title"], isbn, fields["category"])
