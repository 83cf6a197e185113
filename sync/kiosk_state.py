"""The kiosk's side of sync: its pairing, its place in both logs, and applying pulled state.

Everything lives in ``Setting`` rows written with ``put_setting`` (never
``record``): sync bookkeeping and state pulled from the server must not go back
into the kiosk's own outbox.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import groupby
from typing import Any

from kiosk import ledger
from kiosk.errors import MuontraError
from kiosk.i18n import DEFAULT_LANGUAGE, translate
from kiosk.ledger import get_setting, newest_seq, put_setting
from kiosk.models import Copy, Event, Loan, Patron

from .protocol import keys_of

PAIRING = "sync.pairing"  # {"server", "device", "secret", "name"}
ACKED = "sync.acked_seq"  # the server's last applied seq for this kiosk, as last heard
CURSOR = "sync.cursor"
MARKS = "sync.marks"  # [[newest local seq, pulled change seq], …] after each pull page
CLOCK_OFFSET = "sync.clock_offset"
LAST_SUCCESS = "sync.last_success"
LAST_ATTEMPT = "sync.last_attempt"
LAST_ERROR = "sync.last_error"
CONFLICTS = "sync.conflicts"  # this kiosk's recent facts the server flagged
CONFLICTS_OPEN = "sync.conflicts_open"  # open conflicts of this kiosk, as the server counts them
MAX_LOCAL_CONFLICTS = 200
MAX_MARKS = 64


@dataclass(frozen=True)
class Pairing:
    server: str
    device: str
    secret: str
    name: str = ""


def pairing() -> Pairing | None:
    value = get_setting(PAIRING)
    return Pairing(**value) if value else None


def save_pairing(value: Pairing, server_last_seq: int) -> None:
    put_setting(PAIRING, {"server": value.server, "device": value.device, "secret": value.secret,
                          "name": value.name})
    put_setting(ACKED, min(server_last_seq, newest_seq(value.device)))


def acked_seq() -> int:
    return int(get_setting(ACKED, 0))


def waiting_events(device: str) -> int:
    return max(0, newest_seq(device) - acked_seq())


def unsent(device: str, limit: int) -> list[Event]:
    return list(Event.select().where((Event.device == device) & (Event.seq > acked_seq()))
                .order_by(Event.seq).limit(limit))


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
            (Loan.copy == copy) & Loan.returned_at.is_null() & (Loan.uuid != p["loan"])).execute()
    values = {"copy": copy, "patron": patron, "checked_out_at": ledger.parse_time(p["at"]),
              "due": ledger.parse_day(p["due"]), "returned_at": returned, "renewals": p["renewals"],
              "location": p["location"], "checkout_device": p["checkout_device"],
              "checkin_device": p["checkin_device"]}
    if existing is None:
        Loan.create(uuid=p["loan"], **values)
    else:
        Loan.update(**values).where(Loan.id == existing.id).execute()
    if returned is not None and not Loan.select().where((Loan.copy == copy) & Loan.returned_at.is_null()).exists():
        # The copy's own record came first and was held "on loan" by this loan: now it is back.
        Copy.update(status="available").where((Copy.id == copy.id) & (Copy.status == "on_loan")).execute()


def apply_tombstone(kind: str, key: str) -> None:
    """Deleted on the server: delete here too, unless loans here still name it."""
    if kind == "patron":
        patron = Patron.get_or_none(Patron.code == key)
        if patron is not None:
            if Loan.select().where(Loan.patron == patron).exists():
                Patron.update(active=False).where(Patron.id == patron.id).execute()
            else:
                patron.delete_instance()
    elif kind == "copy":
        copy = Copy.get_or_none(Copy.code == key)
        if copy is not None:
            if Loan.select().where(Loan.copy == copy).exists():
                Copy.update(status="withdrawn").where(Copy.id == copy.id).execute()
            else:
                copy.delete_instance()


def apply_record(record: Mapping[str, Any]) -> bool:
    """Apply one pulled record; False for a kind of state this kiosk doesn't use."""
    if record["op"] == "delete":
        apply_tombstone(record["kind"], record["key"])
    elif record["type"] == "loan.state":
        apply_loan_state(record["payload"])
    elif record["type"] in ledger.APPLIERS:
        ledger.apply(record["type"], record["payload"])
    else:
        return False  # a kind of state from a newer server: nothing here uses it
    return True


def _bulk_type(record: Mapping[str, Any]) -> str | None:
    """The fact type of an upsert applied together with its neighbours of that type, else None."""
    return record["type"] if record["op"] != "delete" and record["type"] in ledger.BULK_APPLIERS else None


def apply_records(records: Iterable[Mapping[str, Any]], held_back: set[tuple[str, str]]) -> int:
    """Apply one pulled page (inside the caller's transaction); returns how many were applied.

    A run of consecutive copies (or patrons) goes through ``ledger.apply_many`` at once: a
    first pull is mostly that. Records keep their order; tombstones and loans go one by one.
    """
    wanted = (record for record in records if (record["kind"], record["key"]) not in held_back)
    applied = 0
    for bulk_type, run in groupby(wanted, key=_bulk_type):
        if bulk_type is None:
            applied += sum(apply_record(record) for record in run)
        else:
            payloads = [record["payload"] for record in run]
            ledger.apply_many(bulk_type, payloads)
            applied += len(payloads)
    return applied


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
        "clock_offset": get_setting(CLOCK_OFFSET, 0),
    }
