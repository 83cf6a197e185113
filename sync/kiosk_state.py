"""The kiosk's side of sync: its pairing, its place in both logs, and applying pulled state.

Everything lives in ``Setting`` rows written with ``put_setting`` (never
``record``): sync bookkeeping and state pulled from the server must not go back
into the kiosk's own outbox.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from itertools import groupby
from pathlib import Path
from typing import Any

from peewee import SqliteDatabase, chunked

from kiosk import ledger, rules
from kiosk.db import PRIVATE_MODE, db, insert_rows, update_rows, write_transaction
from kiosk.errors import MuontraError
from kiosk.i18n import DEFAULT_LANGUAGE, translate
from kiosk.ledger import IN_CHUNK, get_setting, newest_seq, put_setting
from kiosk.models import (
    Copy,
    Event,
    Loan,
    Patron,
    RotationBatch,
    RotationItem,
    Setting,
    StocktakeSession,
    Title,
)

from . import digest
from .protocol import keys_of, parse_cursor
from .schema import ROLES, SHARED_SETTINGS

PAIRING = "sync.pairing"  # {"server", "device", "name"}; the secret is in SECRET_FILENAME
SECRET_FILENAME = "sync.key"
ACKED = "sync.acked_seq"  # the server's last applied seq for this kiosk, as last heard
CURSOR = "sync.cursor"
MARKS = "sync.marks"  # [[newest local seq, pulled change seq], …] after each pull page
CLOCK_OFFSET = "sync.clock_offset"
LAST_SUCCESS = "sync.last_success"
LAST_ATTEMPT = "sync.last_attempt"
LAST_ERROR = "sync.last_error"
CONFLICTS = "sync.conflicts"  # this kiosk's recent facts the server flagged
CONFLICTS_OPEN = "sync.conflicts_open"  # open conflicts of this kiosk, as the server counts them
SNAPSHOT = "sync.snapshot"  # {"epoch", "until", "pages"}: a snapshot being read, page by page
SNAPSHOT_PAGE = "sync.snapshot_page."  # + page number: the patrons, copies and loans that page named
DIGEST_CHECKED = "sync.digest_checked"  # {"cursor", "newest", "at"}: the last digest comparison that ran
REPAIRS = "sync.repairs"  # the last MAX_REPAIRS copies and cards the digest check made the server's again
MAX_REPAIRS = 200
RENUMBERED = "sync.renumbered"  # the last time facts made here moved past numbers the server had
REFUSED = "sync.refused"  # the last MAX_REPAIRS records a server sent that this kiosk did not believe
MAX_LOCAL_CONFLICTS = 200
MAX_MARKS = 64


@dataclass(frozen=True)
class Pairing:
    server: str
    device: str
    secret: str
    name: str = ""


def secret_path() -> Path | None:
    """Where the device secret lives: a 0600 file next to the kiosk's database, not in it.

    A copy of ``muontra.sqlite3`` (a backup, an SD card read elsewhere) then can't sign
    requests as this kiosk. None when the database is no file (then it stays in the row).
    """
    database = db.obj
    if isinstance(database, SqliteDatabase) and database.database not in ("", ":memory:"):
        return Path(database.database).with_name(SECRET_FILENAME)
    return None


def _write_secret(path: Path, secret: str) -> None:
    """Replace the secret file at once (a power cut leaves the old file or the new one)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        temporary.unlink()
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_MODE)
    with os.fdopen(fd, "w") as handle:
        handle.write(secret)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def pairing() -> Pairing | None:
    """This kiosk's pairing, or None (never paired, or its secret file is gone: pair again)."""
    value = get_setting(PAIRING)
    if not value:
        return None
    path = secret_path()
    if path is None:
        return Pairing(**value)
    if "secret" in value:  # paired by an older version: the secret moves out of the database
        _write_secret(path, value["secret"])
        with write_transaction():
            put_setting(PAIRING, {name: value[name] for name in value if name != "secret"})
        value = {name: value[name] for name in value if name != "secret"}
    try:
        secret = path.read_text().strip()
    except FileNotFoundError:
        return None
    return Pairing(**value, secret=secret)


def save_pairing(value: Pairing, server_last_seq: int, role: object = None) -> None:
    row = {"server": value.server, "device": value.device, "name": value.name}
    remember_role(role)
    path = secret_path()
    if path is None:
        row["secret"] = value.secret
    else:
        _write_secret(path, value.secret)
    put_setting(PAIRING, row)
    put_setting(ACKED, min(server_last_seq, newest_seq(value.device)))


def remember_role(role: object) -> None:
    """Keep the role the server gives this device (it may change it on its Devices page); a server
    too old to say, or a word this version does not know, leaves none: the server still decides."""
    put_setting(ledger.DEVICE_ROLE, role if role in ROLES else None)


def acked_seq() -> int:
    return int(get_setting(ACKED, 0))


def waiting_events(device: str) -> int:
    return max(0, newest_seq(device) - acked_seq())


def unsent(device: str, limit: int) -> list[Event]:
    return list(Event.select().where((Event.device == device) & (Event.seq > acked_seq()))
                .order_by(Event.seq).limit(limit))


def first_reused_seq(sent: Sequence[Event], results: Iterable[Mapping[str, Any]]) -> int | None:
    """The first of our numbers under which the server already has another fact, or None.

    The server answers an event number it has seen as a duplicate, with the uuid it holds: a
    different uuid means this database forgot facts it had sent (it was restored or copied back).
    """
    ours = {event.seq: event.uuid for event in sent}
    reused = [result["seq"] for result in results
              if result.get("duplicate") and isinstance(result.get("uuid"), str)
              and ours.get(result["seq"]) not in (None, result["uuid"])]
    return min(reused, default=None)


def renumber_from(device: str, first: int, server_last: int) -> int:
    """Move this device's facts numbered ``first`` and up to just after ``server_last``.

    Call in a write transaction. Their uuids stay (a fact the server has under another number
    is refused there as a replay, applied never twice); the facts the server holds under the
    numbers we forgot come back by the pull as the state they made. Returns how many moved.
    """
    shift = server_last - first + 1
    if shift <= 0:
        return 0
    mine = (Event.device == device) & (Event.seq >= first)
    moved = Event.update(seq=Event.seq * -1).where(mine).execute()  # two steps: (device, seq) stays unique
    Event.update(seq=Event.seq * -1 + shift).where((Event.device == device) & (Event.seq < 0)).execute()
    put_setting(MARKS, [[newest + shift if newest >= first else newest, pulled]
                        for newest, pulled in get_setting(MARKS, [])])
    put_setting(ACKED, first - 1)
    put_setting(RENUMBERED, {"first": first, "server_last": server_last, "moved": moved})
    return moved


def known_seq(seq: int, marks: list[list[int]]) -> int:
    """The server change number this kiosk had pulled when it made its event ``seq``."""
    return max((pulled for newest, pulled in marks if newest < seq), default=0)


def add_mark(device: str, pulled: int) -> None:
    acked = acked_seq()
    marks = [mark for mark in get_setting(MARKS, []) if mark[0] >= acked]
    marks.append([newest_seq(device), pulled])
    put_setting(MARKS, marks[-MAX_MARKS:])


def remember_conflicts(results: Iterable[Mapping[str, Any]], at: str) -> int:
    flagged = [{"seq": r["seq"], "outcome": r["outcome"], "reason": r.get("reason", ""),
                "conflicts": r.get("conflicts", []), "at": at}
               for r in results if not r.get("duplicate") and r["outcome"] != "applied"]
    if flagged:
        put_setting(CONFLICTS, (get_setting(CONFLICTS, []) + flagged)[-MAX_LOCAL_CONFLICTS:])
    return len(flagged)


def pending_keys(device: str) -> set[tuple[str, str]]:
    """Entities this kiosk's unsent facts touch: pulled state for them would undo local work."""
    keys: set[tuple[str, str]] = set()
    for event in Event.select(Event.type, Event.payload).where((Event.device == device) & (Event.seq > acked_seq())):
        keys |= keys_of(event.type, event.payload)
    return keys


# ---------------------------------------------------------------- applying pulled records


def apply_loan_state(p: Mapping[str, Any]) -> None:
    """Mirror one server loan. A kiosk that doesn't know its copy or patron has no use for it."""
    copy = Copy.get_or_none(Copy.code == p["item"])
    patron = Patron.get_or_none(Patron.code == p["patron"])
    existing = Loan.get_or_none(Loan.uuid == p["loan"])
    if copy is None or patron is None or (existing is None and p["returned_at"]):
        return
    returned = ledger.parse_time(p["returned_at"]) if p["returned_at"] else None
    if returned is None:
        # The server's open loan wins over a stale local one (closed there, news of it on the way).
        Loan.update(returned_at=ledger.parse_time(p["at"]), checkin_device="sync").where(
            (Loan.copy == copy) & Loan.is_open() & (Loan.uuid != p["loan"])).execute()
    values = {"copy": copy, "patron": patron, "checked_out_at": ledger.parse_time(p["at"]),
              "due": ledger.parse_day(p["due"]), "returned_at": returned, "renewals": p["renewals"],
              "location": p["location"], "checkout_device": p["checkout_device"],
              "checkin_device": p["checkin_device"]}
    if existing is None:
        Loan.create(uuid=p["loan"], **values)
    else:
        Loan.update(**values).where(Loan.id == existing.id).execute()
    # A loan of the copy closed just before in the same page may have put it back on the shelf; or
    # the copy's own record came first and was held "on loan" by this loan, now closed.
    ledger.settle_copy_status([copy.id])


def apply_loan_states(payloads: Sequence[Mapping[str, Any]]) -> None:
    """:func:`apply_loan_state` for each payload in order, set-based: the same rows, fewer queries.

    After a busy day every kiosk pulls every other kiosk's loans, one query-heavy record at a
    time otherwise. Reads the copies, cards and loans named (and the open loans of those
    copies) with a few IN queries, replays the rules in memory, then writes: closes first,
    then other changes, then new loans, so the one-open-loan-per-copy index holds throughout
    (loans stay on their copy; one that moves sends the run the one-by-one way).
    tests/kiosk/test_ledger_bulk.py compares it with the one-by-one applier.
    """
    items = list(dict.fromkeys(p["item"] for p in payloads))
    copies = {row["code"]: row for chunk in chunked(items, IN_CHUNK) for row in
              Copy.select(Copy.id, Copy.code, Copy.status).where(Copy.code.in_(chunk)).dicts()}
    patrons = {row["code"]: row["id"] for chunk in chunked(list(dict.fromkeys(p["patron"] for p in payloads)), IN_CHUNK)
               for row in Patron.select(Patron.id, Patron.code).where(Patron.code.in_(chunk)).dicts()}
    copy_ids = [row["id"] for row in copies.values()]
    named = list(dict.fromkeys(p["loan"] for p in payloads))
    loans: dict[str, dict[str, Any]] = {}
    for chunk in chunked(named, IN_CHUNK):
        loans.update((row["uuid"], row) for row in Loan.select().where(Loan.uuid.in_(chunk)).dicts())
    for chunk in chunked(copy_ids, IN_CHUNK):
        loans.update((row["uuid"], row) for row in
                     Loan.open_loans().where(Loan.copy.in_(chunk)).dicts())
    stored = {uuid: dict(row) for uuid, row in loans.items()}
    if any(p["item"] in copies and p["loan"] in stored and stored[p["loan"]]["copy"] != copies[p["item"]]["id"]
           for p in payloads):
        # A loan moved to another copy (never made by a kiosk): the write order below could
        # not keep one open loan per copy at every step, so take the facts one at a time.
        for p in payloads:
            apply_loan_state(p)
        return
    open_loans: dict[int, set[str]] = {}
    for uuid, row in loans.items():
        if row["returned_at"] is None:
            open_loans.setdefault(row["copy"], set()).add(uuid)
    statuses = {row["id"]: row["status"] for row in copies.values()}
    created: list[str] = []

    for p in payloads:
        copy, patron, row = copies.get(p["item"]), patrons.get(p["patron"]), loans.get(p["loan"])
        if copy is None or patron is None or (row is None and p["returned_at"]):
            continue
        copy_id = copy["id"]
        returned = ledger.parse_time(p["returned_at"]) if p["returned_at"] else None
        if returned is None:
            for other in open_loans.get(copy_id, set()) - {p["loan"]}:
                loans[other].update(returned_at=ledger.parse_time(p["at"]), checkin_device="sync")
            open_loans[copy_id] = open_loans.get(copy_id, set()) & {p["loan"]}
        values = {"copy": copy_id, "patron": patron, "checked_out_at": ledger.parse_time(p["at"]),
                  "due": ledger.parse_day(p["due"]), "returned_at": returned, "renewals": p["renewals"],
                  "location": p["location"], "checkout_device": p["checkout_device"],
                  "checkin_device": p["checkin_device"]}
        if row is None:
            loans[p["loan"]] = {"uuid": p["loan"], **values}
            created.append(p["loan"])
        else:
            row.update(values)
        if returned is None:
            open_loans[copy_id].add(p["loan"])
        else:
            open_loans.get(copy_id, set()).discard(p["loan"])
        # ledger.settle_copy_status, in memory.
        statuses[copy_id] = rules.settled_status(statuses[copy_id], bool(open_loans.get(copy_id)))

    changes = [(stored[uuid]["id"], {name: value for name, value in row.items() if stored[uuid][name] != value})
               for uuid, row in loans.items() if uuid in stored]
    closing = {row_id for row_id, values in changes if values.get("returned_at") is not None}
    update_rows(Loan, [change for change in changes if change[0] in closing])
    update_rows(Loan, [change for change in changes if change[0] not in closing])
    insert_rows(Loan, [loans[uuid] for uuid in created])
    for status in set(statuses.values()):
        ids = [copy["id"] for copy in copies.values()
               if statuses[copy["id"]] == status != copy["status"]]
        for chunk in chunked(ids, IN_CHUNK):
            Copy.update(status=status).where(Copy.id.in_(chunk)).execute()


def apply_rotation_state(p: Mapping[str, Any]) -> None:
    """Mirror one rotation batch as the server merged it (opened, closed, reopened by an undo)."""
    values = {"location": p["location"], "class_name": p["class_name"], "teacher": p["teacher"],
              "helpers": list(p["helpers"]), "due": ledger.parse_day(p["due"]),
              "opened_at": ledger.parse_time(p["at"]), "opened_by": p["by"],
              "closed_at": ledger.parse_time(p["closed_at"]) if p["closed_at"] else None,
              "closed_by": p["closed_by"]}
    if not RotationBatch.update(**values).where(RotationBatch.uuid == p["batch"]).execute():
        RotationBatch.create(uuid=p["batch"], **values)


def apply_rotation_item_state(p: Mapping[str, Any]) -> None:
    """Mirror one copy's place in a batch; the server publishes the copy and the batch before it."""
    batch = RotationBatch.get_or_none(RotationBatch.uuid == p["batch"])
    copy = Copy.get_or_none(Copy.code == p["item"])
    if batch is None or copy is None:
        return
    values = {"home_location": p["home_location"], "home_shelf": p["home_shelf"],
              "added_at": ledger.parse_time(p["at"]), "added_by": p["by"],
              "returned_at": ledger.parse_time(p["returned_at"]) if p["returned_at"] else None,
              "returned_by": p["returned_by"]}
    if values["returned_at"] is None:
        # The server has the copy out with this batch, so not with another: an add made here for
        # another batch lost on the server (its tombstone is on the way), as a stale loan does.
        RotationItem.delete().where((RotationItem.copy == copy) & RotationItem.returned_at.is_null()
                                    & (RotationItem.batch != batch)).execute()
    if not RotationItem.update(**values).where((RotationItem.batch == batch) & (RotationItem.copy == copy)).execute():
        RotationItem.create(batch=batch, copy=copy, **values)


def apply_stocktake_state(p: Mapping[str, Any]) -> None:
    """Mirror one stock-take session: finished here as on the server, with the server's result.

    Not the finish fact's applier: the copies it marked lost come as their own records, and
    a scan merged on the server after the finish may have found one of them since.
    """
    values = {"location": p["location"], "shelf_from": p["shelf_from"], "shelf_to": p["shelf_to"],
              "opened_at": ledger.parse_time(p["at"]), "opened_by": p["by"],
              "finished_at": ledger.parse_time(p["finished_at"]) if p["finished_at"] else None,
              "finished_by": p["finished_by"], "result": p["result"]}
    if not StocktakeSession.update(**values).where(StocktakeSession.uuid == p["session"]).execute():
        StocktakeSession.create(uuid=p["session"], **values)


# Pulled records that mirror the server's merged state rather than replay a kiosk fact.
STATE_APPLIERS = {
    "loan.state": apply_loan_state,
    "rotation.state": apply_rotation_state,
    "rotation_item.state": apply_rotation_item_state,
    "stocktake.state": apply_stocktake_state,
}


def _remove_rotation(kind: str, key: str) -> None:
    """A batch entry the server does not have (an add another kiosk's batch won): not here either."""
    if kind == "rotation":
        RotationBatch.delete().where(RotationBatch.uuid == key).execute()
    else:
        batch, _slash, item = key.partition("/")
        RotationItem.delete().where(
            RotationItem.batch.in_(RotationBatch.select(RotationBatch.id).where(RotationBatch.uuid == batch))
            & RotationItem.copy.in_(Copy.select(Copy.id).where(Copy.code == item))).execute()


def remove_patron(patron: Patron) -> None:
    """Gone from the server: delete the card here too, or only deactivate it while loans here name it."""
    if Loan.select().where(Loan.patron == patron).exists():
        Patron.update(active=False).where(Patron.id == patron.id).execute()
    else:
        patron.delete_instance()


def remove_copy(copy: Copy) -> None:
    """Gone from the server: delete the copy (and a title left without copies), or only withdraw it
    while loans or rotation batches here name it."""
    if (Loan.select().where(Loan.copy == copy).exists()
            or RotationItem.select().where(RotationItem.copy == copy).exists()):
        Copy.update(status="withdrawn").where(Copy.id == copy.id).execute()
    else:
        copy.delete_instance()
        if not Copy.select().where(Copy.title == copy.title_id).exists():
            Title.delete().where(Title.id == copy.title_id).execute()


def apply_tombstone(kind: str, key: str) -> None:
    """Deleted on the server: delete here too, unless loans here still name it."""
    if kind == "patron":
        patron = Patron.get_or_none(Patron.code == key)
        if patron is not None:
            remove_patron(patron)
    elif kind == "copy":
        copy = Copy.get_or_none(Copy.code == key)
        if copy is not None:
            remove_copy(copy)
    elif kind in ("rotation", "rotation_item"):
        _remove_rotation(kind, key)
    elif kind == "setting" and key in SHARED_SETTINGS:  # unset on the server (a kiosk's own stay its own)
        ledger.put_setting(key, None)


def apply_record(record: Mapping[str, Any]) -> bool:
    """Apply one pulled record; False for a kind of state this kiosk doesn't use."""
    if record["op"] == "delete":
        apply_tombstone(record["kind"], record["key"])
    elif record["type"] in STATE_APPLIERS:
        STATE_APPLIERS[record["type"]](record["payload"])
    elif record["type"] in ledger.APPLIERS:
        ledger.apply(record["type"], record["payload"])
    else:
        return False  # a kind of state from a newer server: nothing here uses it
    return True


BULK_STATE_APPLIERS = {"loan.state": apply_loan_states}


def _bulk_type(record: Mapping[str, Any]) -> str | None:
    """The fact type of an upsert applied together with its neighbours of that type, else None."""
    bulk = record["op"] != "delete" and (record["type"] in ledger.BULK_APPLIERS
                                         or record["type"] in BULK_STATE_APPLIERS)
    return record["type"] if bulk else None


def apply_records(records: Iterable[Mapping[str, Any]], held_back: set[tuple[str, str]]) -> int:
    """Apply one pulled page (inside the caller's transaction); returns how many were applied.

    A run of consecutive copies (or patrons) goes through ``ledger.apply_many`` at once: a
    first pull is mostly that, and so are the loans of other kiosks (``apply_loan_states``).
    Records keep their order; tombstones and the other kinds go one by one.
    """
    wanted = (record for record in records if (record["kind"], record["key"]) not in held_back)
    applied = 0
    for bulk_type, run in groupby(wanted, key=_bulk_type):
        if bulk_type is None:
            applied += sum(apply_record(record) for record in run)
        else:
            payloads = [record["payload"] for record in run]
            BULK_STATE_APPLIERS.get(bulk_type, partial(ledger.apply_many, bulk_type))(payloads)
            applied += len(payloads)
    return applied


# ---------------------------------------------------------------- after a snapshot

MIRRORED_KINDS = ("patron", "copy", "loan")  # what a whole snapshot lets the kiosk drop


def follow_snapshot(sent_cursor: str | None, reply: Mapping[str, Any], keep: set[tuple[str, str]],
                    now: datetime) -> None:
    """Note what each page of a snapshot names; after its last page, drop what the server lacks.

    Call in the transaction that applies the page, with ``keep`` the keys of the
    kiosk's unsent facts. Nothing is dropped before the last page: an interrupted
    snapshot goes on from its cursor, and the pages already read are remembered.
    """
    if reply["reset"]:
        _forget_snapshot()
        received = parse_cursor(reply["cursor"])
        marker = {"epoch": received.epoch, "until": received.snapshot_until, "pages": 0}
    else:
        sent, marker = parse_cursor(sent_cursor), get_setting(SNAPSHOT)
        if sent is None or not sent.snapshot_until or marker is None or (
                [marker["epoch"], marker["until"]] != [sent.epoch, sent.snapshot_until]):
            return  # not inside a snapshot this kiosk saw begin: it cannot know what the server lacks
    named = [[record["kind"], record["key"]] for record in reply["records"] if record["kind"] in MIRRORED_KINDS]
    if reply["more"]:
        put_setting(f"{SNAPSHOT_PAGE}{marker['pages']}", named)
        put_setting(SNAPSHOT, {**marker, "pages": marker["pages"] + 1})
        return
    for page in range(marker["pages"]):
        named += get_setting(f"{SNAPSHOT_PAGE}{page}", [])
    _forget_snapshot()
    drop_what_the_server_lacks({(kind, key) for kind, key in named} | keep, now)


def _forget_snapshot() -> None:
    Setting.delete().where((Setting.key == SNAPSHOT) | Setting.key.startswith(SNAPSHOT_PAGE)).execute()


def drop_what_the_server_lacks(known: set[tuple[str, str]], now: datetime) -> None:
    """After a whole snapshot: make this kiosk's patrons, copies and open loans those of the server.

    ``known``: everything the snapshot named, and everything the kiosk's unsent facts
    name (the server hears of those next). An open loan outside both is not open on
    the server: closed there (a snapshot leaves closed loans out), or not known there
    yet (a replaced server, another kiosk still to send it); the server's word wins
    and a loan it publishes later opens here again. Patrons and copies outside both
    go as a tombstone takes them.
    """
    stale = [loan for loan in Loan.open_loans(Loan.id, Loan.uuid, Loan.copy) if ("loan", loan.uuid) not in known]
    for loan in stale:
        Loan.update(returned_at=now, checkin_device="sync").where(Loan.id == loan.id).execute()
    ledger.settle_copy_status(loan.copy_id for loan in stale)
    for model, kind, remove in ((Patron, "patron", remove_patron), (Copy, "copy", remove_copy)):
        lacking = [code for (code,) in model.select(model.code).tuples() if (kind, code) not in known]
        for row in model.select().where(model.code.in_(lacking)) if lacking else ():
            remove(row)


# ---------------------------------------------------------------- anti-entropy (see sync/digest.py)


DIGEST_EVERY = timedelta(hours=24)  # compare at least this often, even when nothing moved
DIGEST_GAP = timedelta(minutes=10)  # and, when something moved, at most this often (it reads every copy off the shelf)


def digest_due(cursor: str | None, newest: int, now: datetime, gap: timedelta = DIGEST_GAP) -> bool:
    """Compare digests when something moved on either side since the last comparison and ``gap`` has
    passed, or when a day has passed; always when no comparison is on record."""
    checked = get_setting(DIGEST_CHECKED)
    try:
        since = now - ledger.parse_time(checked["at"])
    except (KeyError, TypeError, ValueError):
        return True
    moved = [checked.get("cursor"), checked.get("newest")] != [cursor, newest]
    return since >= DIGEST_EVERY or (moved and since >= gap)


def digest_checked(cursor: str | None, newest: int, now: datetime) -> None:
    put_setting(DIGEST_CHECKED, {"cursor": cursor, "newest": newest, "at": ledger.iso(now)})


def _describe(leaf: str | None) -> str:
    """A leaf of sync/digest.py as the librarian reads it: a copy's status and reader, a card's state."""
    if leaf is None:
        return "—"
    kind, _code, *rest = leaf.split("|")
    if kind == "c":
        status, loans = rest
        readers = [loan.split(":")[1] for loan in loans.split(",") if loan]
        return status + (f" ({', '.join(readers)})" if readers else "")
    name, class_name, patron_kind, active = rest
    return f"{name} {class_name} {patron_kind} {'active' if active == '1' else 'inactive'}".replace("  ", " ")


def _leaves(copies: Sequence[str], patrons: Sequence[str]) -> dict[tuple[str, str], str]:
    found = {("copy", code): leaf for code, leaf in digest.copy_leaves(copies).items()}
    found.update((("patron", code), leaf) for code, leaf in digest.patron_leaves(patrons).items())
    return found


def repair(device: str, buckets: Sequence[int], records: Sequence[Mapping[str, Any]], now: datetime,
           at: str, shelved: Sequence[str] = (), untrusted: set[tuple[str, str]] | frozenset = frozenset()) -> int:
    """Make the copies, open loans and cards of ``buckets`` what the server has (``records``).

    Call in one write transaction. ``records`` are the server's whole truth for those
    buckets: its cards in them, its copies off the shelf in them and the open loans of
    those copies; ``shelved``: its other copies in them (on the shelf there). A copy the
    server has in neither is not the digest's business (a catalogue difference: the
    change log and snapshots carry those) and is left alone. What the
    kiosk's unsent facts touch is left alone (the server hears of it next). Every copy
    or card that changes is logged in ``sync.repairs`` (shown on the sync panel), with
    what it was and what it is now. Returns how many changed.
    """
    wanted = set(buckets)
    # A record of the server's that this kiosk refused (messages.split_records) is not the server's
    # word that the thing is gone: left alone like what the kiosk's unsent facts touch.
    pending = pending_keys(device) | set(untrusted)
    mine_copies, mine_patrons = digest.codes_in(wanted)
    by_kind: dict[str, list[Mapping[str, Any]]] = {"patron": [], "copy": [], "loan": []}
    for record in records:
        if record["kind"] in by_kind and record["op"] == "upsert" and (record["kind"], record["key"]) not in pending:
            by_kind[record["kind"]].append(record)
    their_copies = {record["key"] for record in by_kind["copy"]}
    their_patrons = {record["key"] for record in by_kind["patron"]}
    open_there = {record["key"] for record in by_kind["loan"]}
    on_shelf_there = set(shelved)
    copy_scope = [code for code in (set(mine_copies) & on_shelf_there) | their_copies if ("copy", code) not in pending]
    patron_scope = [code for code in set(mine_patrons) | their_patrons if ("patron", code) not in pending]
    before = _leaves(copy_scope, patron_scope)

    for record in by_kind["patron"]:
        ledger.apply("patron.upsert", record["payload"])
    for row in Patron.select().where(Patron.code.in_([c for c in mine_patrons if c not in their_patrons
                                                      and ("patron", c) not in pending])):
        remove_patron(row)
    # Loans open here but not there are closed, as after a snapshot: the server's word wins.
    stale = (Loan.select(Loan.id, Loan.uuid).join(Copy)
             .where(Loan.is_open() & Copy.code.in_(copy_scope) & Loan.uuid.not_in(list(open_there))))
    for loan in list(stale):
        if ("loan", loan.uuid) not in pending:
            Loan.update(returned_at=now, checkin_device="sync").where(Loan.id == loan.id).execute()
    for record in by_kind["copy"]:
        ledger.apply("catalog.upsert", record["payload"])
    # Off the shelf here, on the shelf there (its stale loans were closed above).
    Copy.update(status="available").where(Copy.code.in_([c for c in copy_scope if c not in their_copies])).execute()
    for record in by_kind["loan"]:
        if ("copy", record["payload"].get("item")) not in pending:
            apply_loan_state(record["payload"])

    after = _leaves(copy_scope, patron_scope)
    changed = sorted(key for key in set(before) | set(after) if before.get(key) != after.get(key))
    log = [{"at": at, "kind": kind, "key": code, "before": _describe(before.get((kind, code))),
            "after": _describe(after.get((kind, code)))} for kind, code in changed]
    if log:
        put_setting(REPAIRS, (get_setting(REPAIRS, []) + log)[-MAX_REPAIRS:])
    return len(log)


def remember_refused(refused: Sequence[Mapping[str, Any]], at: str) -> int:
    """Keep what a server sent and this kiosk left out, for the sync panel; returns how many."""
    if refused:
        log = [{**entry, "at": at} for entry in refused]
        put_setting(REFUSED, (get_setting(REFUSED, []) + log)[-MAX_REPAIRS:])
    return len(refused)


def remember_error(failure: MuontraError | None) -> None:
    """Kept as the message and its values, so the panel shows it in the reader's language."""
    put_setting(LAST_ERROR, {"message": failure.message, "params": failure.params} if failure else "")


def error_text(lang: str = DEFAULT_LANGUAGE) -> str:
    stored = get_setting(LAST_ERROR)
    if isinstance(stored, dict):
        return translate(stored["message"], lang, **stored.get("params", {}))
    return stored or ""  # written by an older version: English text


def status(device: str | None, lang: str = DEFAULT_LANGUAGE) -> dict[str, Any]:
    """What the admin panel shows, its messages in ``lang``."""
    paired = pairing()
    return {
        "paired": paired is not None,
        "server": paired.server if paired else None,
        "name": paired.name if paired else None,
        "waiting": waiting_events(device) if device else 0,
        "last_success": get_setting(LAST_SUCCESS),
        "last_attempt": get_setting(LAST_ATTEMPT),
        "last_error": error_text(lang),
        "conflicts_open": get_setting(CONFLICTS_OPEN, 0),
        "recent_conflicts": get_setting(CONFLICTS, [])[-20:],
        "recent_repairs": get_setting(REPAIRS, [])[-20:],
        "recent_refused": get_setting(REFUSED, [])[-20:],
        "clock_offset": get_setting(CLOCK_OFFSET, 0),
    }
