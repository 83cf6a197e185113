"""Facts: every change to the kiosk's data is an event applied through here.

:func:`record` applies an event and appends it to the outbox in the caller's
transaction, so the outbox can never disagree with the tables; replaying the
outbox on an empty database with :func:`apply` reproduces the same state.
Sync applies facts pulled from the server with :func:`apply` alone (:func:`apply_many` for
runs of copies or patrons); imports record many facts at once with :func:`record_many`.
"""

from __future__ import annotations

import uuid as uuidlib
from collections.abc import Callable, Collection, Hashable, Iterable, Mapping, Sequence
from datetime import date, datetime
from functools import partial
from itertools import groupby
from operator import itemgetter
from typing import Any

from peewee import Case, Model, chunked, fn

from sync import schema

from . import rules
from .db import insert_rows, update_rows
from .errors import N_, MuontraError
from .models import (
    ClosedDay,
    Copy,
    Event,
    Hold,
    Loan,
    LoanNote,
    Patron,
    PolicyRule,
    RotationBatch,
    RotationItem,
    Setting,
    StocktakeScan,
    StocktakeSession,
    Title,
)

Payload = Mapping[str, Any]

# SQLite before 3.32 binds at most 999 variables per statement.
IN_CHUNK = 500


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds")


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def parse_day(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


def _copy(code: str) -> Copy | None:
    return Copy.get_or_none(Copy.code == code)


def settle_copy_status(copy_ids: Iterable[int]) -> None:
    """Make each copy's status agree with its loans (:func:`kiosk.rules.settled_status`).

    The one place, on kiosk and server, that turns "this copy has an open loan" into its status:
    every writer that opens or closes loans calls it for the copies it touched. One UPDATE per
    chunk, touching only the copies out of step (a checkout pays one statement for it, as when it
    wrote "on_loan" itself); tests/kiosk/test_ledger_database.py checks it against the rule for
    every status.
    """
    lent = fn.EXISTS(Loan.open_loans(Loan.id).where(Loan.copy == Copy.id))
    out_of_step = ((Copy.status == "available") & lent) | ((Copy.status == "on_loan") & ~lent)
    settled = Case(None, [(lent, "on_loan")], "available")  # rules.settled_status, for the rows out of step
    for chunk in chunked(list(dict.fromkeys(copy_ids)), IN_CHUNK):
        Copy.update(status=settled).where(Copy.id.in_(chunk) & out_of_step).execute()


def apply_checkout(p: Payload) -> None:
    copy = Copy.select(Copy.id, Copy.location).where(Copy.code == p["item"]).get()
    patron = Patron.select(Patron.id).where(Patron.code == p["patron"]).get()
    Loan.create(
        uuid=p["loan"],
        copy=copy,
        patron=patron,
        checked_out_at=parse_time(p["at"]),
        due=parse_day(p["due"]),
        location=p.get("location") or copy.location,
        checkout_device=p["device"],
    )
    settle_copy_status([copy.id])


def apply_checkin(p: Payload) -> None:
    copy = _copy(p["item"])
    if copy is None:
        return  # a book this kiosk has never heard of: the fact still travels to the server
    if p.get("loan"):
        Loan.update(returned_at=parse_time(p["at"]), checkin_device=p["device"]).where(
            (Loan.uuid == p["loan"]) & Loan.is_open()
        ).execute()
    if p.get("status"):  # rules.checkin decided it: a lost copy turning up is found
        Copy.update(status=p["status"]).where(Copy.id == copy.id).execute()
    settle_copy_status([copy.id])


def _note(kind: str, p: Payload, details: dict[str, Any]) -> None:
    # The same fact twice (a replay) leaves one note.
    LoanNote.insert(loan=p["loan"], kind=kind, item=p["item"], patron=p["patron"], at=parse_time(p["at"]),
                    device=p["device"], details=details).on_conflict_ignore().execute()


def apply_override(p: Payload) -> None:
    """The librarian lent a book the rules refused, for a reason from the short list."""
    _note("override", p, {"refusal": p["refusal"], "reason": p["reason"]})


def apply_settle(p: Payload) -> None:
    """A lost or damaged book's loan ends (đền sách: replaced by a copy, paid, or still owed);
    the reader is no longer held to it."""
    Loan.update(returned_at=parse_time(p["at"]), checkin_device=p["device"]).where(
        (Loan.uuid == p["loan"]) & Loan.returned_at.is_null()).execute()
    Copy.update(status=p["status"], status_note=p.get("note", "")).where(Copy.code == p["item"]).execute()
    _note("settle", p, {name: p.get(name) for name in ("status", "how", "amount", "replacement", "note")})


def apply_renew(p: Payload) -> None:
    Loan.update(due=parse_day(p["due"]), renewals=p["renewals"]).where(Loan.uuid == p["loan"]).execute()


def _lent_copies(items: Collection[str]) -> set[str]:
    """The copies among ``items`` (codes) that have an open loan."""
    lent: set[str] = set()
    for chunk in chunked(items, IN_CHUNK):
        query = Copy.select(Copy.code).join(Loan).where(Copy.code.in_(chunk) & Loan.is_open())
        lent.update(code for (code,) in query.tuples())
    return lent


def _settled_status(item: str, status: str, lent: Collection[str] | None = None) -> str:
    """A copy with an open loan is on loan, whatever a catalogue re-import or a synced fact says.

    Otherwise the kiosk would lend it again and hit the one-open-loan index instead of refusing.
    A stated "on loan" is kept, though: a pulled page carries a copy before its loan, and the
    copy must not look free in between. ``lent``: the copies known to have an open loan, when a
    bulk apply has looked them up already.
    """
    if status != "available":
        return status
    if lent is None:
        lent = _lent_copies([item])
    return rules.settled_status(status, item in lent)


def apply_copy_status(p: Payload) -> None:
    status = _settled_status(p["item"], p["status"])
    Copy.update(status=status, status_note=p.get("note", "")).where(Copy.code == p["item"]).execute()


PATRON_FIELDS = ("name", "class_name", "kind", "school_year", "active", "gender")


def _patron_values(p: Payload) -> dict[str, Any]:
    """What a fact says about a patron; a field it leaves out keeps its value."""
    return {name: p[name] for name in PATRON_FIELDS if name in p}


def apply_patron(p: Payload) -> None:
    values = _patron_values(p)
    if values:
        found = Patron.update(**values).where(Patron.code == p["code"]).execute()
    else:  # a fact naming only the card changes nothing about it
        found = Patron.select().where(Patron.code == p["code"]).exists()
    if not found:
        Patron.create(code=p["code"], **values)


TITLE_FIELDS = ("isbn", "title", "author", "publisher", "year", "category", "classification")
COPY_FIELDS = ("location", "shelf", "added_on", "price")


def find_title(isbn: str | None, title: str, author: str) -> Title | None:
    """A class set shares one ISBN, so the ISBN names the title; without one, title + author do."""
    if isbn:
        return Title.get_or_none(Title.isbn == isbn)
    return Title.get_or_none((Title.isbn.is_null()) & (Title.title == title) & (Title.author == author))


def _title_values(p: Payload) -> dict[str, Any]:
    """Every title field, as stored: the last fact about a title sets all of them."""
    values = {name: p.get(name) for name in TITLE_FIELDS}
    values["isbn"] = values["isbn"] or None
    for name in ("author", "publisher", "classification"):
        values[name] = values[name] or ""
    values["category"] = values["category"] or "other"
    return values


def _copy_values(p: Payload, lent: Collection[str] | None = None) -> dict[str, Any]:
    """What a fact says about a copy (title aside); a field it leaves out keeps its value."""
    values = {name: p[name] for name in COPY_FIELDS if name in p}
    if "added_on" in values:
        values["added_on"] = parse_day(values["added_on"])
    if "status" in p:
        values["status"] = _settled_status(p["item"], p["status"], lent)
    return values


def apply_catalog(p: Payload) -> None:
    values = _title_values(p)
    title = find_title(values["isbn"], values["title"], values["author"])
    if title is None:
        title = Title.create(**values)
    else:
        Title.update(**values).where(Title.id == title.id).execute()
    copy_values = _copy_values(p)
    updated = Copy.update(title=title, **copy_values).where(Copy.code == p["item"]).execute()
    if not updated:
        Copy.create(code=p["item"], title=title, **copy_values)


def apply_policy(p: Payload) -> None:
    PolicyRule.delete().execute()
    for rule in p["rules"]:
        PolicyRule.create(**rule)


def apply_calendar(p: Payload) -> None:
    ClosedDay.delete().execute()
    for closed in p.get("closed_days", []):
        ClosedDay.create(day=parse_day(closed["day"]), reason=closed.get("reason", ""))
    for key in ("closed_weekdays", "term_ends", "year_end"):
        if key in p:
            put_setting(key, p[key])


def apply_setting(p: Payload) -> None:
    put_setting(p["key"], p["value"])


# ---------------------------------------------------------------- workflows (kiosk/workflows)
# Payloads name batches and sessions by uuid and copies by code, and appliers
# tolerate facts arriving from several kiosks in any order, so the server merges them.


def apply_copy_move(p: Payload) -> None:
    Copy.update(location=p["location"], shelf=p.get("shelf", "")).where(Copy.code == p["item"]).execute()


def _batch(uuid: str):
    return RotationBatch.get_or_none(RotationBatch.uuid == uuid)


def apply_rotation_open(p: Payload) -> None:
    if _batch(p["batch"]) is None:
        RotationBatch.create(
            uuid=p["batch"], location=p["location"], class_name=p.get("class_name", ""),
            teacher=p.get("teacher", ""), helpers=list(p.get("helpers", [])), due=parse_day(p.get("due")),
            opened_at=parse_time(p["at"]), opened_by=p.get("by", ""),
        )


def apply_rotation_add(p: Payload) -> None:
    batch, copy = _batch(p["batch"]), _copy(p["item"])
    if batch is None or copy is None:
        return
    out = RotationItem.select().where((RotationItem.copy == copy) & RotationItem.returned_at.is_null())
    if out.exists():
        return  # already out with a batch (two kiosks lent it offline): the first fact wins
    RotationItem.insert(
        batch=batch, copy=copy, home_location=p["home_location"], home_shelf=p.get("home_shelf", ""),
        added_at=parse_time(p["at"]), added_by=p.get("by", ""),
    ).on_conflict_ignore().execute()


def _rotation_item(p: Payload):
    batch, copy = _batch(p["batch"]), _copy(p["item"])
    if batch is None or copy is None:
        return None
    return RotationItem.get_or_none((RotationItem.batch == batch) & (RotationItem.copy == copy))


def apply_rotation_return(p: Payload) -> None:
    item = _rotation_item(p)
    if item is not None and item.returned_at is None:
        item.returned_at, item.returned_by = parse_time(p["at"]), p.get("by", "")
        item.save()


def apply_rotation_unreturn(p: Payload) -> None:
    item = _rotation_item(p)
    if item is not None:
        item.returned_at, item.returned_by = None, None
        item.save()
        # A book is out with the batch again: the batch is not finished, wherever it was closed.
        RotationBatch.update(closed_at=None, closed_by=None).where(RotationBatch.id == item.batch_id).execute()


def apply_rotation_close(p: Payload) -> None:
    batch = _batch(p["batch"])
    if batch is not None and batch.closed_at is None:
        batch.closed_at, batch.closed_by = parse_time(p["at"]), p.get("by", "")
        batch.save()


def _session(uuid: str):
    return StocktakeSession.get_or_none(StocktakeSession.uuid == uuid)


def apply_stocktake_open(p: Payload) -> None:
    if _session(p["session"]) is None:
        StocktakeSession.create(
            uuid=p["session"], location=p.get("location"), shelf_from=p.get("shelf_from", ""),
            shelf_to=p.get("shelf_to", ""), opened_at=parse_time(p["at"]), opened_by=p.get("by", ""),
        )


def apply_stocktake_scan(p: Payload) -> None:
    session = _session(p["session"])
    if session is None:
        return
    StocktakeScan.insert(
        uuid=p["scan"], session=session, item=p["item"], scanned_at=parse_time(p["at"]),
        device=p.get("device", ""), by=p.get("by", ""), status_seen=p.get("status_seen", ""),
    ).on_conflict_ignore().execute()
    copy = _copy(p["item"])
    if copy is not None and copy.status == "lost":
        # A copy in someone's hands is not lost, whoever marked it and whenever this scan arrives.
        Copy.update(status="available", status_note="").where(Copy.id == copy.id).execute()
        settle_copy_status([copy.id])


def apply_stocktake_finish(p: Payload) -> None:
    session = _session(p["session"])
    if session is None or session.finished_at is not None:
        return
    session.finished_at, session.finished_by, session.result = parse_time(p["at"]), p.get("by", ""), p["result"]
    session.save()
    seen = StocktakeScan.select(StocktakeScan.item).where(StocktakeScan.session == session)
    # Only copies still on the shelf in this database's view: a scan merged from another
    # kiosk, or a loan made meanwhile, wins over the finishing kiosk's list.
    for chunk in chunked(list(p["missing"]), IN_CHUNK):  # a big school's list is more than SQLite binds at once
        Copy.update(status="lost", status_note=p["note"]).where(
            Copy.code.in_(chunk) & (Copy.status == "available") & Copy.code.not_in(seen)
        ).execute()


def apply_intake(p: Payload) -> None:
    fields = {name: p.get(name) for name in TITLE_FIELDS}
    apply_catalog_many([{
        **fields, "item": code, "location": p.get("location", "main"), "shelf": p.get("shelf", ""),
        "added_on": p.get("added_on"), "price": p.get("price"),
    } for code in p["items"]])


def apply_hold(p: Payload) -> None:
    """``hold.place`` (also the server's published state of a hold): create it once; a cancellation
    it carries only ever sets the earliest one, so pulled state and local facts merge in any order."""
    hold = Hold.get_or_none(Hold.uuid == p["hold"])
    if hold is None:
        copy = Copy.select(Copy.title).where(Copy.code == p["item"]).get()
        patron = Patron.select(Patron.id).where(Patron.code == p["patron"]).get()
        hold = Hold.create(uuid=p["hold"], patron=patron, title=copy.title, item=p["item"],
                           placed_at=parse_time(p["at"]), device=p.get("device") or "")
    if p.get("cancelled_at"):
        _cancel_hold(hold, parse_time(p["cancelled_at"]), p.get("cancelled_by") or "")


def _cancel_hold(hold: Hold, at: datetime, by: str) -> None:
    if hold.cancelled_at is None or at < hold.cancelled_at:
        Hold.update(cancelled_at=at, cancelled_by=by).where(Hold.id == hold.id).execute()


def apply_hold_cancel(p: Payload) -> None:
    hold = Hold.get_or_none(Hold.uuid == p["hold"])
    if hold is not None:  # placed on a kiosk this one has not heard from: the server has both
        _cancel_hold(hold, parse_time(p["at"]), p.get("by") or "")


APPLIERS: Mapping[str, Callable[[Payload], None]] = {
    "loan.checkout": apply_checkout,
    "loan.checkin": apply_checkin,
    "loan.renew": apply_renew,
    "loan.override": apply_override,
    "loan.settle": apply_settle,
    "copy.status": apply_copy_status,
    "patron.upsert": apply_patron,
    "catalog.upsert": apply_catalog,
    "policy.set": apply_policy,
    "calendar.set": apply_calendar,
    "setting.set": apply_setting,
    "copy.move": apply_copy_move,
    "rotation.open": apply_rotation_open,
    "rotation.add": apply_rotation_add,
    "rotation.return": apply_rotation_return,
    "rotation.unreturn": apply_rotation_unreturn,
    "rotation.close": apply_rotation_close,
    "stocktake.open": apply_stocktake_open,
    "stocktake.scan": apply_stocktake_scan,
    "stocktake.finish": apply_stocktake_finish,
    "intake.receive": apply_intake,
    "hold.place": apply_hold,
    "hold.cancel": apply_hold_cancel,
}


def apply(event_type: str, payload: Payload) -> None:
    APPLIERS[event_type](payload)


# ---------------------------------------------------------------- many facts at once
# A first pull or an import brings tens of thousands of patrons and copies, and applying them
# one by one costs about five queries each, mostly Peewee building SQL. The bulk appliers read
# what exists with a few IN (...) queries, insert what is missing and update only the rows that
# change, each with one statement run for many rows. They leave exactly the rows that applying
# the same facts one by one, in order, leaves (tests/kiosk/test_ledger_bulk.py compares the two), so a
# change to apply_catalog or apply_patron needs its counterpart here.

Row = dict[str, Any]
RowLoader = Callable[[list[Hashable]], dict[Hashable, Row]]


def _rows_by(model: type[Model], key: Any, keys: Iterable[Hashable]) -> dict[Hashable, Row]:
    """Every field of the rows whose ``key`` field is one of ``keys``; the oldest row if several match."""
    rows: dict[Hashable, Row] = {}
    for chunk in chunked(keys, IN_CHUNK):
        for row in model.select().where(key.in_(chunk)).order_by(model.id).dicts():
            rows.setdefault(row[key.name], row)
    return rows


def _upsert_rows(model: type[Model], load: RowLoader, changes: Sequence[tuple[Hashable, Row]]) -> dict[Hashable, int]:
    """For each (key, values) in order: update the row named by ``key`` with ``values``, or create it.

    ``load(keys)`` reads the rows that exist (every field, ``id`` included). A new row is
    inserted as ``create`` would make it from its first values; then each row gets at most one
    UPDATE, of the fields whose final value differs from what is stored. Returns every key's id.
    """
    before = load(list(dict.fromkeys(key for key, _values in changes)))
    created: dict[Hashable, Row] = {}
    after: dict[Hashable, Row] = {}
    for key, values in changes:
        if key not in after:
            if key in before:
                after[key] = dict(before[key])
            else:
                created[key] = {**model._meta.get_default_dict(), **values}
                after[key] = dict(created[key])
        after[key].update(values)
    insert_rows(model, list(created.values()))
    ids = {key: row["id"] for key, row in before.items()}
    ids.update((key, row["id"]) for key, row in load(list(created)).items())
    stored = {**before, **created}  # a field a new row was created without is NULL
    update_rows(model, [(ids[key], {name: value for name, value in row.items() if stored[key].get(name) != value})
                         for key, row in after.items()])
    return ids


def _title_key(values: Row) -> tuple:
    """How :func:`find_title` names a title: by ISBN, or by title + author when it has none."""
    return ("isbn", values["isbn"]) if values["isbn"] else ("name", values["title"], values["author"])


def _titles(keys: list[Hashable]) -> dict[Hashable, Row]:
    """The title rows :func:`find_title` finds for ``keys`` (see :func:`_title_key`)."""
    isbns = [key[1] for key in keys if key[0] == "isbn"]
    found = {("isbn", isbn): row for isbn, row in _rows_by(Title, Title.isbn, isbns).items()}
    names = {key for key in keys if key[0] == "name"}
    for chunk in chunked(list(dict.fromkeys(title for _kind, title, _author in names)), IN_CHUNK):
        query = Title.select().where(Title.isbn.is_null() & Title.title.in_(chunk)).order_by(Title.id).dicts()
        for row in query:
            key = ("name", row["title"], row["author"])
            if key in names:
                found.setdefault(key, row)
    return found


def apply_catalog_many(payloads: Sequence[Payload]) -> None:
    """:func:`apply_catalog` for each payload in order, set-based."""
    titles = [_title_values(p) for p in payloads]
    title_ids = _upsert_rows(Title, _titles, [(_title_key(values), values) for values in titles])
    lent = _lent_copies(list(dict.fromkeys(p["item"] for p in payloads if p.get("status") == "available")))
    copies = [(p["item"], {"code": p["item"], "title": title_ids[_title_key(values)], **_copy_values(p, lent)})
              for p, values in zip(payloads, titles, strict=True)]
    _upsert_rows(Copy, partial(_rows_by, Copy, Copy.code), copies)


def apply_patron_many(payloads: Sequence[Payload]) -> None:
    """:func:`apply_patron` for each payload in order, set-based."""
    patrons = [(p["code"], {"code": p["code"], **_patron_values(p)}) for p in payloads]
    _upsert_rows(Patron, partial(_rows_by, Patron, Patron.code), patrons)


BULK_APPLIERS: Mapping[str, Callable[[Sequence[Payload]], None]] = {
    "catalog.upsert": apply_catalog_many,
    "patron.upsert": apply_patron_many,
}


def apply_many(event_type: str, payloads: Sequence[Payload]) -> None:
    """Apply facts of one type in order: the same rows as :func:`apply` on each in turn."""
    bulk = BULK_APPLIERS.get(event_type)
    if bulk is not None:
        bulk(payloads)
        return
    for payload in payloads:
        apply(event_type, payload)


def newest_seq(device: str) -> int:
    """The device's last outbox number (0 before its first fact)."""
    return Event.select(fn.MAX(Event.seq)).where(Event.device == device).scalar() or 0


# The role the school server gave this device (sync/kiosk_state.py keeps it as the server says at
# pairing and at every pull); none while the kiosk is on its own.
DEVICE_ROLE = "sync.role"


class NotThisDevicesRole(MuontraError):
    code = "not_this_devices_role"
    message = N_("Only the librarian's desk can do this. This device is paired with the school server as a "
                 "self-check kiosk or a helper station: do it at the librarian's desk, or ask the librarian to "
                 "change this device's role on the server's Devices page.")
    http_status = 403


def _anyone_may(event_type: str, payload: Payload) -> bool:
    if event_type == "setting.set":
        return payload.get("key") not in schema.SHARED_SETTINGS  # a device's own setting is its own
    fact = schema.FACTS.get(event_type)
    return fact is None or fact.roles >= set(schema.ROLES)


class InvalidFact(MuontraError):
    code = "invalid_fact"
    message = N_("This change cannot be saved: a value in it is not valid (%(reason)s). Nothing was changed.")
    http_status = 400


def check_facts(facts: Iterable[tuple[str, Payload]]) -> None:
    """Refuse, before anything is written, a fact the server would refuse for what it says.

    The same field checks as the server's (sync/schema.py): a fact applied here but refused there
    would leave this kiosk different from every other until someone noticed. The pages check
    their forms first and say what is wrong in the reader's words; this is the last guard.
    """
    for event_type, payload in facts:
        try:
            schema.check_fact(event_type, dict(payload))
        except schema.Invalid as exc:
            raise InvalidFact(reason=exc.reason) from exc


def refuse_outside_role(facts: Iterable[tuple[str, Payload]]) -> None:
    """Refuse, before anything is written, a fact the server would refuse from this device's role.

    The server is the guard (sync/schema.py ``allowed``); this only says so at once, where the
    librarian is, instead of applying the change here and having it undone at the next sync.
    Facts every device may record (loans, returns, holds) never read the setting.
    """
    role: str | None = None
    for event_type, payload in facts:
        if _anyone_may(event_type, payload):
            continue
        if role is None:
            role = get_setting(DEVICE_ROLE) or ""
        if role in schema.ROLES and not schema.allowed(role, event_type, payload):
            raise NotThisDevicesRole()


def record(event_type: str, payload: Payload, *, device: str, device_time: datetime) -> Event:
    """Apply a fact and append it to the outbox; call inside ``write_transaction()``."""
    check_facts([(event_type, payload)])
    refuse_outside_role([(event_type, payload)])
    apply(event_type, payload)
    return Event.create(
        uuid=str(uuidlib.uuid4()),
        device=device,
        seq=newest_seq(device) + 1,
        type=event_type,
        payload=dict(payload),
        device_time=device_time,
    )


def record_many(facts: Sequence[tuple[str, Payload]], *, device: str, device_time: datetime) -> None:
    """:func:`record` each (type, payload) in order, set-based: the same tables and the same outbox.

    For imports of thousands of facts; call inside ``write_transaction()``.
    """
    check_facts(facts)
    refuse_outside_role(facts)
    for event_type, run in groupby(facts, key=itemgetter(0)):
        apply_many(event_type, [payload for _type, payload in run])
    last = newest_seq(device)
    insert_rows(Event, [
        {"uuid": str(uuidlib.uuid4()), "device": device, "seq": last + number, "type": event_type,
         "payload": dict(payload), "device_time": device_time}
        for number, (event_type, payload) in enumerate(facts, start=1)])


def get_setting(key: str, default: Any = None) -> Any:
    row = Setting.get_or_none(Setting.key == key)
    return default if row is None else row.value


def put_setting(key: str, value: Any) -> None:
    """Store a setting; None unsets it (``get_setting`` then gives the caller's default), as a
    calendar saved without a year end, or a pulled shared setting the server no longer has."""
    if value is None:
        Setting.delete().where(Setting.key == key).execute()
        return
    Setting.insert(key=key, value=value).on_conflict(
        conflict_target=[Setting.key], update={Setting.value: value}
    ).execute()
