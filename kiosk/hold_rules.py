"""Holds (đặt trước), decided by a pure function of what every kiosk and the server already share.

Only two kinds of fact exist: a hold is *placed* (patron, title, when) and maybe *cancelled*. Which
copy waits on the hold shelf for whom, until when, and when a hold lapsed or was collected, is not
stored anywhere: :func:`allocate` derives it from the holds, the copies and the loans, the way
availability is derived from loans. So two offline kiosks can't disagree for long: once they have
the same facts (after a sync) they compute the same shelf, whatever order the facts came in.

The rules, for one title:

1. A hold is **collected** once its patron borrows any copy of the title at or after placing it,
   and **cancelled** by its cancel fact; neither waits any more.
2. Waiting holds queue by the time they were placed (the placing device's clock), then by uuid —
   the same order everywhere.
3. A copy can go to the hold shelf when it is in the main library, ``available`` and not on loan.
   Such copies are taken in the order they came back (last return time, then label).
4. The first copy goes to the first hold in the queue: it is **ready** from the later of the
   copy's return day and the hold's day, for ``shelf_days`` days. If the patron has not borrowed it
   by then, the hold **expires** and the same copy passes to the next hold in the queue, ready from
   the day after. Then the second copy, and so on.
5. A copy set aside for a ready hold can be lent only to that hold's patron (``copy_on_hold``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from .errors import N_
from .rules import CirculationError

WAITING, READY, EXPIRED, COLLECTED, CANCELLED = "waiting", "ready", "expired", "collected", "cancelled"


class CopyOnHold(CirculationError):
    code = "copy_on_hold"
    http_status = 409
    message = N_("This book is set aside for a reader who reserved it. Please give it to the librarian.")


class HoldNotNeeded(CirculationError):
    code = "hold_not_needed"
    http_status = 409
    message = N_("A copy of this book is on the shelf now: borrow it instead of reserving it.")


class AlreadyHeld(CirculationError):
    code = "already_reserved"
    http_status = 409
    message = N_("You have already reserved this book.")


class UnknownHold(CirculationError):
    code = "unknown_hold"
    http_status = 404
    message = N_("There is no such reservation.")


@dataclass(frozen=True)
class HoldView:
    uuid: str
    patron: str
    title_id: int
    placed_at: datetime
    cancelled_at: datetime | None = None


@dataclass(frozen=True)
class ShelfCopy:
    """A copy of the title that could wait on the hold shelf: in the library, available, not lent."""

    code: str
    title_id: int
    returned_at: datetime  # its last return (or when it was added, if never lent)


@dataclass(frozen=True)
class Borrowing:
    """A loan of a copy of the title, to see whether a hold was collected."""

    patron: str
    title_id: int
    checked_out_at: datetime


@dataclass(frozen=True)
class HoldState:
    uuid: str
    state: str
    copy: str | None = None  # the copy set aside (ready), or last set aside (expired)
    ready_on: date | None = None
    until: date | None = None  # last day on the hold shelf
    position: int | None = None  # 1-based place in the queue while waiting


def _ended(hold: HoldView, borrowed: list[Borrowing]) -> tuple[datetime | None, str | None]:
    """When and how a hold stopped waiting: its first collection or its cancellation, whichever came first."""
    collected = next((b.checked_out_at for b in borrowed if b.patron == hold.patron
                      and b.title_id == hold.title_id and b.checked_out_at >= hold.placed_at), None)
    if collected is not None and (hold.cancelled_at is None or collected <= hold.cancelled_at):
        return collected, COLLECTED
    if hold.cancelled_at is not None:
        return hold.cancelled_at, CANCELLED
    return None, None


def allocate(holds: Iterable[HoldView], copies: Iterable[ShelfCopy], borrowings: Iterable[Borrowing],
             today: date, shelf_days: int) -> dict[str, HoldState]:
    """Every hold's state on ``today`` (see the module's rules).

    A hold that ended (collected with another copy, or cancelled) while a shelf copy was set aside
    for it kept that copy until then; the copy passes on from that moment."""
    shelf_days = max(1, int(shelf_days))
    borrowed = sorted(borrowings, key=lambda b: b.checked_out_at)
    by_title: dict[int, list[HoldView]] = {}
    ended: dict[str, tuple[datetime | None, str | None]] = {}
    for hold in holds:
        ended[hold.uuid] = _ended(hold, borrowed)
        by_title.setdefault(hold.title_id, []).append(hold)
    shelf: dict[int, list[ShelfCopy]] = {}
    for copy in copies:
        shelf.setdefault(copy.title_id, []).append(copy)
    result: dict[str, HoldState] = {}
    for title_id, queue in by_title.items():
        pending = sorted(queue, key=lambda h: (h.placed_at, h.uuid))
        for copy in sorted(shelf.get(title_id, []), key=lambda c: (c.returned_at, c.code)):
            start = copy.returned_at
            while pending:
                hold = pending.pop(0)
                end, how = ended[hold.uuid]
                if end is not None:
                    if end > start:  # it held this copy until it ended: the copy passes on then
                        start = end
                    result[hold.uuid] = HoldState(hold.uuid, how)
                    continue
                # A device clock ahead of today's (facts from "tomorrow") must not hide a copy.
                ready_on = min(max(start, hold.placed_at).date(), today)
                until = ready_on + timedelta(days=shelf_days - 1)
                if until < today:
                    result[hold.uuid] = HoldState(hold.uuid, EXPIRED, copy.code, ready_on, until)
                    start = datetime.combine(until + timedelta(days=1), time.min)
                    continue
                result[hold.uuid] = HoldState(hold.uuid, READY, copy.code, ready_on, until)
                break
        position = 0
        for hold in pending:
            end, how = ended[hold.uuid]
            if end is not None:
                result[hold.uuid] = HoldState(hold.uuid, how)
            else:
                position += 1
                result[hold.uuid] = HoldState(hold.uuid, WAITING, position=position)
    return result


def set_aside(states: dict[str, HoldState]) -> dict[str, str]:
    """Copy label → the uuid of the ready hold it waits for."""
    return {s.copy: s.uuid for s in states.values() if s.state == READY and s.copy}


def check_checkout(copy_code: str, patron_code: str, states: dict[str, HoldState],
                   holders: dict[str, str]) -> None:
    """Refuse lending a copy that waits on the hold shelf for somebody else (``holders``: uuid → patron)."""
    uuid = set_aside(states).get(copy_code)
    if uuid is not None and holders.get(uuid) != patron_code:
        raise CopyOnHold()
