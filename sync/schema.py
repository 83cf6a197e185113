"""What a fact may say: one schema per fact kind, and which device role may record it.

The server checks every pushed fact here before applying it (sync/server/batch.py):
types, lengths, ranges, dates, enumerations and, for shared settings, meaning.
A fact that fails is refused with the reason :func:`check_fact` gives and is never
stored. Pure Python (no Flask, no models), so the kiosk's sync client can reuse the
same checks on what it pulls.

Every kind in ``kiosk.ledger.APPLIERS`` has a schema (tests/sync/test_schema.py
fails when one is added without).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from kiosk.errors import N_  # a marker for the message catalogue; kiosk.errors needs no Flask

# Enumerations as kiosk/models.py, kiosk/rules.py and kiosk/admin_input.py define them
# (tests/sync/test_schema.py checks they agree; this module imports no models).
PATRON_KINDS = ("student", "teacher", "helper")
GENDERS = ("", "male", "female")  # how the kiosk addresses a teacher (thầy / cô); "" = not known
CATEGORIES = ("SGK", "STK", "SNV", "TN", "periodical", "other")
COPY_STATUSES = ("available", "on_loan", "lost", "damaged", "withdrawn", "not_for_loan")
DUE_MODES = ("days", "term_end", "year_end")
POLICY_LIMITS = {"max_loans": 200, "loan_days": 400, "max_renewals": 20}
ANY = "*"
RESULT_LISTS = ("expected", "present", "missing", "seen_on_loan", "misplaced", "found_lost", "unknown")
OVERRIDABLE = ("loan_limit", "has_overdue", "copy_not_for_loan", "copy_damaged", "inactive_patron")
OVERRIDE_REASONS = ("teacher_request", "class_work", "exam_revision", "returned_on_paper", "librarian_decision")
SETTLEMENTS = ("replaced", "paid", "owed")
MAX_AMOUNT = 10_000_000  # VND, as kiosk/rules.py

EARLIEST, LATEST = date(2000, 1, 1), date(2100, 12, 31)  # a school library's dates, not the whole calendar
MAX_CODE = 64  # kiosk.codes.MAX_CODE_LENGTH: a card or label code
MAX_COPIES = 200_000  # copies a stock-take may list (a big school has ~50,000)
MAX_LOCAL_SETTING_BYTES = 64 * 1024
LINK_TOKEN = re.compile(r"[A-Za-z0-9_-]{22,64}")  # secrets.token_urlsafe(18) is 24 characters

# ---------------------------------------------------------------- roles

KIOSK, HELPER, DESK = "kiosk", "helper", "desk"
ROLES = (KIOSK, HELPER, DESK)
DEFAULT_ROLE = KIOSK  # the least a device may do: what a paired device gets unless the librarian says more
ROLE_LABELS = {KIOSK: N_("Self-check kiosk"), HELPER: N_("Helper station"), DESK: N_("Librarian desk")}

# Settings every kiosk shares (the lending policy reads them; sync/server/changes.py publishes them);
# others stay on their device. class_links: a homeroom teacher's link made on one kiosk opens on the
# server and every kiosk. school_name: the name on every kiosk's screens and slips is the school's.
# Only a librarian desk sets them, and their values are checked by meaning (SETTING_VALUES).
SHARED_SETTINGS = frozenset({"block_when_overdue", "closed_weekdays", "term_ends", "year_end", "class_links",
                             "school_name"})


class Invalid(ValueError):
    """What is wrong with a value, and where (``rules[2].max_loans``)."""

    def __init__(self, where: str, why: str) -> None:
        text = f"{where[:120]}: {why}" if where else why
        # A field name can itself be the bad part (a lone surrogate, a NUL): the reason is stored
        # and sent back, so it is made storable here.
        text = text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")
        super().__init__(text)
        self.reason = text


def _at(where: str, name: str | int) -> str:
    if isinstance(name, int):
        return f"{where}[{name}]"
    return f"{where}.{name}" if where else name


# ---------------------------------------------------------------- value specs


class Spec:
    def check(self, value: Any, where: str) -> None:
        raise NotImplementedError


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class Text(Spec):
    """A string of at most ``most`` characters: no NUL, no lone surrogate (neither can be stored)."""

    most: int
    least: int = 0
    pattern: re.Pattern[str] | None = None
    choices: tuple[str, ...] | None = None
    single_line: bool = False  # codes, names of places: no control characters at all

    def check(self, value: Any, where: str) -> None:
        if not isinstance(value, str):
            raise Invalid(where, "must be text")
        if len(value) > self.most:
            raise Invalid(where, f"longer than {self.most} characters")
        if len(value) < self.least:
            raise Invalid(where, "must not be empty" if self.least == 1 else f"shorter than {self.least} characters")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise Invalid(where, "is not valid Unicode") from exc
        if "\x00" in value or (self.single_line and any(ord(c) < 32 or ord(c) == 127 for c in value)):
            raise Invalid(where, "holds control characters")
        if self.choices is not None and value not in self.choices:
            raise Invalid(where, "must be one of " + ", ".join(self.choices))
        if self.pattern is not None and not self.pattern.fullmatch(value):
            raise Invalid(where, "has the wrong form")


@dataclass(frozen=True)
class Int(Spec):
    least: int
    most: int

    def check(self, value: Any, where: str) -> None:
        if not _is_int(value):
            raise Invalid(where, "must be a whole number")
        if not self.least <= value <= self.most:
            raise Invalid(where, f"must be between {self.least} and {self.most}")


@dataclass(frozen=True)
class Bool(Spec):
    def check(self, value: Any, where: str) -> None:
        if not isinstance(value, bool):
            raise Invalid(where, "must be true or false")


def parse_day(value: Any, where: str) -> date:
    """An ISO day (YYYY-MM-DD) between 2000 and 2100, or :class:`Invalid`."""
    if not isinstance(value, str) or len(value) != 10:
        raise Invalid(where, "must be a date (YYYY-MM-DD)")
    try:
        day = date.fromisoformat(value)
    except ValueError as exc:
        raise Invalid(where, "must be a date (YYYY-MM-DD)") from exc
    if not EARLIEST <= day <= LATEST:
        raise Invalid(where, f"must be between {EARLIEST.year} and {LATEST.year}")
    return day


def parse_moment(value: Any, where: str) -> datetime:
    """An ISO date and time between 2000 and 2100, as the kiosks write it (``ledger.iso``)."""
    if not isinstance(value, str) or not 10 <= len(value) <= 40:
        raise Invalid(where, "must be a date and time")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise Invalid(where, "must be a date and time") from exc
    if not EARLIEST <= moment.date() <= LATEST:
        raise Invalid(where, f"must be between {EARLIEST.year} and {LATEST.year}")
    return moment


@dataclass(frozen=True)
class Day(Spec):
    def check(self, value: Any, where: str) -> None:
        parse_day(value, where)


@dataclass(frozen=True)
class Moment(Spec):
    def check(self, value: Any, where: str) -> None:
        parse_moment(value, where)


@dataclass(frozen=True)
class Null(Spec):
    """``inner`` or null."""

    inner: Spec

    def check(self, value: Any, where: str) -> None:
        if value is not None:
            self.inner.check(value, where)


@dataclass(frozen=True)
class ListOf(Spec):
    item: Spec
    most: int
    least: int = 0
    unique: bool = False

    def check(self, value: Any, where: str) -> None:
        if not isinstance(value, list):
            raise Invalid(where, "must be a list")
        if not self.least <= len(value) <= self.most:
            raise Invalid(where, f"must hold {self.least} to {self.most} entries")
        for position, entry in enumerate(value):
            self.item.check(entry, _at(where, position))
        if self.unique and len({json.dumps(entry, sort_keys=True) for entry in value}) != len(value):
            raise Invalid(where, "holds the same entry twice")


@dataclass(frozen=True)
class Record(Spec):
    """A JSON object with these fields (``required`` ones must be there; no others may be)."""

    fields: Mapping[str, Spec]
    required: frozenset[str] = frozenset()
    meaning: Callable[[Mapping[str, Any], str], None] | None = None

    def check(self, value: Any, where: str) -> None:
        if not isinstance(value, dict):
            raise Invalid(where, "must be an object")
        for name in sorted(self.required - value.keys()):
            raise Invalid(_at(where, name), "is missing")
        for name, entry in value.items():
            spec = self.fields.get(name)
            if spec is None:
                raise Invalid(_at(where, str(name)[:40]), "is not a known field")
            spec.check(entry, _at(where, name))
        if self.meaning is not None:
            self.meaning(value, where)


@dataclass(frozen=True)
class MapOf(Spec):
    key: Text
    value: Spec
    most: int

    def check(self, value: Any, where: str) -> None:
        if not isinstance(value, dict):
            raise Invalid(where, "must be an object")
        if len(value) > self.most:
            raise Invalid(where, f"must hold at most {self.most} entries")
        for name, entry in value.items():
            self.key.check(name, _at(where, "key"))
            self.value.check(entry, _at(where, name))


@dataclass(frozen=True)
class SmallJSON(Spec):
    """Anything JSON of at most ``most_bytes`` (a kiosk's own setting: the server does not use it)."""

    most_bytes: int

    def check(self, value: Any, where: str) -> None:
        try:
            size = len(json.dumps(value, ensure_ascii=False).encode())
        except (TypeError, ValueError, UnicodeEncodeError) as exc:
            raise Invalid(where, "is not valid JSON text") from exc
        if size > self.most_bytes:
            raise Invalid(where, f"larger than {self.most_bytes} bytes")


# ---------------------------------------------------------------- shared pieces

CODE = Text(MAX_CODE, 1, single_line=True)  # a card or copy code, as the scanner cleans it
UUID = Text(64, 1, re.compile(r"[A-Za-z0-9-]+"))
PLACE = Text(64, single_line=True)  # a location ("main", "lop-6A1")
SHELF = Text(32, single_line=True)
WHO = Text(MAX_CODE, single_line=True)  # "by": a helper's card code or "librarian"
NOTE = Text(500)
DEVICE = Text(64, 1, re.compile(r"[A-Za-z0-9_.:-]+"))
NAME = Text(200, single_line=True)
CLASS = Text(32, single_line=True)
WEEKDAYS = ListOf(Int(0, 6), 6, unique=True)  # all seven closed would leave no day to make a book due
TERM_ENDS = ListOf(Day(), 12, unique=True)
CLASS_LINK = Record({"class": Text(32, 1, single_line=True), "created": Moment()}, frozenset({"class", "created"}))
CLASS_LINKS = MapOf(Text(64, pattern=LINK_TOKEN), CLASS_LINK, 2000)

SETTING_VALUES: Mapping[str, Spec] = {
    "block_when_overdue": Bool(),
    "closed_weekdays": WEEKDAYS,
    "term_ends": TERM_ENDS,
    "year_end": Null(Day()),
    "class_links": CLASS_LINKS,
    "school_name": NAME,
}
assert SETTING_VALUES.keys() == SHARED_SETTINGS


def _policy_meaning(value: Mapping[str, Any], where: str) -> None:
    seen: set[tuple[str, str]] = set()
    for position, rule in enumerate(value["rules"]):
        pair = (rule["patron_kind"], rule["category"])
        if pair in seen:
            raise Invalid(_at(_at(where, "rules"), position), "repeats a reader kind and category")
        seen.add(pair)
    kinds = {kind for kind, _category in seen}
    if any((kind, ANY) not in seen for kind in kinds) and (ANY, ANY) not in seen:
        raise Invalid(_at(where, "rules"), "needs a rule for every other category")


RULE = Record({
    "patron_kind": Text(16, choices=(*PATRON_KINDS, ANY)),
    "category": Text(16, choices=(*CATEGORIES, ANY)),
    "max_loans": Int(0, POLICY_LIMITS["max_loans"]),
    "loan_days": Int(0, POLICY_LIMITS["loan_days"]),
    "max_renewals": Int(0, POLICY_LIMITS["max_renewals"]),
    "due_mode": Text(16, choices=DUE_MODES),
    "loanable": Bool(),
}, frozenset({"patron_kind", "category", "max_loans", "loan_days"}))


def _setting_meaning(value: Mapping[str, Any], where: str) -> None:
    spec = SETTING_VALUES.get(value["key"], SmallJSON(MAX_LOCAL_SETTING_BYTES))
    spec.check(value["value"], _at(where, "value"))


def _checkout_meaning(value: Mapping[str, Any], where: str) -> None:
    lent, due = parse_moment(value["at"], "at").date(), parse_day(value["due"], "due")
    if not -1 <= (due - lent).days <= 2 * POLICY_LIMITS["loan_days"]:
        raise Invalid(_at(where, "due"), "is too far from the day the book was lent")


# ---------------------------------------------------------------- fact kinds


@dataclass(frozen=True)
class Fact:
    """A fact kind: its payload schema and the device roles that may record it."""

    payload: Record
    roles: frozenset[str] = field(default_factory=lambda: frozenset({DESK}))


def _fact(fields: Mapping[str, Spec], required: str, roles: tuple[str, ...] = (DESK,),
          meaning: Callable[[Mapping[str, Any], str], None] | None = None) -> Fact:
    return Fact(Record(fields, frozenset(required.split()), meaning), frozenset(roles))


EVERYONE = (KIOSK, HELPER, DESK)
STAFF = (HELPER, DESK)
TITLE = {"title": Text(1000, 1), "isbn": Null(Text(20, pattern=re.compile(r"[0-9Xx -]*"))),
         "author": Null(Text(500)), "publisher": Null(Text(500)), "year": Null(Int(0, LATEST.year)),
         "category": Null(Text(16, choices=(*CATEGORIES, ""))), "classification": Null(Text(100))}
WORKFLOW = {"at": Moment(), "by": WHO, "device": DEVICE}  # who did it and when, on every workflow fact

FACTS: Mapping[str, Fact] = {
    "loan.checkout": _fact({"loan": UUID, "item": CODE, "patron": CODE, "at": Moment(), "due": Day(),
                            "location": Null(PLACE), "device": DEVICE},
                           "loan item patron at due device", EVERYONE, _checkout_meaning),
    "loan.checkin": _fact({"item": CODE, "at": Moment(), "device": DEVICE, "loan": Null(UUID),
                           "status": Null(Text(16, choices=COPY_STATUSES))}, "item at", EVERYONE),
    "loan.renew": _fact({"loan": UUID, "item": CODE, "due": Day(), "renewals": Int(0, 100), "device": DEVICE},
                        "loan due renewals", EVERYONE),
    "copy.status": _fact({"item": CODE, "status": Text(16, choices=COPY_STATUSES), "note": NOTE, "device": DEVICE},
                         "item status"),
    "patron.upsert": _fact({"code": CODE, "name": Text(200, 1, single_line=True), "class_name": CLASS,
                            "kind": Text(16, choices=PATRON_KINDS), "school_year": Text(32, single_line=True),
                            "active": Bool(), "gender": Text(8, choices=GENDERS), "device": DEVICE}, "code"),
    "catalog.upsert": _fact({**TITLE, "item": CODE, "location": PLACE, "shelf": SHELF,
                             "added_on": Null(Day()), "price": Null(Int(0, 100_000_000)),
                             "status": Text(16, choices=COPY_STATUSES), "device": DEVICE}, "item title"),
    "policy.set": _fact({"rules": ListOf(RULE, 100), "device": DEVICE}, "rules", meaning=_policy_meaning),
    "calendar.set": _fact({"closed_weekdays": WEEKDAYS, "term_ends": TERM_ENDS, "year_end": Null(Day()),
                           "closed_days": ListOf(Record({"day": Day(), "reason": Text(200)}, frozenset({"day"})),
                                                 2000),
                           "device": DEVICE}, ""),
    # Who may set a setting depends on the key: see :func:`allowed`.
    "setting.set": _fact({"key": Text(64, 1, single_line=True), "value": SmallJSON(MAX_LOCAL_SETTING_BYTES),
                          "device": DEVICE}, "key value", EVERYONE, _setting_meaning),
    "copy.move": _fact({"item": CODE, "location": Text(64, 1, single_line=True), "shelf": SHELF,
                        "reason": Text(200), **WORKFLOW}, "item location", STAFF),
    "rotation.open": _fact({"batch": UUID, "location": Text(64, 1, single_line=True), "class_name": CLASS,
                            "teacher": WHO, "helpers": ListOf(CODE, 100), "due": Null(Day()), **WORKFLOW},
                           "batch location at"),
    "rotation.add": _fact({"batch": UUID, "item": CODE, "home_location": Text(64, 1, single_line=True),
                           "home_shelf": SHELF, **WORKFLOW}, "batch item home_location at", STAFF),
    "rotation.return": _fact({"batch": UUID, "item": CODE, "loan_closed": Null(UUID), **WORKFLOW},
                             "batch item at", STAFF),
    "rotation.unreturn": _fact({"batch": UUID, "item": CODE, **WORKFLOW}, "batch item", STAFF),
    "rotation.close": _fact({"batch": UUID, **WORKFLOW}, "batch at", STAFF),
    "stocktake.open": _fact({"session": UUID, "location": Null(PLACE), "shelf_from": SHELF, "shelf_to": SHELF,
                             **WORKFLOW}, "session at"),
    "stocktake.scan": _fact({"session": UUID, "scan": UUID, "item": CODE,
                             "status_seen": Text(16, choices=(*COPY_STATUSES, "")), **WORKFLOW},
                            "session scan item at", EVERYONE),
    "stocktake.finish": _fact({"session": UUID, "missing": ListOf(CODE, MAX_COPIES),
                               "result": Record({name: ListOf(CODE, MAX_COPIES) for name in RESULT_LISTS}),
                               "note": NOTE, **WORKFLOW}, "session missing result note at"),
    "intake.receive": _fact({**TITLE, "items": ListOf(CODE, 1000, least=1, unique=True), "location": PLACE,
                             "shelf": SHELF, "price": Null(Int(0, 100_000_000)), "added_on": Null(Day()),
                             "source": Text(32, single_line=True), "donor": Text(200), **WORKFLOW},
                            "title items"),
    # The librarian's desk: lending despite a refusal, and a lost or damaged book made good (đền sách).
    "loan.override": _fact({"loan": UUID, "item": CODE, "patron": CODE, "at": Moment(), "device": DEVICE,
                            "refusal": Text(32, choices=OVERRIDABLE), "reason": Text(32, choices=OVERRIDE_REASONS)},
                           "loan item patron at device refusal reason"),
    "loan.settle": _fact({"loan": UUID, "item": CODE, "patron": CODE, "at": Moment(), "device": DEVICE,
                          "status": Text(16, choices=("lost", "damaged")), "note": NOTE,
                          "how": Text(16, choices=SETTLEMENTS), "amount": Null(Int(1, MAX_AMOUNT)),
                          "replacement": Null(CODE)}, "loan item patron at device status how"),
    # A reader reserves a title at the public screen (kiosk/holds.py): circulation, like a checkout.
    "hold.place": _fact({"hold": UUID, "patron": CODE, "item": CODE, "at": Moment(), "device": DEVICE,
                         "cancelled_at": Null(Moment()), "cancelled_by": WHO}, "hold patron item at", EVERYONE),
    "hold.cancel": _fact({"hold": UUID, "at": Moment(), "by": WHO}, "hold at", EVERYONE),
}


def check_fact(event_type: str, payload: Any) -> None:
    """Raise :class:`Invalid` (with the reason to record) unless ``payload`` is a valid fact of that kind."""
    fact = FACTS.get(event_type)
    if fact is None:
        raise Invalid("type", f"unknown fact kind {event_type[:40]!r}")
    fact.payload.check(payload, "")


def allowed(role: str, event_type: str, payload: Mapping[str, Any]) -> bool:
    """May a device of ``role`` record this (valid) fact? A shared setting needs a librarian desk;
    a kiosk's own setting (its camera, its prefixes…) is its own business."""
    if event_type == "setting.set":
        return payload.get("key") not in SHARED_SETTINGS or role == DESK
    fact = FACTS.get(event_type)
    return fact is not None and role in fact.roles


def roles_table() -> list[tuple[str, list[str]]]:
    """(fact kind, roles that may record it), for the docs and the devices page."""
    rows = [(kind, [role for role in ROLES if role in fact.roles]) for kind, fact in FACTS.items()]
    return rows


# ---------------------------------------------------------------- what a kiosk pulls

# A server publishes the merged state of an entity, not the fact a kiosk recorded: these kinds
# carry fields no fact has (a loan's return, a batch's closing), so they have schemas of their own.
WHO_OR_NONE = Null(WHO)
STATES: Mapping[str, Record] = {
    "loan.state": Record({"loan": UUID, "item": CODE, "patron": CODE, "at": Moment(), "due": Day(),
                          "returned_at": Null(Moment()), "renewals": Int(0, 100), "location": Null(PLACE),
                          "checkout_device": Null(Text(64, single_line=True)),
                          "checkin_device": Null(Text(64, single_line=True))},
                         frozenset({"loan", "item", "patron", "at", "due"})),
    "stocktake.state": Record({"session": UUID, "location": Null(PLACE), "shelf_from": SHELF, "shelf_to": SHELF,
                               "at": Moment(), "by": WHO, "finished_at": Null(Moment()), "finished_by": WHO_OR_NONE,
                               "result": Null(Record({name: ListOf(CODE, MAX_COPIES) for name in RESULT_LISTS}))},
                              frozenset({"session", "at"})),
    "rotation.state": Record({"batch": UUID, "location": Text(64, 1, single_line=True), "class_name": Null(CLASS),
                              "teacher": WHO_OR_NONE, "helpers": ListOf(CODE, 100), "due": Null(Day()),
                              "at": Moment(), "by": WHO, "closed_at": Null(Moment()), "closed_by": WHO_OR_NONE},
                             frozenset({"batch", "location", "at"})),
    "rotation_item.state": Record({"batch": UUID, "item": CODE, "home_location": Text(64, 1, single_line=True),
                                   "home_shelf": SHELF, "at": Moment(), "by": WHO, "returned_at": Null(Moment()),
                                   "returned_by": WHO_OR_NONE},
                                  frozenset({"batch", "item", "home_location", "at"})),
}


def _key_field(name: str) -> Callable[[Mapping[str, Any]], Any]:
    return lambda payload: payload.get(name)


# kind → (the one record type a server publishes for it, the change-log key its payload names).
# sync/server/changes.py's PUBLISHERS must agree (tests/sync/test_schema.py).
PULLED: Mapping[str, tuple[str, Callable[[Mapping[str, Any]], Any]]] = {
    "patron": ("patron.upsert", _key_field("code")),
    "copy": ("catalog.upsert", _key_field("item")),
    "loan": ("loan.state", _key_field("loan")),
    "policy": ("policy.set", lambda _payload: "rules"),
    "calendar": ("calendar.set", lambda _payload: "calendar"),
    "setting": ("setting.set", _key_field("key")),
    "stocktake": ("stocktake.state", _key_field("session")),
    "stocktake_scan": ("stocktake.scan", _key_field("scan")),
    "rotation": ("rotation.state", _key_field("batch")),
    "rotation_item": ("rotation_item.state", lambda p: f"{p.get('batch')}/{p.get('item')}"),
    "hold": ("hold.place", _key_field("hold")),
}
MAX_KEY = 200  # the longest change-log key: a rotation entry's "batch/item"


def check_pulled(kind: Any, key: Any, op: Any, record_type: Any, payload: Any) -> None:
    """Raise :class:`Invalid` unless a record a server sent means something this kiosk may apply.

    The server checked every fact when it was pushed, but a kiosk trusts no reply it did not
    check: a wrong or hostile server must not set this kiosk's own settings (its PIN, its camera),
    and a record must be what its kind says (a "patron" record applies as a card, nothing else).
    """
    if kind not in PULLED:
        return  # a kind of state from a newer server: nothing here uses it, nothing is applied
    expected_type, key_of = PULLED[kind]
    if record_type != expected_type:
        raise Invalid("type", f"a {kind} record must be {expected_type}")
    if not isinstance(key, str) or not 0 < len(key) <= MAX_KEY:
        raise Invalid("key", "must be text of 1 to 200 characters")
    if op == "delete":
        return  # a tombstone names its key and nothing else
    if kind == "setting" and (not isinstance(payload, dict) or payload.get("key") not in SHARED_SETTINGS):
        raise Invalid("key", "is not a setting the school shares; a kiosk's own settings stay its own")
    spec = STATES.get(expected_type) or FACTS[expected_type].payload
    spec.check(payload, "")
    if key_of(payload) != key:
        raise Invalid("key", "does not match the record's payload")
