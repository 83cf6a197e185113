"""The server's change log: what a kiosk pulls.

A transaction collects the entities it touched and publishes them once, at its
end, under fresh change numbers taken from the ``ServerState`` row. That row
update holds a lock until commit (SQLite's write lock, PostgreSQL's row lock),
so change numbers become visible in order and ``seq > cursor`` never skips a
change that committed late.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from peewee import chunked

from kiosk.db import insert_rows
from kiosk.ledger import IN_CHUNK, TITLE_FIELDS, get_setting, iso
from kiosk.models import (
    ClosedDay,
    Copy,
    Hold,
    Loan,
    Patron,
    PolicyRule,
    RotationBatch,
    RotationItem,
    StocktakeScan,
    StocktakeSession,
    Title,
)

from .. import digest
from ..protocol import parse_cursor, rotation_item_key
from ..schema import SHARED_SETTINGS
from .models import Change, ServerState

Key = tuple[str, str]

# Patrons and copies get their numbers before the loans that name them.
KIND_ORDER = {"patron": 0, "copy": 1, "policy": 2, "calendar": 3, "setting": 4, "loan": 5, "stocktake": 6,
              "stocktake_scan": 7, "rotation": 8, "rotation_item": 9, "hold": 10}

CALENDAR_SETTINGS = ("closed_weekdays", "term_ends", "year_end")


def patron_states(codes: list[str]) -> dict[str, dict[str, Any]]:
    states = {}
    for chunk in chunked(codes, IN_CHUNK):
        for patron in Patron.select().where(Patron.code.in_(chunk)):
            states[patron.code] = {"code": patron.code, "name": patron.name, "class_name": patron.class_name,
                                   "kind": patron.kind, "school_year": patron.school_year, "active": patron.active,
                                   "gender": patron.gender}
    return states


def copy_states(codes: list[str]) -> dict[str, dict[str, Any]]:
    states = {}
    for chunk in chunked(codes, IN_CHUNK):
        for copy in Copy.select(Copy, Title).join(Title).where(Copy.code.in_(chunk)):
            state = {name: getattr(copy.title, name) for name in TITLE_FIELDS}
            state.update(item=copy.code, location=copy.location, shelf=copy.shelf, status=copy.status,
                         added_on=copy.added_on.isoformat() if copy.added_on else None, price=copy.price)
            states[copy.code] = state
    return states


def loan_states(uuids: list[str]) -> dict[str, dict[str, Any]]:
    states = {}
    for chunk in chunked(uuids, IN_CHUNK):
        query = (Loan.select(Loan, Copy.code, Patron.code).join(Copy).switch(Loan).join(Patron)
                 .where(Loan.uuid.in_(chunk)))
        for loan in query:
            states[loan.uuid] = {
                "loan": loan.uuid, "item": loan.copy.code, "patron": loan.patron.code,
                "at": iso(loan.checked_out_at), "due": loan.due.isoformat(),
                "returned_at": iso(loan.returned_at) if loan.returned_at else None,
                "renewals": loan.renewals, "location": loan.location,
                "checkout_device": loan.checkout_device, "checkin_device": loan.checkin_device,
            }
    return states


def _one_by_one(reader):
    """A reader of single entities (policy, calendar, settings: one row each) as a bulk reader."""

    def states(keys: list[str]) -> dict[str, dict[str, Any]]:
        found = {key: reader(key) for key in keys}
        return {key: state for key, state in found.items() if state is not None}

    return states


def policy_state(_key: str) -> dict[str, Any]:
    rules = PolicyRule.select().order_by(PolicyRule.patron_kind, PolicyRule.category)
    return {"rules": [{"patron_kind": r.patron_kind, "category": r.category, "max_loans": r.max_loans,
                       "loan_days": r.loan_days, "max_renewals": r.max_renewals, "due_mode": r.due_mode,
                       "loanable": r.loanable} for r in rules]}


def calendar_state(_key: str) -> dict[str, Any]:
    state: dict[str, Any] = {
        "closed_days": [{"day": row.day.isoformat(), "reason": row.reason}
                        for row in ClosedDay.select().order_by(ClosedDay.day)],
    }
    for name in CALENDAR_SETTINGS:
        value = get_setting(name)
        # No year end is a value too: left out, a kiosk would keep the one it had before.
        if value is not None or name == "year_end":
            state[name] = value
    return state


def setting_state(key: str) -> dict[str, Any] | None:
    if key not in SHARED_SETTINGS:
        return None
    value = get_setting(key)
    return None if value is None else {"key": key, "value": value}


def stocktake_states(keys: list[str]) -> dict[str, dict[str, Any]]:
    """Stock-take sessions, open and finished, so every kiosk can scan into a session opened on
    another and none scans into or finishes again one finished elsewhere."""

    found: dict[str, dict[str, Any]] = {}
    for chunk in chunked(keys, IN_CHUNK):
        for session in StocktakeSession.select().where(StocktakeSession.uuid.in_(chunk)):
            found[session.uuid] = {
                "session": session.uuid, "location": session.location, "shelf_from": session.shelf_from,
                "shelf_to": session.shelf_to, "at": iso(session.opened_at), "by": session.opened_by,
                "finished_at": iso(session.finished_at) if session.finished_at else None,
                "finished_by": session.finished_by, "result": session.result,
            }
    return found


def stocktake_scan_states(keys: list[str]) -> dict[str, dict[str, Any]]:
    """Every kiosk's scans, so a session finished on any kiosk after a sync sees them all."""

    found: dict[str, dict[str, Any]] = {}
    for chunk in chunked(keys, IN_CHUNK):
        query = (StocktakeScan.select(StocktakeScan, StocktakeSession.uuid.alias("session_uuid"))
                 .join(StocktakeSession).where(StocktakeScan.uuid.in_(chunk)).dicts())
        for row in query:
            found[row["uuid"]] = {
                "session": row["session_uuid"], "scan": row["uuid"], "item": row["item"],
                "at": iso(row["scanned_at"]), "device": row["device"], "by": row["by"],
                "status_seen": row["status_seen"],
            }
    return found


def rotation_states(keys: list[str]) -> dict[str, dict[str, Any]]:
    """Rotation batches, open and closed, so every kiosk lists the class libraries alike."""

    found: dict[str, dict[str, Any]] = {}
    for chunk in chunked(keys, IN_CHUNK):
        for batch in RotationBatch.select().where(RotationBatch.uuid.in_(chunk)):
            found[batch.uuid] = {
                "batch": batch.uuid, "location": batch.location, "class_name": batch.class_name,
                "teacher": batch.teacher, "helpers": list(batch.helpers),
                "due": batch.due.isoformat() if batch.due else None, "at": iso(batch.opened_at),
                "by": batch.opened_by, "closed_at": iso(batch.closed_at) if batch.closed_at else None,
                "closed_by": batch.closed_by,
            }
    return found


def rotation_item_states(keys: list[str]) -> dict[str, dict[str, Any]]:
    """Each copy of a batch and whether it is back, so a batch opened on one kiosk returns on another."""

    wanted = set(keys)
    batches = sorted({key.split("/", 1)[0] for key in keys})
    found: dict[str, dict[str, Any]] = {}
    for chunk in chunked(batches, IN_CHUNK):
        query = (RotationItem.select(RotationItem, RotationBatch.uuid, Copy.code).join(RotationBatch)
                 .switch(RotationItem).join(Copy).where(RotationBatch.uuid.in_(chunk)))
        for item in query:
            key = rotation_item_key(item.batch.uuid, item.copy.code)
            if key in wanted:
                found[key] = {
                    "batch": item.batch.uuid, "item": item.copy.code, "home_location": item.home_location,
                    "home_shelf": item.home_shelf, "at": iso(item.added_at), "by": item.added_by,
                    "returned_at": iso(item.returned_at) if item.returned_at else None,
                    "returned_by": item.returned_by,
                }
    return found


def hold_states(keys: list[str]) -> dict[str, dict[str, Any]]:
    """Holds as placed and maybe cancelled: the rest (shelf, queue, expiry) every kiosk derives alike."""
    found: dict[str, dict[str, Any]] = {}
    for chunk in chunked(keys, IN_CHUNK):
        for hold in Hold.select(Hold, Patron.code).join(Patron).where(Hold.uuid.in_(chunk)):
            found[hold.uuid] = {
                "hold": hold.uuid, "patron": hold.patron.code, "item": hold.item, "at": iso(hold.placed_at),
                "device": hold.device, "cancelled_at": iso(hold.cancelled_at) if hold.cancelled_at else None,
                "cancelled_by": hold.cancelled_by,
            }
    return found


# kind → (fact type a kiosk applies, bulk state reader: keys → {key: state}, absent = deleted)
PUBLISHERS = {
    "patron": ("patron.upsert", patron_states),
    "copy": ("catalog.upsert", copy_states),
    "loan": ("loan.state", loan_states),
    "policy": ("policy.set", _one_by_one(policy_state)),
    "calendar": ("calendar.set", _one_by_one(calendar_state)),
    "setting": ("setting.set", _one_by_one(setting_state)),
    "stocktake": ("stocktake.state", stocktake_states),
    "stocktake_scan": ("stocktake.scan", stocktake_scan_states),
    "rotation": ("rotation.state", rotation_states),
    "rotation_item": ("rotation_item.state", rotation_item_states),
    "hold": ("hold.place", hold_states),
}


def _with_open_loans(keys: set[Key]) -> set[Key]:
    """A changed copy or patron re-publishes its open loans, so they always follow it in the log."""
    copies = [key for kind, key in keys if kind == "copy"]
    patrons = [key for kind, key in keys if kind == "patron"]
    extra: set[Key] = set()
    for column, model, codes in ((Loan.copy, Copy, copies), (Loan.patron, Patron, patrons)):
        for chunk in chunked(codes, IN_CHUNK):
            query = (Loan.select(Loan.uuid).join(model, on=(column == model.id))
                     .where(model.code.in_(chunk) & Loan.is_open()))
            extra |= {("loan", row.uuid) for row in query}
    return keys | extra


def _with_rotation_items(keys: set[Key]) -> set[Key]:
    """A changed copy or batch re-publishes the batch entries naming it, so they always follow both
    in the log and a kiosk reading a snapshot has the copy and the batch when it meets the entry."""

    extra: set[Key] = set()
    for column, kind in ((Copy.code, "copy"), (RotationBatch.uuid, "rotation")):
        for chunk in chunked([key for key_kind, key in keys if key_kind == kind], IN_CHUNK):
            query = (RotationItem.select(RotationBatch.uuid, Copy.code).join(RotationBatch)
                     .switch(RotationItem).join(Copy).where(column.in_(chunk)).tuples())
            extra |= {("rotation_item", rotation_item_key(batch, item)) for batch, item in query}
    return keys | extra


def publish(touched: Iterable[Key]) -> int:
    """Give every touched entity a new change number with its current state (or a tombstone).

    Call last in the transaction that changed them; returns the highest number taken.
    """
    keys = _with_rotation_items(_with_open_loans({key for key in touched if key[0] in PUBLISHERS}))
    if not keys:
        return current_seq()
    ordered = sorted(keys, key=lambda key: (KIND_ORDER[key[0]], key[1]))
    ServerState.update(change_seq=ServerState.change_seq + len(ordered)).where(ServerState.id == 1).execute()
    top = current_seq()
    states: dict[str, dict[str, Any]] = {}
    for kind, (_fact_type, reader) in PUBLISHERS.items():
        wanted = [key for key_kind, key in ordered if key_kind == kind]
        if wanted:
            states[kind] = reader(wanted)
    rows = []
    for number, (kind, key) in enumerate(ordered, start=top - len(ordered) + 1):
        fact_type = PUBLISHERS[kind][0]
        state = states[kind].get(key)
        if state is None:
            rows.append({"kind": kind, "key": key, "seq": number, "op": "delete", "type": fact_type,
                         "payload": {"key": key}, "in_snapshot": False})
        else:
            in_snapshot = not (kind == "loan" and state["returned_at"] is not None)
            rows.append({"kind": kind, "key": key, "seq": number, "op": "upsert", "type": fact_type,
                         "payload": state, "in_snapshot": in_snapshot})
    insert_rows(Change, rows, conflict=("kind", "key"), update=("seq", "op", "type", "payload", "in_snapshot"))
    return top


def current_seq() -> int:
    return ServerState.get_by_id(1).change_seq


def epoch() -> str:
    return ServerState.get_by_id(1).epoch


# ---------------------------------------------------------------- anti-entropy (see sync/digest.py)

_digests: dict[tuple[str, int], list[str]] = {}  # this process's digests, by (epoch, change number)


def server_digests() -> tuple[ServerState, list[str]]:
    """The server's bucket digests at its current change number.

    Every change to copies, loans and cards is published, so the digests can only change
    with the change number: each worker computes them once per change number. They are
    kept only when the number did not move while they were computed (PostgreSQL reads
    each statement at its own moment).
    """
    state = ServerState.get_by_id(1)
    key = (state.epoch, state.change_seq)
    if key not in _digests:
        digests = digest.bucket_digests()
        if current_seq() != state.change_seq:
            return ServerState.get_by_id(1), []  # moved meanwhile: the caller says so
        _digests.clear()
        _digests[key] = digests
    return state, _digests[key]


def digest_answer(cursor_text: str | None, theirs: list[str], skip: list[int]) -> dict[str, Any]:
    """Which buckets differ from the kiosk's, with the server's rows for some of them (read-only).

    Compared only when the kiosk has pulled up to the server's change number: otherwise
    the difference may be news on its way, and the answer says ``moved``.
    """
    state, mine = server_digests()
    cursor = parse_cursor(cursor_text)
    answer: dict[str, Any] = {"change_seq": state.change_seq, "moved": True, "differs": [], "buckets": [],
                              "records": [], "shelved": []}
    if (not mine or cursor is None or cursor.epoch != state.epoch or cursor.seq != state.change_seq
            or cursor.snapshot_until):
        return answer
    differs = digest.differing(mine, theirs)
    buckets = [number for number in differs if number not in set(skip)][:digest.BUCKETS_PER_REPLY]
    copies, patrons = digest.codes_in(buckets)
    loans = []
    for chunk in chunked(copies, IN_CHUNK):
        loans += [uuid for (uuid,) in Loan.select(Loan.uuid).join(Copy)
                  .where(Copy.code.in_(chunk) & Loan.is_open()).tuples()]
    records = []
    for kind, keys in (("patron", patrons), ("copy", copies), ("loan", loans)):
        fact_type, reader = PUBLISHERS[kind]
        records += [{"seq": state.change_seq, "kind": kind, "key": key, "op": "upsert", "type": fact_type,
                     "payload": value} for key, value in reader(keys).items()]
    return {**answer, "moved": False, "differs": differs, "buckets": buckets, "records": records,
            "shelved": digest.shelved_in(buckets)}
