"""How the server applies a kiosk's fact: the conflict rules of docs/sync-protocol.md.

Facts from kiosks happened: the book did leave the library. So a fact is
accepted whenever it can be, and anything surprising becomes a ``Conflict`` row
for the librarian. Device clocks are recorded and shown, never used to choose.
An applier raises :class:`Rejected` only for a fact that can never apply; the
push loop records it as processed with that reason so the kiosk never gets stuck.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kiosk import ledger, rules
from kiosk.models import Copy, Loan, Patron, Title

from .changes import SHARED_SETTINGS, current_seq
from .models import AppliedEvent, Conflict, PendingCheckin

Payload = Mapping[str, Any]
UNAVAILABLE = ("lost", "withdrawn", "damaged", "not_for_loan")
CONFLICT_CLOSED = "conflict"  # checkin_device of a loan closed by a double-checkout decision


class Rejected(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Context:
    """One fact being applied: who sent it, when it arrived, what it touched and flagged."""

    device: str
    event_uuid: str
    device_time: str
    received_at: datetime
    known_seq: int = 0  # the server change number the kiosk had pulled when it made the fact
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    touched: set[tuple[str, str]] = field(default_factory=set)

    def conflict(self, kind: str, *, status: str = "open", **values: Any) -> None:
        """Queue a conflict row; written by :meth:`save_conflicts` even when the fact is rejected."""
        self.conflicts.append({"kind": kind, "status": status, **values})

    def save_conflicts(self) -> list[Conflict]:
        return [
            Conflict.create(device=self.device, event_uuid=self.event_uuid, device_time=self.device_time,
                            received_at=self.received_at, resolution="auto" if row["status"] == "resolved" else "",
                            resolved_at=self.received_at if row["status"] == "resolved" else None, **row)
            for row in self.conflicts
        ]


def _text(p: Payload, name: str) -> str:
    value = p.get(name)
    if not isinstance(value, str) or not value:
        raise Rejected(f"missing {name}")
    return value


def _time(p: Payload, name: str) -> datetime:
    try:
        return ledger.parse_time(_text(p, name))
    except ValueError as exc:
        raise Rejected(f"bad {name}") from exc


def _open_loan(copy: Copy) -> Loan | None:
    return Loan.open_loans().where(Loan.copy == copy).first()


def _found(copy: Copy) -> None:
    """The book was at a kiosk's desk: a lost one is found (rules.TRANSITIONS, "checkin")."""
    copy = Copy.get_by_id(copy.id)
    status = rules.transition(copy.status, "checkin")
    if status != copy.status:
        Copy.update(status=status).where(Copy.id == copy.id).execute()


def _close(loan: Loan, at: datetime, device: str) -> None:
    Loan.update(returned_at=at, checkin_device=device).where(Loan.id == loan.id).execute()


def after_return(copy: Copy, returned: str, touched: set[tuple[str, str]], now: datetime,
                 how: Mapping[str, str]) -> Loan | None:
    """A loan of ``copy`` was closed by a return: keep the double-checkout rule order-free.

    Loans held closed by a double-checkout decision are the ones the smaller uuid
    beat. Had the returned loan reached the server before them, they would have
    found the copy free; so when no loan of the copy is open any more, the held
    loan with the smallest uuid opens again, exactly as if the facts had arrived
    the other way round. The conflict rows naming the returned loan record what
    happened, and are resolved once none of their loans is still held.
    Returns the loan that opened again, if any.
    """
    reopened = None
    if _open_loan(copy) is None:
        held = list(Loan.select().where((Loan.copy == copy) & (Loan.checkin_device == CONFLICT_CLOSED)))
        if held:
            reopened = min(held, key=lambda loan: loan.uuid)  # Python's order: the one apply_checkout uses
            Loan.update(returned_at=None, checkin_device=None).where(Loan.id == reopened.id).execute()
            touched.add(("loan", reopened.uuid))
    rows = Conflict.select().where((Conflict.kind == "double_checkout") & (Conflict.status == "open")
                                   & (Conflict.item == copy.code)
                                   & ((Conflict.loan == returned) | (Conflict.other_loan == returned)))
    for row in rows:
        details = {**row.details, "returned_loan": returned, **how}
        if reopened is not None:
            details["reopened_loan"] = reopened.uuid
        still_held = Loan.select().where(Loan.uuid.in_([row.loan, row.other_loan])
                                         & (Loan.checkin_device == CONFLICT_CLOSED)).exists()
        settled = {} if still_held else {"status": "resolved", "resolution": "auto", "resolved_at": now}
        Conflict.update(details=details, **settled).where(Conflict.id == row.id).execute()
    return reopened


def apply_checkout(ctx: Context, p: Payload) -> None:
    loan_uuid, item, patron_code = _text(p, "loan"), _text(p, "item"), _text(p, "patron")
    at = _time(p, "at")
    due = ledger.parse_day(_text(p, "due"))
    if Loan.get_or_none(Loan.uuid == loan_uuid) is not None:
        raise Rejected("loan already recorded")
    copy = Copy.get_or_none(Copy.code == item)
    if copy is None:
        title = Title.create(title=item, category="other")
        copy = Copy.create(code=item, title=title, location=p.get("location") or "main")
        ctx.conflict("unknown_copy", item=item, patron=patron_code, loan=loan_uuid)
    patron = Patron.get_or_none(Patron.code == patron_code)
    if patron is None:
        patron = Patron.create(code=patron_code, name=patron_code, active=False)
        ctx.conflict("unknown_patron", item=item, patron=patron_code, loan=loan_uuid)
    elif not patron.active:
        ctx.conflict("patron_inactive", item=item, patron=patron_code, loan=loan_uuid)
    if copy.status in UNAVAILABLE:
        ctx.conflict("copy_unavailable", item=item, patron=patron_code, loan=loan_uuid,
                     details={"status": copy.status, "note": copy.status_note})
        # A student has the book: the kiosk's loan wins over the server's mark until the librarian
        # looks (the conflict keeps the mark); settled to "on loan" with the loan below.
        Copy.update(status="available").where(Copy.id == copy.id).execute()

    # This kiosk's own earlier unmatched returns of the copy are behind it now.
    PendingCheckin.delete().where((PendingCheckin.item == item) & (PendingCheckin.device == ctx.device)).execute()
    current = _open_loan(copy)
    loan = Loan.create(uuid=loan_uuid, copy=copy, patron=patron, checked_out_at=at, due=due,
                       location=p.get("location") or copy.location, checkout_device=ctx.device,
                       returned_at=ctx.received_at if current is not None else None,
                       checkin_device=CONFLICT_CLOSED if current is not None else None)
    if current is not None:
        # Lent at two kiosks while both were offline. Both facts are kept; until the
        # librarian decides, the loan with the smaller uuid stays open, which is the
        # same whichever kiosk synced first (never the device clocks).
        if loan.uuid < current.uuid:
            _close(current, ctx.received_at, CONFLICT_CLOSED)
            Loan.update(returned_at=None, checkin_device=None).where(Loan.id == loan.id).execute()
        ctx.conflict("double_checkout", item=item, patron=patron_code, loan=loan_uuid, other_loan=current.uuid,
                     details={"other_patron": current.patron.code, "other_device": current.checkout_device,
                              "other_device_time": ledger.iso(current.checked_out_at)})
        ctx.touched.add(("loan", current.uuid))
    else:
        parked = (PendingCheckin.select()
                  .where((PendingCheckin.item == item) & (PendingCheckin.device != ctx.device)
                         & (PendingCheckin.park_seq >= ctx.known_seq))
                  .order_by(PendingCheckin.id).first())
        if parked is not None:
            # Returned at another kiosk before this checkout reached the server.
            _close(loan, ledger.parse_time(parked.at), parked.device)
            ctx.conflict("returned_elsewhere", status="resolved", item=item, patron=patron_code, loan=loan_uuid,
                         details={"returned_at_device": parked.device, "return_device_time": parked.at})
            parked.delete_instance()
    ledger.settle_copy_status([copy.id])
    ctx.touched |= {("copy", item), ("patron", patron_code), ("loan", loan_uuid)}


def apply_checkin(ctx: Context, p: Payload) -> None:
    item = _text(p, "item")
    at = _time(p, "at")
    copy = Copy.get_or_none(Copy.code == item)
    if copy is None:
        ctx.conflict("unknown_copy_returned", item=item)
        raise Rejected("unknown item")
    loan_uuid = p.get("loan") if isinstance(p.get("loan"), str) else None
    loan = Loan.get_or_none(Loan.uuid == loan_uuid) if loan_uuid else None
    if loan is None:
        loan = _open_loan(copy)
    if loan is None:
        # Nothing open here yet: the checkout may still be on a kiosk that is offline.
        PendingCheckin.create(item=item, device=ctx.device, event_uuid=ctx.event_uuid, at=ledger.iso(at),
                              received_at=ctx.received_at, park_seq=current_seq())
    elif loan.returned_at is None or loan.checkin_device == CONFLICT_CLOSED:
        _close(loan, at, ctx.device)
        if loan.checkout_device != ctx.device:
            ctx.conflict("returned_elsewhere", status="resolved", item=item, patron=loan.patron.code,
                         loan=loan.uuid, details={"returned_at_device": ctx.device,
                                                  "return_device_time": ledger.iso(at)})
        ctx.touched.add(("loan", loan.uuid))
        after_return(copy, loan.uuid, ctx.touched, ctx.received_at,
                     {"returned_at_device": ctx.device, "return_device_time": ledger.iso(at)})
    _found(copy)
    ledger.settle_copy_status([copy.id])
    ctx.touched.add(("copy", item))


def apply_renew(ctx: Context, p: Payload) -> None:
    loan = Loan.get_or_none(Loan.uuid == _text(p, "loan"))
    if loan is None or loan.returned_at is not None:
        ctx.conflict("renew_closed_loan", item=str(p.get("item", "")), loan=str(p.get("loan")))
        raise Rejected("loan is not open")
    due = ledger.parse_day(_text(p, "due"))
    renewals = p.get("renewals")
    if not isinstance(renewals, int):
        raise Rejected("bad renewals")
    Loan.update(due=max(due, loan.due), renewals=max(renewals, loan.renewals)).where(Loan.id == loan.id).execute()
    ctx.touched.add(("loan", loan.uuid))


def apply_copy_status(ctx: Context, p: Payload) -> None:
    copy = Copy.get_or_none(Copy.code == _text(p, "item"))
    status = _text(p, "status")
    if copy is None:
        raise Rejected("unknown item")
    if status not in (*rules.LOAN_STATUSES, *UNAVAILABLE):
        raise Rejected("bad status")
    if status == "available":  # as ledger.apply_copy_status: a stated "on loan" is kept
        status = rules.settled_status(status, _open_loan(copy) is not None)
    Copy.update(status=status, status_note=str(p.get("note", ""))).where(Copy.id == copy.id).execute()
    ctx.touched.add(("copy", copy.code))


def _via_ledger(event_type: str) -> Callable[[Context, Payload], None]:
    """Catalogue, patron, policy and calendar facts mean the same on the server as on a kiosk."""

    def applier(ctx: Context, p: Payload) -> None:
        try:
            ledger.apply(event_type, p)
        except (KeyError, TypeError, ValueError) as exc:
            raise Rejected(f"bad payload: {exc.__class__.__name__}") from exc

    return applier


def apply_setting(ctx: Context, p: Payload) -> None:
    if p.get("key") in SHARED_SETTINGS:
        ledger.apply("setting.set", p)
    # Otherwise the kiosk's own setting: nothing for the school to share, nothing wrong either.


def _received_here_before(device: str, code: str) -> bool:
    """Did this kiosk's own intake already give out ``code``? (Read only when a number is taken.)"""
    earlier = AppliedEvent.select(AppliedEvent.payload).where(
        (AppliedEvent.type == "intake.receive") & (AppliedEvent.device == device)
        & AppliedEvent.payload.cast("text").contains(code))  # as stored text, not as a JSON value
    return any(code in (row.payload.get("items") or []) for row in earlier)


def apply_intake(ctx: Context, p: Payload) -> None:
    """New copies under the numbers the kiosk gave them, except numbers the server already has.

    Two kiosks offline can give the same next number to two books, even two copies of
    one class set. The copy the server had first keeps the number (a label is already
    stuck on it); the other book becomes a conflict so the librarian gives it a new
    number. Only this kiosk's own earlier intake of the number on the same title is the
    same copy received again: it stays as it is.
    """
    items = p.get("items")
    if not isinstance(items, list) or not all(isinstance(code, str) and code for code in items):
        raise Rejected("bad items")
    received = ledger.find_title(p.get("isbn") or None, _text(p, "title"), p.get("author") or "")
    taken = {copy.code: copy for copy in Copy.select(Copy, Title).join(Title).where(Copy.code.in_(items))}
    for code, copy in taken.items():
        if received is None or copy.title_id != received.id or not _received_here_before(ctx.device, code):
            ctx.conflict("duplicate_accession", item=code, details={
                "kept_title": copy.title.title, "kept_isbn": copy.title.isbn,
                "other_title": p.get("title"), "other_isbn": p.get("isbn"), "other_author": p.get("author"),
                "device": ctx.device, "device_time": ctx.device_time})
    _via_ledger("intake.receive")(ctx, {**p, "items": [code for code in items if code not in taken]})


APPLIERS: Mapping[str, Callable[[Context, Payload], None]] = {
    "loan.checkout": apply_checkout,
    "loan.checkin": apply_checkin,
    "loan.renew": apply_renew,
    "copy.status": apply_copy_status,
    "patron.upsert": _via_ledger("patron.upsert"),
    "catalog.upsert": _via_ledger("catalog.upsert"),
    "policy.set": _via_ledger("policy.set"),
    "calendar.set": _via_ledger("calendar.set"),
    "setting.set": apply_setting,
    "intake.receive": apply_intake,
}


def apply(ctx: Context, event_type: str, payload: Payload) -> None:
    """Circulation and intake facts get the conflict rules; other kinds the kiosk knows (rotation,
    stock-take…) are written to merge in any order, so the kiosk's own applier serves the server too."""
    applier = APPLIERS.get(event_type)
    if applier is None and event_type in ledger.APPLIERS:
        applier = _via_ledger(event_type)
    if applier is None:
        raise Rejected(f"unknown event type {event_type}")
    applier(ctx, payload)
