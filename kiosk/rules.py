"""Circulation rules: pure functions over plain values.

No Flask, no database, no clock: the service layer loads what a rule needs,
passes ``today`` in, and writes what the rule decided inside its transaction.
Copy status changes are a table (``TRANSITIONS``) run by :func:`transition`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

from .errors import N_, MuontraError
from .i18n import DEFAULT_LANGUAGE, translate

# ---------------------------------------------------------------- refusals


class CirculationError(MuontraError):
    code = "circulation"
    http_status = 409


class UnknownPatron(CirculationError):
    code = "unknown_patron"
    message = N_("This card is not registered. Please see the librarian.")
    http_status = 404


class InactivePatron(CirculationError):
    code = "inactive_patron"
    message = N_("This card is no longer active. Please see the librarian.")
    http_status = 403


class LoanLimitReached(CirculationError):
    code = "loan_limit"
    message = N_("You already have %(count)s books, the most you may borrow. Return one first.")


class HasOverdue(CirculationError):
    # Names the book (the borrower's own, on their own session): "which one?" is the next question.
    code = "has_overdue"
    message = N_("Please return “%(title)s” (%(days)s day(s) overdue) before borrowing another.")


class UnknownCopy(CirculationError):
    code = "unknown_copy"
    aliases = ("unknown_item",)
    message = N_("This book is not in the library catalogue. Please see the librarian.")
    http_status = 404


class CopyOnLoan(CirculationError):
    # Never say to whom: the kiosk screen is public.
    code = "copy_on_loan"
    aliases = ("item_on_loan",)
    message = N_("This book is already on loan. Please take it to the librarian.")


class AlreadyYours(CirculationError):
    # Not a refusal: the reader scanned a book they already hold (often the one just borrowed).
    code = "already_yours"
    message = N_("You already have “%(title)s”. No need to scan it again.")


class CopyNotForLoan(CirculationError):
    code = "copy_not_for_loan"
    aliases = ("item_not_for_loan",)
    message = N_("This book is for reading in the library only.")


class CopyLost(CirculationError):
    code = "copy_lost"
    aliases = ("item_lost",)
    message = N_("This book is recorded as lost. Please take it to the librarian.")


class CopyWithdrawn(CirculationError):
    code = "copy_withdrawn"
    aliases = ("item_withdrawn",)
    message = N_("This book has been withdrawn from the library. Please take it to the librarian.")


class CopyDamaged(CirculationError):
    code = "copy_damaged"
    aliases = ("item_damaged",)
    message = N_("This book is marked as damaged and waiting for repair. Please take it to the librarian.")


class AmbiguousIsbn(CirculationError):
    code = "scan_label"
    message = N_(
        "That is the book's cover ISBN, shared by several copies. Please scan the library label instead."
    )


class NotOnLoan(CirculationError):
    code = "not_on_loan"
    message = N_("This book is not on loan.")


class NotYourLoan(CirculationError):
    code = "not_your_loan"
    message = N_("This book is not on loan to this card.")
    http_status = 403


class RenewalLimit(CirculationError):
    code = "renewal_limit"
    message = N_("This book cannot be renewed again. Please return it.")


class ReturnedLateRecently(CirculationError):
    # Returning an overdue book and borrowing it straight back would be the renewal that
    # renew_overdue refuses, with the overdue wiped: the reader keeps the book's late return.
    code = "returned_late"
    message = N_("You returned this book late, so you can borrow it again from %(day)s. Please choose another book.")


class RenewOverdue(CirculationError):
    code = "renew_overdue"
    message = N_("This book is overdue and cannot be renewed. Please return it.")


STATUS_WORDS = {
    "available": N_("on the shelf"),
    "on_loan": N_("on loan"),
    "lost": N_("lost"),
    "damaged": N_("damaged"),
    "withdrawn": N_("withdrawn"),
    "not_for_loan": N_("not for loan"),
}
# How a refusal names an action: "A book that is lost cannot be renewed."
ACTION_PAST_WORDS = {
    "checkout": N_("lent out"),
    "checkin": N_("returned"),
    "renew": N_("renewed"),
    "mark_lost": N_("marked as lost"),
    "mark_damaged": N_("marked as damaged"),
    "withdraw": N_("withdrawn from the collection"),
    "mark_available": N_("put back on the shelf"),
    "mark_not_for_loan": N_("kept for reading in the library"),
}


class BadTransition(CirculationError):
    code = "bad_transition"
    message = N_("A book that is %(status)s cannot be %(action)s.")

    def message_in(self, lang: str = DEFAULT_LANGUAGE) -> str:
        # The params are identifiers ("on_loan", "withdraw"); the reader gets words in their language.
        status, action = self.params.get("status"), self.params.get("action")
        return translate(
            self.message,
            lang,
            status=translate(STATUS_WORDS[status], lang) if status in STATUS_WORDS else status,
            action=translate(ACTION_PAST_WORDS[action], lang) if action in ACTION_PAST_WORDS else action,
        )


# ---------------------------------------------------------------- copy states

# (status, action) → new status, or the refusal raised.
TRANSITIONS: Mapping[tuple[str, str], str | type[CirculationError]] = {
    ("available", "checkout"): "on_loan",
    ("on_loan", "checkout"): CopyOnLoan,
    ("lost", "checkout"): CopyLost,
    ("withdrawn", "checkout"): CopyWithdrawn,
    ("damaged", "checkout"): CopyDamaged,
    ("not_for_loan", "checkout"): CopyNotForLoan,
    ("on_loan", "renew"): "on_loan",
    ("on_loan", "checkin"): "available",
    # A book turning up at the desk is found, whatever the catalogue believed.
    ("available", "checkin"): "available",
    ("lost", "checkin"): "available",
    ("damaged", "checkin"): "damaged",
    ("withdrawn", "checkin"): "withdrawn",
    ("not_for_loan", "checkin"): "not_for_loan",
    ("available", "mark_lost"): "lost",
    ("on_loan", "mark_lost"): "lost",
    ("damaged", "mark_lost"): "lost",
    ("available", "mark_damaged"): "damaged",
    ("on_loan", "mark_damaged"): "damaged",
    ("lost", "mark_damaged"): "damaged",
    ("available", "withdraw"): "withdrawn",
    ("lost", "withdraw"): "withdrawn",
    ("damaged", "withdraw"): "withdrawn",
    ("not_for_loan", "withdraw"): "withdrawn",
    ("damaged", "mark_available"): "available",
    ("lost", "mark_available"): "available",
    ("withdrawn", "mark_available"): "available",
    ("not_for_loan", "mark_available"): "available",
    ("available", "mark_not_for_loan"): "not_for_loan",
}

ACTIONS = frozenset(action for _, action in TRANSITIONS)


def transition(status: str, action: str) -> str:
    outcome = TRANSITIONS.get((status, action))
    if outcome is None:
        raise BadTransition(status=status, action=action)
    if isinstance(outcome, type):
        raise outcome()
    return outcome


# Statuses the loans decide; the others are the librarian's word and stay whatever the loans do.
LOAN_STATUSES = ("available", "on_loan")


def settled_status(status: str, lent: bool) -> str:
    """A copy is on loan iff it has an open loan (``lent``), between the two statuses loans decide.

    A lost, damaged, withdrawn or not-for-loan copy keeps its status: a student may lose a book
    while it is on loan. ``ledger.settle_copy_status`` applies this to stored copies.
    """
    if status not in LOAN_STATUSES:
        return status
    return "on_loan" if lent else "available"


# ---------------------------------------------------------------- policy


@dataclass(frozen=True)
class Rule:
    patron_kind: str
    category: str  # "*" for every category without a rule of its own
    max_loans: int
    loan_days: int
    max_renewals: int = 1
    due_mode: str = "days"  # days | term_end | year_end
    loanable: bool = True


@dataclass(frozen=True)
class Calendar:
    closed_weekdays: frozenset[int] = frozenset({5, 6})  # Monday is 0: Saturday and Sunday
    closed_days: frozenset[date] = frozenset()

    def is_open(self, day: date) -> bool:
        return day.weekday() not in self.closed_weekdays and day not in self.closed_days

    def next_open(self, day: date, limit_days: int = 366) -> date:
        """The first open day on or after ``day`` (a calendar with no open day stops at the limit)."""
        for offset in range(limit_days):
            candidate = day + timedelta(days=offset)
            if self.is_open(candidate):
                return candidate
        return day


@dataclass(frozen=True)
class Policy:
    rules: Mapping[tuple[str, str], Rule]
    calendar: Calendar = field(default_factory=Calendar)
    block_when_overdue: bool = True
    term_ends: tuple[date, ...] = ()
    year_end: date | None = None
    # Days during which a reader may not borrow again a copy they returned late.
    relend_after_late_days: int = 7

    def rule_for(self, patron_kind: str, category: str) -> Rule:
        rule = self.rules.get((patron_kind, category)) or self.rules.get((patron_kind, "*"))
        if rule is None:
            rule = self.rules.get(("*", category)) or self.rules.get(("*", "*"))
        if rule is None:
            return Rule(patron_kind, "*", max_loans=0, loan_days=0, loanable=False)
        return rule

    def due_date(self, rule: Rule, today: date) -> date:
        if rule.due_mode == "term_end":
            ends = sorted(d for d in self.term_ends if d >= today)
            if ends:
                return self.calendar.next_open(ends[0])
        if rule.due_mode in ("term_end", "year_end") and self.year_end and self.year_end >= today:
            return self.calendar.next_open(self.year_end)
        return self.calendar.next_open(today + timedelta(days=rule.loan_days))


DEFAULT_RULES = (
    Rule("student", "*", max_loans=3, loan_days=10, max_renewals=1),
    Rule("student", "SGK", max_loans=20, loan_days=120, max_renewals=0, due_mode="year_end"),
    Rule("student", "SNV", max_loans=0, loan_days=0, loanable=False),
    Rule("student", "periodical", max_loans=0, loan_days=0, loanable=False),
    Rule("helper", "*", max_loans=3, loan_days=10, max_renewals=1),
    Rule("helper", "SGK", max_loans=20, loan_days=120, max_renewals=0, due_mode="year_end"),
    Rule("helper", "SNV", max_loans=0, loan_days=0, loanable=False),
    Rule("helper", "periodical", max_loans=0, loan_days=0, loanable=False),
    Rule("teacher", "*", max_loans=10, loan_days=30, max_renewals=2),
    Rule("teacher", "SGK", max_loans=30, loan_days=120, max_renewals=0, due_mode="year_end"),
    Rule("teacher", "SNV", max_loans=30, loan_days=120, max_renewals=0, due_mode="year_end"),
    Rule("teacher", "periodical", max_loans=0, loan_days=0, loanable=False),
)


# ---------------------------------------------------------------- the rules


@dataclass(frozen=True)
class PatronView:
    code: str
    kind: str
    active: bool


@dataclass(frozen=True)
class CopyView:
    code: str
    category: str
    status: str


@dataclass(frozen=True)
class LoanView:
    uuid: str
    item: str
    patron: str
    category: str
    due: date
    renewals: int = 0
    title: str = ""  # only for naming the book in a refusal


@dataclass(frozen=True)
class CheckoutDecision:
    # The copy's new status is not decided here: a copy with an open loan is on loan
    # (settled_status, run by the ledger when it records the loan).
    due: date


@dataclass(frozen=True)
class CheckinDecision:
    loan_uuid: str | None  # None: no open loan known here — still recorded
    new_status: str
    overdue_days: int


def _counts_against(policy: Policy, patron_kind: str, rule: Rule, category: str) -> bool:
    """Whether a loan in ``category`` uses up the limit of ``rule``."""
    if rule.category != "*":
        return category == rule.category
    return policy.rule_for(patron_kind, category).category == "*"


def check_patron(patron: PatronView | None) -> PatronView:
    if patron is None:
        raise UnknownPatron()
    if not patron.active:
        raise InactivePatron()
    return patron


def checkout(
    patron: PatronView | None,
    copy: CopyView | None,
    open_loans: Iterable[LoanView],
    policy: Policy,
    today: date,
    holder: str | None = None,
    title: str = "",
    late_return: date | None = None,
) -> CheckoutDecision:
    """``holder``: whose open loan the copy is on, when it is on loan (only to tell the reader it
    is already theirs); ``title`` names it in that answer. ``late_return``: the day this reader last
    returned this very copy after its due date, if ever."""
    patron = check_patron(patron)
    if copy is None:
        raise UnknownCopy()
    if copy.status == "on_loan" and holder == patron.code:
        raise AlreadyYours(title=title or copy.code)
    transition(copy.status, "checkout")  # refuses a copy that is not on the shelf
    rule = policy.rule_for(patron.kind, copy.category)
    if not rule.loanable:
        raise CopyNotForLoan()
    loans = list(open_loans)
    overdue = overdue_block(loans, policy, today)
    if overdue is not None:
        raise overdue
    held = sum(1 for loan in loans if _counts_against(policy, patron.kind, rule, loan.category))
    if held >= rule.max_loans:
        raise LoanLimitReached(count=held)
    if late_return is not None and today < late_return + timedelta(days=policy.relend_after_late_days):
        again = late_return + timedelta(days=policy.relend_after_late_days)
        raise ReturnedLateRecently(day=again.strftime("%d/%m/%Y"))
    return CheckoutDecision(due=policy.due_date(rule, today))


def overdue_block(loans: Iterable[LoanView], policy: Policy, today: date) -> HasOverdue | None:
    """The refusal an overdue loan causes (naming the most overdue book), or None."""
    if not policy.block_when_overdue:
        return None
    late = sorted((loan for loan in loans if loan.due < today), key=lambda loan: (loan.due, loan.item))
    if not late:
        return None
    return HasOverdue(title=late[0].title or late[0].item, days=(today - late[0].due).days)


def borrow_block(patron_kind: str, loans: Iterable[LoanView], policy: Policy, today: date) -> CirculationError | None:
    """Why this reader can borrow no ordinary book now (what :func:`checkout` would refuse for any
    book counted under the reader's general rule), or None: the kiosk says it before the first scan
    instead of showing a number of books the rules then refuse."""
    loans = list(loans)
    overdue = overdue_block(loans, policy, today)
    if overdue is not None:
        return overdue
    general = policy.rule_for(patron_kind, "*")
    held = sum(1 for loan in loans if _counts_against(policy, patron_kind, general, loan.category))
    if held >= general.max_loans:
        return LoanLimitReached(count=held)
    return None


def checkin(copy: CopyView | None, open_loan: LoanView | None, today: date) -> CheckinDecision:
    if copy is None:
        raise UnknownCopy()
    overdue = max(0, (today - open_loan.due).days) if open_loan else 0
    return CheckinDecision(
        loan_uuid=open_loan.uuid if open_loan else None,
        new_status=transition(copy.status, "checkin"),
        overdue_days=overdue,
    )


def renew(
    patron: PatronView | None,
    copy: CopyView,
    loan: LoanView | None,
    policy: Policy,
    today: date,
) -> date:
    patron = check_patron(patron)
    if loan is None:
        raise NotOnLoan()
    if loan.patron != patron.code:
        raise NotYourLoan()
    transition(copy.status, "renew")
    rule = policy.rule_for(patron.kind, copy.category)
    if loan.due < today:
        raise RenewOverdue()
    if loan.renewals >= rule.max_renewals:
        raise RenewalLimit()
    return max(loan.due, policy.due_date(rule, today))


# ---------------------------------------------------------------- the librarian's desk

# Refusals the librarian may override at the desk. Not a copy on loan to someone else (check it in
# first), nor an unknown card or label: those are facts, not rules.
# Each with the words a register uses for it.
OVERRIDABLE = {
    "loan_limit": N_("book limit reached"),
    "has_overdue": N_("an overdue book"),
    "copy_not_for_loan": N_("not for loan"),
    "copy_damaged": N_("damaged copy"),
    "inactive_patron": N_("inactive card"),
}
# The short list of reasons recorded with an override.
OVERRIDE_REASON_WORDS = {
    "teacher_request": N_("A teacher asked for it"),
    "class_work": N_("Needed for class work"),
    "exam_revision": N_("Exam revision"),
    "returned_on_paper": N_("The overdue book was returned (not yet recorded)"),
    "librarian_decision": N_("The librarian's decision"),
}
OVERRIDE_REASONS = tuple(OVERRIDE_REASON_WORDS)
# How a lost or damaged book's loan ends (đền sách).
SETTLEMENTS = ("replaced", "paid", "owed")
MAX_AMOUNT = 10_000_000  # VND: more than any book; a typo of extra zeros is refused


class NotOverridable(CirculationError):
    code = "not_overridable"
    message = N_("This refusal cannot be overridden: %(reason)s")

    def message_in(self, lang: str = DEFAULT_LANGUAGE) -> str:
        return translate(self.message, lang, reason=self.params["refusal"].message_in(lang))


class BadOverrideReason(CirculationError):
    code = "bad_override_reason"
    message = N_("Please choose a reason for lending despite the rules.")
    http_status = 400


class BadSettlement(CirculationError):
    code = "bad_settlement"
    message = N_("Please say how the book is made good: replaced by a copy (its label), paid (an amount up to 10,000,000 đ), or still owed.")
    http_status = 400


def checkout_override(
    patron: PatronView | None,
    copy: CopyView | None,
    open_loans: Iterable[LoanView],
    policy: Policy,
    today: date,
    reason: str,
) -> tuple[CheckoutDecision, str | None]:
    """Lend at the desk despite a refusal in :data:`OVERRIDABLE`, for a reason from the list.

    Returns the decision and the refusal's code that was overridden (None: nothing needed it).
    """
    if reason not in OVERRIDE_REASONS:
        raise BadOverrideReason()
    loans = list(open_loans)
    try:
        return checkout(patron, copy, loans, policy, today), None
    except CirculationError as refusal:
        if refusal.code not in OVERRIDABLE or patron is None or copy is None:
            raise NotOverridable(refusal=refusal) from refusal
        rule = policy.rule_for(patron.kind, copy.category)
        if not rule.loanable or rule.loan_days <= 0:
            rule = policy.rule_for(patron.kind, "*")  # a book not for loan goes home for the usual time
        return CheckoutDecision(due=policy.due_date(rule, today)), refusal.code


def settlement(how: str, amount: int | None, replacement: str) -> dict[str, object]:
    """A checked đền sách: how the book is made good, with the amount or the replacement's label."""
    if how not in SETTLEMENTS:
        raise BadSettlement()
    if how == "paid" and (amount is None or not 0 < amount <= MAX_AMOUNT):
        raise BadSettlement()
    if how == "replaced" and not replacement:
        raise BadSettlement()
    return {"how": how, "amount": amount if how == "paid" else None,
            "replacement": replacement if how == "replaced" else None}
