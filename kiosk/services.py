"""The service layer: load what a rule needs, run the rule, record the facts.

Each public method is one transaction (``write_transaction``); rules stay pure.
"""

from __future__ import annotations

import uuid as uuidlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from . import holds, rules, stored_settings
from .clock import as_stored, default_timezone, utc_now
from .codes import book_number, clean
from .db import write_transaction
from .i18n import audience_of
from .ledger import iso, record, record_many
from .models import ClosedDay, Copy, Loan, Patron, PolicyRule, Setting, Title


@dataclass(frozen=True)
class LoanLine:
    """One of the card holder's own loans, for "My books" on their own session."""

    item: str
    title: str
    due: date
    overdue_days: int


@dataclass(frozen=True)
class PatronSummary:
    code: str
    first_name: str
    class_name: str
    kind: str
    holding: int
    may_borrow: int
    overdue: int
    name: str = ""
    audience: str = "student"  # how the kiosk addresses them (kiosk.i18n.audience_of)
    loans: tuple[LoanLine, ...] = ()  # overdue first, then by due date
    blocked: rules.CirculationError | None = None  # why no ordinary book can be lent now


@dataclass(frozen=True)
class LoanReceipt:
    loan: str
    item: str
    title: str
    due: date
    patron: PatronSummary | None = None  # the borrower after this loan, for the kiosk screen


@dataclass(frozen=True)
class CheckinReceipt:
    outcome: str  # returned | not_on_loan | unknown_copy
    item: str
    title: str | None
    overdue_days: int = 0
    location: str | None = None
    hold_shelf: bool = False  # set aside for a reader who reserved the title (never says who)


@dataclass(frozen=True)
class RenewReceipt:
    item: str
    title: str
    due: date


POLICY_SETTINGS = ("closed_weekdays", "block_when_overdue", "term_ends", "year_end")


def load_policy() -> rules.Policy:
    """The lending rules, calendar and settings as stored, each value checked (kiosk/stored_settings.py):
    a bad value pulled from a server or left by an old version falls back instead of stopping lending."""
    rule_rows = stored_settings.rule_rows(list(PolicyRule.select().dicts()))
    # One query for the policy's settings: this runs inside every checkout's write lock.
    rows = {row.key: row.value for row in Setting.select().where(Setting.key.in_(POLICY_SETTINGS))}
    settings = stored_settings.read_many(rows, POLICY_SETTINGS)
    source = [rules.Rule(*row) for row in rule_rows] if rule_rows else rules.DEFAULT_RULES
    calendar = rules.Calendar(
        closed_weekdays=settings["closed_weekdays"],
        closed_days=frozenset(day for (day,) in ClosedDay.select(ClosedDay.day).tuples() if isinstance(day, date)),
    )
    return rules.Policy(
        rules={(r.patron_kind, r.category): r for r in source},
        calendar=calendar,
        block_when_overdue=settings["block_when_overdue"],
        term_ends=settings["term_ends"],
        year_end=settings["year_end"],
    )


def stored_setting_problems() -> list[str]:
    """Every shared setting read once, checked: the ones being replaced by a fallback right now."""
    load_policy()
    for key in ("school_name", "school_year_start", "class_links", "accession_prefixes"):
        stored_settings.read(key)
    return stored_settings.problems()


def _patron_view(patron: Patron | None) -> rules.PatronView | None:
    return None if patron is None else rules.PatronView(patron.code, patron.kind, patron.active)


def _copy_view(copy: Copy) -> rules.CopyView:
    return rules.CopyView(copy.code, copy.title.category, copy.status)


def _loan_view(loan: Loan) -> rules.LoanView:
    return rules.LoanView(
        loan.uuid, loan.copy.code, loan.patron.code, loan.copy.title.category, loan.due, loan.renewals
    )


def open_loans_of(patron: Patron) -> list[Loan]:
    return list(
        Loan.select(Loan, Copy, Title, Patron)
        .join(Copy)
        .join(Title)
        .switch(Loan)
        .join(Patron)  # _loan_view reads loan.patron.code: no query per loan
        .where((Loan.patron == patron) & Loan.is_open())
        .order_by(Loan.due)
    )


def open_loan_views(patron: Patron) -> list[rules.LoanView]:
    """What the rules need of a patron's open loans: one narrow query, no model objects.

    It runs inside every checkout's write lock, where peewee building wide queries was the main cost.
    """
    rows = (
        Loan.select(Loan.uuid, Copy.code, Title.category, Loan.due, Loan.renewals, Title.title)
        .join(Copy)
        .join(Title)
        .where((Loan.patron == patron) & Loan.is_open())
        .tuples()
    )
    return [rules.LoanView(uuid, item, patron.code, category, due, renewals, title)
            for uuid, item, category, due, renewals, title in rows]


def open_loan_of(copy: Copy) -> Loan | None:
    return (
        Loan.select(Loan, Patron)
        .join(Patron)
        .where((Loan.copy == copy) & Loan.is_open())
        .first()
    )


@contextmanager
def addressed_to(patron: Patron | None) -> Iterator[None]:
    """A refusal raised inside speaks to this reader (em, thầy, cô): see kiosk.i18n.address."""
    try:
        yield
    except rules.CirculationError as refusal:
        if patron is not None:
            refusal.audience = audience_of(patron.kind, patron.gender)
        raise


@dataclass
class Circulation:
    """Check-out, check-in and renewal at one device."""

    device: str
    clock: Callable[[], datetime] = utc_now
    timezone: ZoneInfo = field(default_factory=default_timezone)
    scanner_prefixes: tuple[str, ...] = ()
    scanner_suffixes: tuple[str, ...] = ()

    def now(self) -> datetime:
        """Device time as naive UTC, the way it is stored."""
        return as_stored(self.clock())

    def today(self) -> date:
        return self.clock().astimezone(self.timezone).date()

    def clean(self, raw: str) -> str:
        return clean(raw, self.scanner_prefixes, self.scanner_suffixes)

    # -------------------------------------------------------------- lookups

    def find_patron(self, raw_code: str) -> Patron:
        patron = Patron.get_or_none(Patron.code == self.clean(raw_code))
        rules.check_patron(_patron_view(patron))
        return patron

    def patron_summary(self, raw_code: str) -> PatronSummary:
        patron = self.find_patron(raw_code)
        return self._summary(patron, open_loan_views(patron), load_policy())

    def _summary(self, patron: Patron, loans: list[rules.LoanView], policy: rules.Policy) -> PatronSummary:
        general = policy.rule_for(patron.kind, "*")
        held = sum(1 for loan in loans if policy.rule_for(patron.kind, loan.category).category == "*")
        today = self.today()
        audience = audience_of(patron.kind, patron.gender)
        blocked = rules.borrow_block(patron.kind, loans, policy, today)
        if blocked is not None:
            blocked.audience = audience
        lines = sorted(
            (LoanLine(loan.item, loan.title, loan.due, max(0, (today - loan.due).days)) for loan in loans),
            key=lambda line: (-line.overdue_days, line.due, line.item),
        )
        return PatronSummary(
            code=patron.code,
            first_name=patron.first_name,
            class_name=patron.class_name,
            kind=patron.kind,
            holding=len(loans),
            # Never a number of books the rules would then refuse.
            may_borrow=0 if blocked else max(0, general.max_loans - held),
            overdue=sum(1 for loan in loans if loan.due < today),
            name=patron.name,
            audience=audience,
            loans=tuple(lines),
            blocked=blocked,
        )

    def _resolve_copy(self, text: str, *, for_checkin: bool) -> Copy | None:
        """The copy a scan names: its label, or a cover ISBN where that is unambiguous."""
        copy = (
            Copy.select(Copy.id, Copy.code, Copy.status, Copy.location, Title.id, Title.title, Title.category)
            .join(Title)
            .where(Copy.code == text)
            .first()
        )
        if copy is not None:
            return copy
        isbn = book_number(text)
        if isbn is None:
            return None
        copies = list(Copy.select(Copy, Title).join(Title).where(Title.isbn == isbn))
        if len(copies) == 1:
            return copies[0]
        if for_checkin and copies:
            # One query for the whole class set (40 copies of a textbook), not one per copy.
            lent = {copy_id for (copy_id,) in Loan.select(Loan.copy).where(
                Loan.copy.in_([c.id for c in copies]) & Loan.is_open()).tuples()}
            on_loan = [c for c in copies if c.id in lent]
            if len(on_loan) == 1:
                return on_loan[0]
        if copies:
            raise rules.AmbiguousIsbn()
        return None

    # -------------------------------------------------------------- transactions

    def checkout(self, patron_code: str, item_code: str, override: str | None = None, *,
                 at_the_desk: bool = False) -> LoanReceipt:
        """Lend a copy. ``override`` (the librarian's desk only): a reason from
        rules.OVERRIDE_REASONS to lend despite an overridable refusal, recorded as its own fact.
        ``at_the_desk``: the librarian lends (her PIN session), and may lend back a copy returned late."""
        patron_text, item_text = self.clean(patron_code), self.clean(item_code)
        with write_transaction():
            patron = (
                Patron.select(Patron.id, Patron.code, Patron.name, Patron.class_name, Patron.kind, Patron.active,
                              Patron.gender)
                .where(Patron.code == patron_text)
                .first()
            )
            if override is None or patron is None:
                rules.check_patron(_patron_view(patron))
            overridden = None
            with addressed_to(patron):
                copy = self._resolve_copy(item_text, for_checkin=False)
                today = self.today()
                loans, policy = open_loan_views(patron), load_policy()
                # A copy on loan is one of the reader's own when its loan is among theirs (no query).
                holder = patron.code if copy and any(loan.item == copy.code for loan in loans) else None
                if override is None:
                    decision = rules.checkout(
                        _patron_view(patron), _copy_view(copy) if copy else None, loans, policy, today,
                        holder=holder, title=copy.title.title if copy else "",
                        late_return=None if at_the_desk else self._late_return(patron, copy),
                    )
                else:
                    decision, overridden = rules.checkout_override(
                        _patron_view(patron), _copy_view(copy) if copy else None, loans, policy, today, override)
                if override is None:  # a copy on the hold shelf waits for its reader (the desk may override)
                    holds.check_checkout(copy, patron.code, today)
            now = self.now()
            loan_uuid = str(uuidlib.uuid4())
            record(
                "loan.checkout",
                {
                    "loan": loan_uuid,
                    "item": copy.code,
                    "patron": patron.code,
                    "at": iso(now),
                    "due": decision.due.isoformat(),
                    "location": copy.location,
                    "device": self.device,
                },
                device=self.device,
                device_time=now,
            )
            if overridden:
                record("loan.override", {"loan": loan_uuid, "item": copy.code, "patron": patron.code, "at": iso(now),
                                         "refusal": overridden, "reason": override, "device": self.device},
                       device=self.device, device_time=now)
        # The summary from what the rule already loaded: the kiosk shows it without another round of queries.
        new_loan = rules.LoanView(loan_uuid, copy.code, patron.code, copy.title.category, decision.due,
                                  title=copy.title.title)
        summary = self._summary(patron, [*loans, new_loan], policy)
        return LoanReceipt(loan_uuid, copy.code, copy.title.title, decision.due, summary)

    def _late_return(self, patron: Patron | None, copy: Copy | None) -> date | None:
        """The day ``patron`` last gave ``copy`` back after its due date (school's calendar), if ever."""
        if patron is None or copy is None:
            return None
        last = (Loan.select(Loan.due, Loan.returned_at)
                .where((Loan.copy == copy.id) & (Loan.patron == patron.id) & ~Loan.is_open())
                .order_by(Loan.returned_at.desc()).first())
        if last is None:
            return None
        returned = last.returned_at.replace(tzinfo=UTC).astimezone(self.timezone).date()  # stored as naive UTC
        return returned if returned > last.due else None

    def checkin(self, item_code: str) -> CheckinReceipt:
        item_text = self.clean(item_code)
        with write_transaction():
            copy = self._resolve_copy(item_text, for_checkin=True)
            now = self.now()
            payload = {"item": copy.code if copy else item_text, "at": iso(now), "device": self.device}
            if copy is None:
                # Maybe lent by another kiosk from a catalogue this one hasn't pulled yet:
                # keep the fact for the server, answer kindly.
                record("loan.checkin", {**payload, "loan": None, "status": None},
                       device=self.device, device_time=now)
                return CheckinReceipt("unknown_copy", item_text, None)
            loan = open_loan_of(copy)
            decision = rules.checkin(_copy_view(copy), _loan_view(loan) if loan else None, self.today())
            record(
                "loan.checkin",
                {**payload, "loan": decision.loan_uuid, "status": decision.new_status},
                device=self.device,
                device_time=now,
            )
            hold_shelf = holds.waits_for_a_hold(copy.code, copy.title.id, self.today())
        return CheckinReceipt(
            "returned" if loan else "not_on_loan",
            copy.code,
            copy.title.title,
            decision.overdue_days,
            copy.location,
            hold_shelf,
        )

    def renew(self, patron_code: str, item_code: str) -> RenewReceipt:
        patron_text, item_text = self.clean(patron_code), self.clean(item_code)
        with write_transaction():
            patron = Patron.get_or_none(Patron.code == patron_text)
            copy = self._resolve_copy(item_text, for_checkin=True)
            if copy is None:
                raise rules.UnknownCopy()
            loan = open_loan_of(copy)
            with addressed_to(patron):
                due = rules.renew(
                    _patron_view(patron), _copy_view(copy), _loan_view(loan) if loan else None,
                    load_policy(), self.today(),
                )
            now = self.now()
            record(
                "loan.renew",
                {"loan": loan.uuid, "item": copy.code, "due": due.isoformat(), "renewals": loan.renewals + 1},
                device=self.device,
                device_time=now,
            )
        return RenewReceipt(copy.code, copy.title.title, due)

    def set_copy_status(self, item_code: str, action: str, note: str = "",
                        settlement: dict[str, object] | None = None) -> str:
        """Librarian actions: mark lost, damaged, withdrawn, not for loan, or available again.

        A copy on loan marked lost or damaged ends its loan (đền sách, ``settlement`` from
        rules.settlement: replaced, paid or still owed), so the reader is not blocked by it for ever.
        """
        if action not in rules.ACTIONS or action in ("checkout", "checkin", "renew"):
            raise rules.BadTransition(status="?", action=action)
        item_text = self.clean(item_code)
        with write_transaction():
            copy = Copy.get_or_none(Copy.code == item_text)
            if copy is None:
                raise rules.UnknownCopy()
            loan = open_loan_of(copy)
            status = rules.settled_status(rules.transition(copy.status, action), loan is not None)
            now = self.now()
            if loan is not None and status in ("lost", "damaged"):
                record("loan.settle", {"loan": loan.uuid, "item": copy.code, "patron": loan.patron.code,
                                       "at": iso(now), "device": self.device, "status": status, "note": note,
                                       **(settlement or rules.settlement("owed", None, ""))},
                       device=self.device, device_time=now)
            else:
                record("copy.status", {"item": copy.code, "status": status, "note": note},
                       device=self.device, device_time=now)
        return status

    def record_facts(self, facts: list[tuple[str, dict]]) -> int:
        """Record many facts (an import) in one transaction."""
        with write_transaction():
            record_many(facts, device=self.device, device_time=self.now())
        return len(facts)

    # -------------------------------------------------------------- librarian settings

    def set_policy(self, policy_rules: list[rules.Rule], block_when_overdue: bool) -> None:
        """Replace the lending rules (patron kind × category) and the overdue block, as one change."""
        with write_transaction():
            now = self.now()
            record("policy.set", {"rules": [dict(vars(rule)) for rule in policy_rules]},
                   device=self.device, device_time=now)
            record("setting.set", {"key": "block_when_overdue", "value": bool(block_when_overdue)},
                   device=self.device, device_time=now)

    def set_calendar(self, closed_weekdays: list[int], closed_days: list[tuple[date, str]],
                     term_ends: list[date], year_end: date | None) -> None:
        """Replace the school calendar: weekly closed days, holidays (Tết…), term and year ends."""
        with write_transaction():
            record(
                "calendar.set",
                {
                    "closed_weekdays": sorted(closed_weekdays),
                    "closed_days": [{"day": day.isoformat(), "reason": reason} for day, reason in closed_days],
                    "term_ends": [day.isoformat() for day in sorted(term_ends)],
                    "year_end": year_end.isoformat() if year_end else None,
                },
                device=self.device,
                device_time=self.now(),
            )

    def upsert_patron(self, code: str, name: str, class_name: str, kind: str, school_year: str,
                      active: bool) -> str:
        """Add or edit a reader; returns the cleaned card code."""
        code = self.clean(code)
        with write_transaction():
            record("patron.upsert", {"code": code, "name": name, "class_name": class_name, "kind": kind,
                                     "school_year": school_year, "active": active},
                   device=self.device, device_time=self.now())
        return code

    def upsert_copy(self, item: str, title: str, isbn: str | None, author: str, publisher: str,
                    year: int | None, category: str, classification: str, location: str, shelf: str) -> str:
        """Add or edit one copy and its title (a title with an ISBN is shared by its copies)."""
        item = self.clean(item)
        with write_transaction():
            record("catalog.upsert", {"item": item, "title": title, "isbn": isbn, "author": author,
                                      "publisher": publisher, "year": year, "category": category,
                                      "classification": classification, "location": location, "shelf": shelf},
                   device=self.device, device_time=self.now())
        return item
