"""Server services: pairing, push, pull, status, conflict resolution. Each is one transaction."""

from __future__ import annotations

import contextlib
import hashlib
import secrets
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from peewee import fn

from kiosk import ledger
from kiosk.db import db, is_sqlite, write_transaction
from kiosk.errors import N_, MuontraError
from kiosk.models import Copy, Loan, Patron, RotationItem, Title

from .. import schema
from ..protocol import (
    MAX_PULL_LIMIT,
    BadPairingCode,
    Cursor,
    DeviceTaken,
    derive_device_secret,
    keys_of,
    parse_cursor,
)
from . import apply as applying
from .batch import BatchApplier
from .changes import current_seq, publish
from .models import AppliedEvent, Change, Conflict, Device, PairingCode, PendingCheckin, ServerState

PAIRING_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read aloud and typed by hand
PAIRING_HOURS = 24
APPLY_LOCK = 0x4D554F4E  # PostgreSQL advisory lock id for the push path ("MUON")


class UnknownDevice(MuontraError):
    code = "unknown_device"
    message = N_("There is no device called %(name)s.")
    http_status = 404


class UnknownConflict(MuontraError):
    code = "unknown_conflict"
    message = N_("There is no such conflict.")
    http_status = 404


@contextlib.contextmanager
def server_write() -> Iterator[None]:
    """The push path's transaction: one applier at a time.

    Apply rules read then write across devices (one open loan per copy), so
    pushes are serialised: SQLite by ``BEGIN IMMEDIATE``, PostgreSQL by a
    transaction-scoped advisory lock taken first thing.
    """
    with write_transaction():
        if not is_sqlite():
            db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (APPLY_LOCK,))
        yield


def _code_hash(code: str) -> str:
    return hashlib.sha256(code.replace("-", "").replace(" ", "").upper().encode()).hexdigest()


# ---------------------------------------------------------------- devices


class UnknownRole(MuontraError):
    code = "unknown_role"
    message = N_("There is no device role called %(role)s.")


class DeviceRevoked(MuontraError):
    code = "device_revoked"
    message = N_("%(name)s is revoked: it can not be paired again. Pair a new kiosk instead.")
    http_status = 409


def _role(role: str) -> str:
    if role not in schema.ROLES:
        raise UnknownRole(role=str(role)[:40])
    return role


def _new_code(name: str, now: datetime, role: str, device: str | None = None) -> str:
    raw = "".join(secrets.choice(PAIRING_ALPHABET) for _ in range(8))
    code = f"{raw[:4]}-{raw[4:]}"
    PairingCode.create(code_hash=_code_hash(code), name=name.strip() or "kiosk", created_at=now,
                       expires_at=now + timedelta(hours=PAIRING_HOURS), role=role, device=device)
    return code


def add_device(name: str, now: datetime, role: str = schema.DEFAULT_ROLE) -> str:
    """A one-time pairing code for a new kiosk (valid for a day), for a device of ``role``."""
    with write_transaction():
        return _new_code(name, now, _role(role))


def repair_device(name_or_id: str, now: datetime) -> tuple[Device, str]:
    """The librarian pairs a device again (a new tablet, a lost secret): its old key stops working
    now, and the code works only for that device id. A revoked device stays revoked."""
    with write_transaction():
        device = _device(name_or_id)
        if device.revoked:
            raise DeviceRevoked(name=device.name)
        Device.update(key_version=Device.key_version + 1).where(Device.id == device.id).execute()
        return device, _new_code(device.name, now, device.role, device.id)


def set_role(name_or_id: str, role: str) -> Device:
    """What a device may record from now on (its next push is checked against it)."""
    with write_transaction():
        device = _device(name_or_id)
        Device.update(role=_role(role)).where(Device.id == device.id).execute()
    return Device.get_by_id(device.id)


def pair(code: str, device_id: str, master_key: bytes, now: datetime) -> dict[str, Any]:
    """Exchange a pairing code for the device's secret.

    A new code pairs a new device id only: an id the server knows (every kiosk shows its own)
    would otherwise be taken over, or a revoked one brought back. Pairing a known device again
    takes the librarian's "pair again" code for that device, which has already revoked its old key.
    """
    if not _readable(schema.Text(32, 1, single_line=True), code) or not _readable(schema.DEVICE, device_id):
        raise BadPairingCode()
    with write_transaction():
        row = PairingCode.get_or_none(PairingCode.code_hash == _code_hash(code))
        if row is None or row.used_by is not None or row.expires_at < now:
            raise BadPairingCode()
        device = Device.get_or_none(Device.id == device_id)
        if row.device is not None and (row.device != device_id or device is None or device.revoked):
            raise BadPairingCode()  # a "pair again" code is for its own device, never another
        if row.device is None and device is not None:
            raise DeviceTaken()
        PairingCode.update(used_by=device_id).where(PairingCode.code_hash == row.code_hash).execute()
        if device is None:
            device = Device.create(id=device_id, name=row.name, paired_at=now, role=row.role)
        else:
            Device.update(paired_at=now).where(Device.id == device.id).execute()
    return {"device": device.id, "name": device.name, "last_seq": device.last_seq, "role": device.role,
            "secret": derive_device_secret(master_key, device.id, device.key_version)}


def _readable(spec: schema.Spec, value: str) -> bool:
    """A typed code or a device id the server can look up (a lone surrogate can't even be hashed)."""
    try:
        spec.check(value, "")
    except schema.Invalid:
        return False
    return True


def _device(name_or_id: str) -> Device:
    device = Device.get_or_none((Device.id == name_or_id) | (Device.name == name_or_id))
    if device is None:
        raise UnknownDevice(name=name_or_id)
    return device


def revoke_device(name_or_id: str) -> Device:
    with write_transaction():
        device = _device(name_or_id)
        Device.update(revoked=True).where(Device.id == device.id).execute()
    return device


# ---------------------------------------------------------------- push


def _duplicates(device: str, events: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Outcomes of events already processed (a resent batch): acknowledged again, applied never twice."""
    seqs = [event["seq"] for event in events]
    known = {row.seq: row for row in AppliedEvent.select().where(
        (AppliedEvent.device == device) & AppliedEvent.seq.in_(seqs))} if seqs else {}
    return [{"seq": seq, "uuid": known[seq].uuid, "outcome": known[seq].outcome, "reason": known[seq].reason,
             "duplicate": True} if seq in known else {"seq": seq, "outcome": "applied", "duplicate": True}
            for seq in seqs]


def _note_rewound(device: str, event: Mapping[str, Any], last: int, now: datetime) -> None:
    """Tell the librarian once: a restore is fine, but two machines sharing one identity are not."""
    if not Conflict.select().where((Conflict.device == device) & (Conflict.kind == "device_rewound")
                                   & (Conflict.status == "open")).exists():
        Conflict.create(kind="device_rewound", device=device, event_uuid=event["uuid"],
                        device_time=str(event.get("device_time", ""))[:40], received_at=now,
                        details={"seq": event["seq"], "last_seq": last})


def push(device_id: str, events: Sequence[Mapping[str, Any]], now: datetime, reported_seq: int = 0) -> dict:
    """Apply a batch exactly once and in order; the device's last seq advances in the same transaction."""
    with server_write():
        device = Device.get_by_id(device_id)
        last = device.last_seq
        seen = [event for event in events if event["seq"] <= last]
        answers = _duplicates(device.id, seen)
        fresh: list[Mapping[str, Any]] = []
        stopped = None
        reused = [event for result, event in zip(answers, seen, strict=True)
                  if result.get("uuid") not in (None, event["uuid"])]
        if reused:
            # Another fact under a number we already hold: this device's database forgot what it
            # had sent (restored from a backup, an SD card copied back). Nothing after it applies
            # in this batch; the kiosk moves its newer facts past our last number and sends again.
            stopped = "rewound"
            _note_rewound(device.id, reused[0], last, now)
        for event in events[len(seen):] if stopped is None else ():  # validate_events keeps seq order
            if event["seq"] != last + 1:
                stopped = "gap"  # something before it never arrived: wait for it
                break
            fresh.append(event)
            last = event["seq"]
        applier = BatchApplier(device.id, now, device.role)
        results = answers + applier.apply(fresh)
        Device.update(last_seq=last, last_sync=now, reported_seq=max(reported_seq, last)).where(
            Device.id == device.id).execute()
        # A resent event (its reply was lost) publishes its entities' current state again, as a
        # new one does: a kiosk that held back pulled state for them while the event was unsent
        # gets that state after this acknowledgement instead of never.
        resent = {key for event in seen for key in keys_of(event["type"], event["payload"])}
        publish(applier.touched | resent)
    return {"last_seq": last, "results": results, "stopped": stopped}


# ---------------------------------------------------------------- pull


def changes_since(cursor_text: str | None, limit: int, want_total: bool = False) -> dict[str, Any]:
    """One page of changes after the cursor, or the start of a snapshot when it can't be served (read-only)."""
    limit = max(1, min(int(limit), MAX_PULL_LIMIT))
    state = ServerState.get_by_id(1)
    cursor = parse_cursor(cursor_text)
    reset = (cursor is None or cursor.epoch != state.epoch or cursor.seq > state.change_seq
             or cursor.seq < state.snapshot_floor)
    since = 0 if reset else cursor.seq
    # Every change up to ``state.change_seq`` has committed: the counter row is
    # only updated under a lock held until commit (see changes.py).
    until = state.change_seq if reset else cursor.snapshot_until
    where = Change.seq > since
    if until:
        # A fresh kiosk needs no closed loans or tombstones from before its snapshot.
        where &= (Change.in_snapshot == True) | (Change.seq > until)  # noqa: E712 (peewee expression)
    rows = list(Change.select().where(where).order_by(Change.seq).limit(limit + 1))
    more = len(rows) > limit
    rows = rows[:limit]
    if more:
        top = rows[-1].seq
    else:
        top = max([since, until, *(row.seq for row in rows[-1:])])
    reply: dict[str, Any] = {
        "cursor": Cursor(state.epoch, top, until if more else 0).encode(), "reset": reset, "more": more,
        "records": [{"seq": r.seq, "kind": r.kind, "key": r.key, "op": r.op, "type": r.type, "payload": r.payload}
                    for r in rows],
    }
    if want_total:
        reply["total"] = Change.select().where(where).count()
    return reply


def pull(device_id: str, cursor_text: str | None, limit: int, now: datetime, want_total: bool = False) -> dict:
    """A page of changes for a device, noting when it last synced and counting its open conflicts."""
    reply = changes_since(cursor_text, limit, want_total)
    with write_transaction():
        Device.update(pull_cursor=reply["cursor"], last_sync=now).where(Device.id == device_id).execute()
    reply["conflicts_open"] = (Conflict.select().where((Conflict.device == device_id)
                                                       & (Conflict.status == "open")).count())
    # The device's role as the librarian last set it: the kiosk refuses at once what this role may
    # not record, instead of applying it and having it undone at the next sync.
    reply["role"] = Device.get_by_id(device_id).role
    return reply


# ---------------------------------------------------------------- librarian actions on the server


def record_server_facts(facts: Sequence[tuple[str, Mapping[str, Any]]]) -> int:
    """Catalogue, patron, policy and calendar changes made at the server (imports), published to kiosks."""
    with server_write():
        touched: set[tuple[str, str]] = set()
        for event_type, payload in facts:
            ledger.apply(event_type, payload)
            touched |= keys_of(event_type, payload)
        publish(touched)
    return len(facts)


def remove_patron(code: str) -> str:
    """Delete a patron, or only deactivate one who has loans (their history must stay)."""
    with server_write():
        patron = Patron.get_or_none(Patron.code == code)
        if patron is None:
            return "absent"
        if Loan.select().where(Loan.patron == patron).exists():
            Patron.update(active=False).where(Patron.id == patron.id).execute()
            result = "deactivated"
        else:
            patron.delete_instance()
            result = "deleted"
        publish({("patron", code)})
    return result


def remove_copy(code: str) -> str:
    """Delete a copy, or only withdraw one that has loans or went with a rotation batch."""
    with server_write():
        copy = Copy.get_or_none(Copy.code == code)
        if copy is None:
            return "absent"
        if (Loan.select().where(Loan.copy == copy).exists()
                or RotationItem.select().where(RotationItem.copy == copy).exists()):
            Copy.update(status="withdrawn").where(Copy.id == copy.id).execute()
            result = "withdrawn"
        else:
            title = copy.title_id
            copy.delete_instance()
            if not Copy.select().where(Copy.title == title).exists():
                Title.delete().where(Title.id == title).execute()
            result = "deleted"
        publish({("copy", code)})
    return result


RESOLUTIONS = ("keep", "close_loan", "reopen_loan")

CONFLICT_LABELS = {
    "double_checkout": N_("The same book was lent at two kiosks while offline"),
    "returned_elsewhere": N_("Returned at another kiosk (the loan was closed)"),
    "patron_inactive": N_("Lent to a card deactivated on the server"),
    "unknown_patron": N_("Lent to a card the server does not know (deleted?)"),
    "unknown_copy": N_("Lent a book the server does not know"),
    "unknown_copy_returned": N_("Returned a book the server does not know"),
    "copy_unavailable": N_("Lent a book marked lost, damaged or withdrawn on the server"),
    "renew_closed_loan": N_("Renewed a loan that was already closed"),
    "duplicate_accession": N_("Two kiosks gave different books the same accession number"),
    "device_rewound": N_("A device sent new loans under numbers it had used before: it was restored from a "
                         "backup (nothing is lost), or two machines share a copy of one SD card (revoke one "
                         "and pair it again as a new device)"),
}


def resolve_conflict(conflict_id: int, action: str, now: datetime, note: str = "") -> Conflict:
    """The librarian's decision: keep things as they are, or close/reopen the loan it names."""
    with server_write():
        conflict = Conflict.get_or_none(Conflict.id == conflict_id)
        if conflict is None:
            raise UnknownConflict()
        touched: set[tuple[str, str]] = set()
        if conflict.kind == "double_checkout" and action != "keep":
            # The librarian has looked at both loans: one held closed by the rule is now closed
            # by decision, and a later return of the other no longer opens it again.
            held = [loan.uuid for loan in Loan.select().where(
                Loan.uuid.in_([conflict.loan, conflict.other_loan]) & (Loan.checkin_device == applying.CONFLICT_CLOSED))]
            Loan.update(checkin_device="server").where(Loan.uuid.in_(held)).execute()
            touched |= {("loan", uuid) for uuid in held}
        if action in ("close_loan", "reopen_loan") and conflict.loan:
            loan = Loan.get_or_none(Loan.uuid == conflict.loan)
            if loan is not None:
                copy = Copy.get_by_id(loan.copy_id)
                if action == "close_loan" and loan.returned_at is None:
                    Loan.update(returned_at=now, checkin_device="server").where(Loan.id == loan.id).execute()
                    applying.after_return(copy, loan.uuid, touched, now, {"closed_by": "librarian"})
                elif action == "reopen_loan" and loan.returned_at is not None:
                    other = Loan.open_loans().where(Loan.copy == copy).first()
                    if other is not None:
                        Loan.update(returned_at=now, checkin_device="server").where(Loan.id == other.id).execute()
                        touched.add(("loan", other.uuid))
                    Loan.update(returned_at=None, checkin_device=None).where(Loan.id == loan.id).execute()
                ledger.settle_copy_status([copy.id])
                touched |= {("loan", loan.uuid), ("copy", copy.code)}
        Conflict.update(status="resolved", resolution=f"{action}: {note}".strip(": "), resolved_at=now).where(
            Conflict.id == conflict.id).execute()
        publish(touched)
    return Conflict.get_by_id(conflict_id)


# ---------------------------------------------------------------- status


def status() -> dict[str, Any]:
    devices = []
    for device in Device.select().order_by(Device.name):
        devices.append({
            "id": device.id, "name": device.name, "revoked": device.revoked, "role": device.role,
            "last_sync": ledger.iso(device.last_sync) + "Z" if device.last_sync else None,
            "last_seq": device.last_seq, "pending": max(0, device.reported_seq - device.last_seq),
            "clock_offset": device.clock_offset,
        })
    return {
        "loans_open": Loan.open_loans().count(),
        "loans_total": Loan.select().count(),
        "events_applied": AppliedEvent.select().count(),
        "events_rejected": AppliedEvent.select().where(AppliedEvent.outcome == "rejected").count(),
        "conflicts_open": Conflict.select().where(Conflict.status == "open").count(),
        "pending_checkins": PendingCheckin.select().count(),
        "change_seq": current_seq(),
        "devices": devices,
    }


def max_seq_of(device_id: str) -> int:
    return AppliedEvent.select(fn.MAX(AppliedEvent.seq)).where(AppliedEvent.device == device_id).scalar() or 0
