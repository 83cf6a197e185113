"""Applying a pushed batch: plain loans in bulk, every other fact one by one through apply.py.

Most of a school day's facts are plain: a book from the shelf lent to an active
card, later returned at the same kiosk. For those the conflict rules of
apply.py come down to "make the loan" and "close it, the copy is back", so a
batch reads what it needs with a few ``IN`` queries, decides in memory and
writes with a few bulk statements. A fact that could meet any conflict rule
(unknown or unavailable copy, inactive or unknown card, a loan open elsewhere,
a parked return, a copy with a conflict-closed loan, a return at another
kiosk, a malformed payload…) goes to apply.py's own appliers after the bulk
writes so far are flushed. The rules keep one implementation; the bulk path
takes only cases whose outcome is certain, and tests check both give the same
database (tests/sync/test_batch.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from peewee import Case, DatabaseError, IntegrityError, OperationalError, chunked

from kiosk import ledger, rules
from kiosk.db import db, insert_rows
from kiosk.ledger import IN_CHUNK
from kiosk.models import Copy, Loan, Patron

from .. import schema
from ..protocol import keys_of
from . import apply as applying
from .models import AppliedEvent, Conflict, PendingCheckin

Key = tuple[str, str]
MAX_REPUBLISH = 1000  # entities a refused fact may name and still have sent back


@dataclass
class _CopyState:
    id: int
    status: str
    location: str
    open_loan: str | None  # uuid of its open loan
    open_loan_device: str | None  # the kiosk that lent it
    plain: bool  # no conflict-closed loan and no parked return: no rule beyond the plain ones applies


def _text(payload: Mapping[str, Any], name: str) -> str | None:
    value = payload.get(name)
    return value if isinstance(value, str) and value else None


def _publishable(key: Any) -> bool:
    """A key a refused fact named that can be looked up and sent back (not a 15 MB or unstorable one)."""
    if not isinstance(key, str) or not key or len(key) > 2 * schema.MAX_CODE + 1:
        return False
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in key


def _moment(text: str | None) -> datetime | None:
    try:
        return ledger.parse_time(text) if text else None
    except ValueError:
        return None


def _day(text: str | None) -> date | None:
    try:
        return ledger.parse_day(text) if text else None
    except ValueError:
        return None


class BatchApplier:
    """One push batch of a device, applied in seq order inside the caller's transaction."""

    def __init__(self, device: str, now: datetime, role: str = schema.DESK) -> None:
        self.device, self.now, self.role = device, now, role
        self.refused: dict[int, str] = {}  # seq → why the fact is refused before anything reads it
        self.copies: dict[str, _CopyState | None] = {}
        self.patrons: dict[str, tuple[int, bool] | None] = {}  # code → (id, active)
        self.loan_exists: dict[str, bool] = {}
        self.used_uuids: set[str] = set()
        self.touched: set[Key] = set()
        self._new_loans: dict[str, dict[str, Any]] = {}
        self._closed: dict[str, datetime] = {}  # loans that were open before this batch
        self._statuses: dict[int, str] = {}
        self._applied: list[dict[str, Any]] = []

    # ------------------------------------------------------------ reading state

    def _load(self, events: Sequence[Mapping[str, Any]]) -> None:
        items, patrons, loans = set(), set(), set()
        for event in events:
            if event["type"] in ("loan.checkout", "loan.checkin"):
                payload = event["payload"]
                items.add(_text(payload, "item"))
                patrons.add(_text(payload, "patron"))
                loans.add(_text(payload, "loan"))
        self._load_copies(sorted(items - {None} - self.copies.keys()))
        self._load_patrons(sorted(patrons - {None} - self.patrons.keys()))
        self._load_loans(sorted(loans - {None} - self.loan_exists.keys()))
        self._load_uuids([event["uuid"] for event in events])

    def _load_uuids(self, uuids: Sequence[str]) -> None:
        for chunk in chunked(uuids, IN_CHUNK):
            self.used_uuids |= {row[0] for row in AppliedEvent.select(AppliedEvent.uuid)
                                .where(AppliedEvent.uuid.in_(chunk)).tuples()}

    def _load_copies(self, codes: Sequence[str]) -> None:
        for chunk in chunked(codes, IN_CHUNK):
            found = {code: _CopyState(id_, status, location, None, None, True) for id_, code, status, location in
                     Copy.select(Copy.id, Copy.code, Copy.status, Copy.location).where(Copy.code.in_(chunk)).tuples()}
            by_id = {state.id: state for state in found.values()}
            if by_id:
                ids = list(by_id)
                for uuid, copy_id, device in (Loan.open_loans(Loan.uuid, Loan.copy, Loan.checkout_device)
                                              .where(Loan.copy.in_(ids)).tuples()):
                    by_id[copy_id].open_loan, by_id[copy_id].open_loan_device = uuid, device
                for (copy_id,) in (Loan.select(Loan.copy).where(
                        Loan.copy.in_(ids) & (Loan.checkin_device == applying.CONFLICT_CLOSED)).tuples()):
                    by_id[copy_id].plain = False
                for (item,) in PendingCheckin.select(PendingCheckin.item).where(
                        PendingCheckin.item.in_(list(found))).tuples():
                    found[item].plain = False
            self.copies.update({code: found.get(code) for code in chunk})

    def _load_patrons(self, codes: Sequence[str]) -> None:
        for chunk in chunked(codes, IN_CHUNK):
            found = {code: (id_, active) for id_, code, active in
                     Patron.select(Patron.id, Patron.code, Patron.active).where(Patron.code.in_(chunk)).tuples()}
            self.patrons.update({code: found.get(code) for code in chunk})

    def _load_loans(self, uuids: Sequence[str]) -> None:
        for chunk in chunked(uuids, IN_CHUNK):
            found = {row[0] for row in Loan.select(Loan.uuid).where(Loan.uuid.in_(chunk)).tuples()}
            self.loan_exists.update({uuid: uuid in found for uuid in chunk})

    def _forget(self, keys: Iterable[Key]) -> None:
        """State a fact applied one by one may have changed: read it again when next needed."""
        for kind, key in keys:
            cache = {"copy": self.copies, "patron": self.patrons, "loan": self.loan_exists}.get(kind)
            if cache is not None:
                cache.pop(key, None)

    # ------------------------------------------------------------ plain facts

    def _plain_checkout(self, event: Mapping[str, Any]) -> bool:
        p = event["payload"]
        uuid, item, patron_code = (_text(p, name) for name in ("loan", "item", "patron"))
        device = self.device  # the device that signed the push, never one the payload names
        at, due = _moment(_text(p, "at")), _day(_text(p, "due"))
        if None in (uuid, item, patron_code, device, at, due) or self.loan_exists.get(uuid, True):
            return False
        copy, patron = self.copies.get(item), self.patrons.get(patron_code)
        if (copy is None or patron is None or not patron[1] or not copy.plain or copy.open_loan is not None
                or copy.status in applying.UNAVAILABLE):
            return False
        self._new_loans[uuid] = {
            "uuid": uuid, "copy": copy.id, "patron": patron[0], "checked_out_at": at, "due": due,
            "location": p.get("location") or copy.location, "checkout_device": device,
            "returned_at": None, "checkin_device": None, "renewals": 0,
        }
        self.loan_exists[uuid] = True
        # ledger.settle_copy_status, in memory (written by flush).
        copy.open_loan, copy.open_loan_device, copy.status = uuid, device, rules.settled_status(copy.status, True)
        self._statuses[copy.id] = copy.status
        return True

    def _plain_checkin(self, event: Mapping[str, Any]) -> bool:
        p = event["payload"]
        item, at = _text(p, "item"), _moment(_text(p, "at"))
        copy = self.copies.get(item) if item else None
        named = p.get("loan")
        if (at is None or copy is None or not copy.plain or copy.open_loan is None or copy.status != "on_loan"
                or copy.open_loan_device != self.device or (named is not None and named != copy.open_loan)):
            return False
        if copy.open_loan in self._new_loans:
            self._new_loans[copy.open_loan].update(returned_at=at, checkin_device=self.device)
        else:
            self._closed[copy.open_loan] = at
        self.touched.add(("loan", copy.open_loan))
        copy.open_loan, copy.open_loan_device, copy.status = None, None, rules.settled_status(copy.status, False)
        self._statuses[copy.id] = copy.status
        return True

    PLAIN = {"loan.checkout": _plain_checkout, "loan.checkin": _plain_checkin}

    # ------------------------------------------------------------ writing

    def _record(self, event: Mapping[str, Any], outcome: str, reason: str, uuid: str | None = None) -> None:
        self._applied.append({
            "device": self.device, "seq": event["seq"], "uuid": uuid or event["uuid"], "type": event["type"],
            "payload": event["payload"], "device_time": event["device_time"], "received_at": self.now,
            "outcome": outcome, "reason": reason,
        })

    def flush(self) -> None:
        """Write what the plain facts decided, so a fact applied one by one reads it."""
        # Returns first: a copy returned and lent again in one batch has one open loan at a time.
        closed = list(self._closed.items())
        for chunk in chunked(closed, IN_CHUNK):
            Loan.update(returned_at=Case(Loan.uuid, chunk), checkin_device=self.device).where(
                Loan.uuid.in_([uuid for uuid, _at in chunk])).execute()
        insert_rows(Loan, list(self._new_loans.values()))
        by_status: dict[str, list[int]] = {}
        for copy_id, status in self._statuses.items():
            by_status.setdefault(status, []).append(copy_id)
        for status, ids in by_status.items():
            for chunk in chunked(ids, IN_CHUNK):
                Copy.update(status=status).where(Copy.id.in_(chunk)).execute()
        insert_rows(AppliedEvent, self._applied)
        self._new_loans, self._closed, self._statuses, self._applied = {}, {}, {}, []

    # ------------------------------------------------------------ one by one

    def _apply_alone(self, event: Mapping[str, Any]) -> dict[str, Any]:
        self.flush()
        ctx = applying.Context(device=self.device, event_uuid=event["uuid"], device_time=event["device_time"],
                               received_at=self.now, known_seq=int(event.get("known") or 0))
        reason = ""
        stored_uuid = None
        if event["uuid"] in self.used_uuids:
            reason = "event uuid already used"
            # The uuid column stays unique; this copy of it is kept under its device and seq.
            stored_uuid = f"{event['uuid']}#{self.device}.{event['seq']}"
        else:
            try:
                with db.atomic():  # a savepoint: a rejected fact leaves nothing behind
                    applying.apply(ctx, event["type"], event["payload"])
            except applying.Rejected as exc:
                reason = exc.reason
            except OperationalError:
                raise  # locked or gone: the whole batch retries, nothing is marked processed
            except (IntegrityError, DatabaseError, KeyError, TypeError, ValueError, AttributeError) as exc:
                reason = f"cannot apply: {exc.__class__.__name__}"
        conflicts: list[Conflict] = ctx.save_conflicts()
        outcome = "rejected" if reason else ("applied_with_conflict" if conflicts else "applied")
        self._record(event, outcome, reason, stored_uuid)
        touched = ctx.touched | keys_of(event["type"], event["payload"])
        self._forget(touched)
        self.touched |= touched
        return {"seq": event["seq"], "uuid": event["uuid"], "outcome": outcome, "reason": reason,
                "conflicts": [c.kind for c in conflicts]}

    # ------------------------------------------------------------ the batch

    def _screen(self, event: Mapping[str, Any]) -> Mapping[str, Any]:
        """The fact as this device may say it: signed for by the device that signed the request, valid
        by its kind's schema (sync/schema.py) and allowed for the device's role, or noted in ``refused``."""
        event_type, payload = event["type"], event["payload"]
        fact = schema.FACTS.get(event_type)
        if fact is not None and "device" in fact.payload.fields:
            # Whatever the payload says, the fact is the authenticated device's.
            event = {**event, "payload": {**payload, "device": self.device}}
        try:
            schema.check_fact(event_type, event["payload"])
        except schema.Invalid as exc:
            self.refused[event["seq"]] = f"invalid: {exc.reason}"[:500]
            return event
        if not schema.allowed(self.role, event_type, event["payload"]):
            self.refused[event["seq"]] = f"not allowed for a {schema.ROLE_LABELS.get(self.role, self.role)} device"
        return event

    def _refuse(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """Processed, never applied, never stored: only its reason and the entities to send back."""
        reason = self.refused[event["seq"]]
        stored_uuid = f"{event['uuid']}#{self.device}.{event['seq']}" if event["uuid"] in self.used_uuids else None
        self._record({**event, "payload": {}}, "rejected", reason, stored_uuid)
        # The kiosk applied it locally already: the server's state of what it named goes back to it
        # (not for a fact naming more than a real one can: 300,000 codes would be 300,000 tombstones).
        named = keys_of(event["type"], event["payload"])
        touched = {(kind, key) for kind, key in named if _publishable(key)} if len(named) <= MAX_REPUBLISH else set()
        self._forget(touched)
        self.touched |= touched
        return {"seq": event["seq"], "uuid": event["uuid"], "outcome": "rejected", "reason": reason, "conflicts": []}

    def apply(self, events: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Apply the events in order; returns each one's outcome. Call :meth:`flush` before committing."""
        events = [self._screen(event) for event in events]
        self._load([event for event in events if event["seq"] not in self.refused])
        self._load_uuids([event["uuid"] for event in events if event["seq"] in self.refused])
        results: list[dict[str, Any]] = []
        position = 0
        while position < len(events):
            run = self._upsert_run(events, position)
            if run:
                results += self._apply_upserts(run)
                position += len(run)
                continue
            event = events[position]
            position += 1
            if event["seq"] in self.refused:
                results.append(self._refuse(event))
                self.used_uuids.add(event["uuid"])
                continue
            plain = self.PLAIN.get(event["type"])
            if plain is not None:
                self._ensure(event["payload"])  # reads only what a fact applied alone made us forget
            if plain is not None and event["uuid"] not in self.used_uuids and plain(self, event):
                self._record(event, "applied", "")
                self.touched |= keys_of(event["type"], event["payload"])
                results.append({"seq": event["seq"], "uuid": event["uuid"], "outcome": "applied", "reason": "",
                                "conflicts": []})
            else:
                results.append(self._apply_alone(event))
            self.used_uuids.add(event["uuid"])
        self.flush()
        return results

    # ------------------------------------------------------------ catalogue and card upserts

    def _upsert_run(self, events: Sequence[Mapping[str, Any]], start: int) -> list[Mapping[str, Any]]:
        """The consecutive copy (or card) upserts from ``start``: a kiosk's import, thousands at a time."""
        run: list[Mapping[str, Any]] = []
        uuids: set[str] = set()
        for event in events[start:]:
            if (event["type"] not in ledger.BULK_APPLIERS or (run and event["type"] != run[0]["type"])
                    or event["uuid"] in self.used_uuids or event["uuid"] in uuids or event["seq"] in self.refused):
                break
            run.append(event)
            uuids.add(event["uuid"])
        return run

    def _apply_upserts(self, run: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Upserts mean the same on the server as on a kiosk and meet no conflict rule: apply them
        set-based (``ledger.apply_many``); if any of them can't apply, each goes alone instead."""
        self.flush()
        try:
            with db.atomic():
                ledger.apply_many(run[0]["type"], [event["payload"] for event in run])
        except OperationalError:
            raise
        except (IntegrityError, DatabaseError, KeyError, TypeError, ValueError, AttributeError):
            results = [self._apply_alone(event) for event in run]
            self.used_uuids |= {event["uuid"] for event in run}
            return results
        results = []
        for event in run:
            self._record(event, "applied", "")
            touched = keys_of(event["type"], event["payload"])
            self._forget(touched)
            self.touched |= touched
            self.used_uuids.add(event["uuid"])
            results.append({"seq": event["seq"], "uuid": event["uuid"], "outcome": "applied", "reason": "",
                            "conflicts": []})
        return results

    def _ensure(self, payload: Mapping[str, Any]) -> None:
        item, patron, loan = _text(payload, "item"), _text(payload, "patron"), _text(payload, "loan")
        if item and item not in self.copies:
            self._load_copies([item])
        if patron and patron not in self.patrons:
            self._load_patrons([patron])
        if loan and loan not in self.loan_exists:
            self._load_loans([loan])
