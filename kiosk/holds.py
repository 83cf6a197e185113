"""The holds service: places and cancels reservations (facts) and reads their derived state.

What a hold *is* on a given day — waiting (and its place in the queue), ready on the hold shelf
with which copy until when, expired, collected, cancelled — comes from
:func:`kiosk.hold_rules.allocate` over the holds, copies and loans of the titles asked about.
"""

from __future__ import annotations

import uuid as uuidlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from peewee import fn

from . import hold_rules as hr
from . import rules
from .db import write_transaction
from .ledger import get_setting, iso, record
from .models import MAIN_LIBRARY, Copy, Hold, Loan, Patron, Title

DEFAULT_SHELF_DAYS = 3
NEVER_LENT = datetime(2000, 1, 1)  # a copy never lent has waited on the shelf "forever"
ACTIVE = (hr.WAITING, hr.READY)


@dataclass(frozen=True)
class HoldLine:
    uuid: str
    patron: str
    patron_name: str
    class_name: str
    title: str
    state: str
    copy: str | None
    until: date | None
    position: int | None
    placed_at: datetime


def shelf_days() -> int:
    value = get_setting("hold_shelf_days")
    try:
        days = int(value) if value is not None else DEFAULT_SHELF_DAYS
    except (TypeError, ValueError):
        return DEFAULT_SHELF_DAYS  # a bad stored value must never stop lending
    return days if 1 <= days <= 60 else DEFAULT_SHELF_DAYS


def states_for_titles(title_ids: Iterable[int], today: date) -> dict[str, hr.HoldState]:
    """Every hold's state for these titles (a few queries, whatever the number of holds)."""
    ids = sorted(set(title_ids))
    if not ids:
        return {}
    holds = [hr.HoldView(h.uuid, h.patron.code, h.title_id, h.placed_at, h.cancelled_at)
             for h in Hold.select(Hold, Patron.code).join(Patron).where(Hold.title.in_(ids))]
    if not holds:
        return {}
    shelf = [hr.ShelfCopy(code, title_id, back) for code, title_id, back in _on_shelf(ids)]
    holders = {h.patron for h in holds}
    first = min(h.placed_at for h in holds)
    borrowings = [hr.Borrowing(row.patron.code, row.copy.title_id, row.checked_out_at)
                  for row in (Loan.select(Loan.checked_out_at, Patron.code, Copy.title).join(Copy)
                              .switch(Loan).join(Patron)
                              .where(Copy.title.in_(ids), Patron.code.in_(holders), Loan.checked_out_at >= first))]
    return hr.allocate(holds, shelf, borrowings, today, shelf_days())


def check_checkout(copy: Copy, patron_code: str, today: date) -> None:
    """Refuse lending a copy that waits on the hold shelf for another reader."""
    states = states_for_titles([copy.title.id], today)
    if states:
        holders = {h.uuid: h.patron.code for h in Hold.select(Hold.uuid, Patron.code).join(Patron)
                   .where(Hold.uuid.in_(list(states)))}
        hr.check_checkout(copy.code, patron_code, states, holders)


def waits_for_a_hold(copy_code: str, title_id: int, today: date) -> bool:
    """True when this copy now waits on the hold shelf (the return screen says so, never for whom)."""
    return copy_code in hr.set_aside(states_for_titles([title_id], today))


class _Circulation(Protocol):  # kiosk.services.Circulation, named here without importing it (no loop)
    device: str

    def now(self) -> datetime: ...
    def today(self) -> date: ...
    def clean(self, raw: str) -> str: ...
    def find_patron(self, raw_code: str) -> Patron: ...


@dataclass
class Holds:
    """Placing and cancelling holds at a kiosk or the librarian's desk."""

    circulation: _Circulation

    def place(self, patron_code: str, item_code: str) -> HoldLine:
        circ = self.circulation
        with write_transaction():
            patron = circ.find_patron(patron_code)
            copy = (Copy.select(Copy, Title).join(Title).where(Copy.code == circ.clean(item_code)).first())
            if copy is None:
                raise rules.UnknownCopy()
            today = circ.today()
            states = states_for_titles([copy.title_id], today)
            mine = (Hold.select(Hold.uuid).where(Hold.patron == patron, Hold.title == copy.title_id))
            if any(states.get(h.uuid, hr.HoldState(h.uuid, hr.WAITING)).state in ACTIVE for h in mine):
                raise hr.AlreadyHeld()
            free = _shelf_copies_not_set_aside(copy.title_id, states)
            if free:
                raise hr.HoldNotNeeded()
            now = circ.now()
            hold_uuid = str(uuidlib.uuid4())
            record("hold.place", {"hold": hold_uuid, "patron": patron.code, "item": copy.code, "at": iso(now),
                                  "device": circ.device}, device=circ.device, device_time=now)
        return self.lines(patron_code=patron.code, uuids=[hold_uuid])[0]

    def cancel(self, hold_uuid: str, patron_code: str | None = None, by: str = "") -> None:
        """Cancel a hold; with ``patron_code`` only that reader's own (the public kiosk)."""
        circ = self.circulation
        with write_transaction():
            query = Hold.select(Hold, Patron.code).join(Patron).where(Hold.uuid == str(hold_uuid)[:64])
            hold = query.first()
            if hold is None or (patron_code is not None and hold.patron.code != circ.clean(patron_code)):
                raise hr.UnknownHold()
            if hold.cancelled_at is not None:
                return
            now = circ.now()
            record("hold.cancel", {"hold": hold.uuid, "at": iso(now), "by": by or circ.device},
                   device=circ.device, device_time=now)

    def lines(self, patron_code: str | None = None, uuids: list[str] | None = None,
              active_only: bool = False) -> list[HoldLine]:
        query = Hold.select(Hold, Patron, Title).join(Patron).switch(Hold).join(Title)
        if patron_code is not None:
            query = query.where(Patron.code == self.circulation.clean(patron_code))
        if uuids is not None:
            query = query.where(Hold.uuid.in_(uuids))
        holds = list(query)
        states = states_for_titles({h.title_id for h in holds}, self.circulation.today())
        lines = []
        for h in holds:
            s = states.get(h.uuid, hr.HoldState(h.uuid, hr.WAITING))
            if active_only and s.state not in ACTIVE:
                continue
            lines.append(HoldLine(h.uuid, h.patron.code, h.patron.name, h.patron.class_name, h.title.title,
                                  s.state, s.copy, s.until, s.position, h.placed_at))
        order = {hr.READY: 0, hr.WAITING: 1}
        return sorted(lines, key=lambda line: (order.get(line.state, 2), line.title, line.placed_at))


def _on_shelf(title_ids: list[int]) -> list[tuple[str, int, datetime]]:
    """(label, title id, last return) of the copies of these titles that could wait on the hold shelf:
    in the main library, available, not on loan."""
    lent = Loan.open_loans(Loan.copy)
    copies = list(Copy.select(Copy.id, Copy.code, Copy.title).where(
        Copy.title.in_(title_ids), Copy.location == MAIN_LIBRARY, Copy.status == "available",
        Copy.id.not_in(lent)).tuples())
    if not copies:
        return []
    backs = dict(Loan.select(Loan.copy, fn.MAX(Loan.returned_at)).where(Loan.copy.in_([c[0] for c in copies]))
                 .group_by(Loan.copy).tuples())
    found = []
    for copy_id, code, title_id in copies:
        back = backs.get(copy_id)
        if isinstance(back, str):  # SQLite returns an aggregate of a datetime column as its text
            back = datetime.fromisoformat(back)
        found.append((code, title_id, back or NEVER_LENT))
    return found


def _shelf_copies_not_set_aside(title_id: int, states: dict[str, hr.HoldState]) -> list[str]:
    taken = set(hr.set_aside(states))
    return [code for code, _title, _back in _on_shelf([title_id]) if code not in taken]
