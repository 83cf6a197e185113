"""The kiosk's tables. Invariants live in the schema, not only in code."""

from __future__ import annotations

import json
from typing import Any

from peewee import (
    SQL,
    BooleanField,
    CharField,
    DateField,
    DateTimeField,
    Expression,
    ForeignKeyField,
    IntegerField,
    Model,
    ModelSelect,
    TextField,
)

from .db import db

# Re-exported for kiosk/importer.py and kiosk/marc.py (helper `imports` rewrites them); new code
# imports the words from kiosk/vocabulary.py.
from .vocabulary import CATEGORIES, COPY_STATUSES, GENDERS, MAIN_LIBRARY, PATRON_KINDS  # noqa: F401


class JSONField(TextField):
    def db_value(self, value: Any) -> str | None:
        return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)

    def python_value(self, value: str | None) -> Any:
        return None if value is None else json.loads(value)


class BaseModel(Model):
    class Meta:
        database = db
        legacy_table_names = False


class Setting(BaseModel):
    """Key/value settings (device id, PIN hash, term dates…), values as JSON."""

    key = CharField(primary_key=True)
    value = JSONField()


class Patron(BaseModel):
    code = CharField(unique=True)  # mã học sinh / staff code, printed on the card
    name = CharField()
    class_name = CharField(column_name="class", default="", index=True)
    kind = CharField(default="student", constraints=[SQL("CHECK (kind IN ('student','teacher','helper'))")])
    school_year = CharField(default="")
    active = BooleanField(default=True)
    gender = CharField(default="", constraints=[SQL("DEFAULT ''"), SQL("CHECK (gender IN ('','male','female'))")])

    @property
    def first_name(self) -> str:
        # Vietnamese names put the given name last: "Nguyễn Văn An" → "An".
        parts = self.name.split()
        return parts[-1] if parts else self.name


class Title(BaseModel):
    isbn = CharField(null=True, index=True)  # ISBN-13 digits; identifies a title, never a copy
    title = CharField()
    author = CharField(default="")
    publisher = CharField(default="")
    year = IntegerField(null=True)
    category = CharField(default="other", index=True)
    classification = CharField(default="")


class Copy(BaseModel):
    code = CharField(unique=True)  # số đăng ký cá biệt, printed as the barcode label
    title = ForeignKeyField(Title, backref="copies", on_delete="RESTRICT")
    location = CharField(default=MAIN_LIBRARY, index=True)
    shelf = CharField(default="")
    status = CharField(
        default="available",
        constraints=[
            SQL(
                "CHECK (status IN ('available','on_loan','lost','damaged','withdrawn','not_for_loan'))"
            )
        ],
    )
    status_note = CharField(default="")
    added_on = DateField(null=True)
    price = IntegerField(null=True)


class Loan(BaseModel):
    uuid = CharField(unique=True)
    copy = ForeignKeyField(Copy, backref="loans", on_delete="RESTRICT")
    patron = ForeignKeyField(Patron, backref="loans", on_delete="RESTRICT")
    checked_out_at = DateTimeField()
    due = DateField(index=True)
    returned_at = DateTimeField(null=True)
    renewals = IntegerField(default=0)
    location = CharField(default=MAIN_LIBRARY)
    checkout_device = CharField()
    checkin_device = CharField(null=True)

    @classmethod
    def is_open(cls) -> Expression:
        """The one open-loan predicate: not returned yet (the partial unique index says the same)."""
        return cls.returned_at.is_null()

    @classmethod
    def open_loans(cls, *fields: Any) -> ModelSelect:
        return cls.select(*fields).where(cls.is_open())


class LoanNote(BaseModel):
    """What the librarian recorded about a loan besides its dates: an override of a refusal at the
    desk, or how a lost or damaged book's loan ended (đền sách). One row per loan and kind."""

    loan = CharField()  # the loan's uuid (a note may arrive before the loan on a server)
    kind = CharField(constraints=[SQL("CHECK (kind IN ('override','settle'))")])
    item = CharField()
    patron = CharField()
    at = DateTimeField()
    device = CharField()
    details = JSONField()  # override: {refusal, reason}; settle: {status, how, amount, replacement, note}

    class Meta:
        indexes = ((("loan", "kind"), True),)


class PolicyRule(BaseModel):
    """Lending rule for one patron kind × category; category '*' covers the rest."""

    patron_kind = CharField()
    category = CharField()
    max_loans = IntegerField()
    loan_days = IntegerField()
    max_renewals = IntegerField(default=1)
    due_mode = CharField(
        default="days", constraints=[SQL("CHECK (due_mode IN ('days','term_end','year_end'))")]
    )
    loanable = BooleanField(default=True)

    class Meta:
        indexes = ((("patron_kind", "category"), True),)


class ClosedDay(BaseModel):
    day = DateField(unique=True)
    reason = CharField(default="")


class Event(BaseModel):
    """Append-only outbox: every change, in the transaction that made it.

    ``seq`` is gap-free per device because it is taken inside the write lock.
    """

    uuid = CharField(unique=True)
    device = CharField()
    seq = IntegerField()
    type = CharField()
    payload = JSONField()
    device_time = DateTimeField()

    class Meta:
        indexes = ((("device", "seq"), True),)


KIOSK_MODELS = [Setting, Patron, Title, Copy, Loan, LoanNote, PolicyRule, ClosedDay, Event]


# ---------------------------------------------------------------- school workflows (kiosk/workflows)
# Rotation batches and stock-take sessions (schema migration 0002_workflows). Rows are found by
# uuid and copy code in facts, never by row id, so a fact made on one kiosk applies the same on
# the server and on every other kiosk.


class RotationBatch(BaseModel):
    """A set of copies lent to a class library for a period (luân chuyển sách)."""

    uuid = CharField(unique=True)
    location = CharField(index=True)  # "lop-6A1": the copies' location while the batch is out
    class_name = CharField(default="")
    teacher = CharField(default="")  # homeroom teacher's patron code
    helpers = JSONField(default=list)  # the class helpers' patron codes
    due = DateField(null=True)
    opened_at = DateTimeField()
    opened_by = CharField(default="")
    closed_at = DateTimeField(null=True)
    closed_by = CharField(null=True)


class RotationItem(BaseModel):
    batch = ForeignKeyField(RotationBatch, backref="items", on_delete="CASCADE")
    copy = ForeignKeyField(Copy, backref="rotations", on_delete="RESTRICT")
    home_location = CharField()  # where the copy goes back to
    home_shelf = CharField(default="")
    added_at = DateTimeField()
    added_by = CharField(default="")
    returned_at = DateTimeField(null=True)
    returned_by = CharField(null=True)

    class Meta:
        indexes = ((("batch", "copy"), True),)


class StocktakeSession(BaseModel):
    """A stock-take (kiểm kê) of a location, a shelf range or the whole collection."""

    uuid = CharField(unique=True)
    location = CharField(null=True)  # None: every location
    shelf_from = CharField(default="")
    shelf_to = CharField(default="")
    opened_at = DateTimeField()
    opened_by = CharField(default="")
    finished_at = DateTimeField(null=True)
    finished_by = CharField(null=True)
    result = JSONField(null=True)  # frozen at finishing: the record the board signs


class StocktakeScan(BaseModel):
    """One scan of a copy during a stock-take; scans from every kiosk merge by session uuid."""

    uuid = CharField(unique=True)
    session = ForeignKeyField(StocktakeSession, backref="scans", on_delete="CASCADE")
    item = CharField(index=True)  # the cleaned code, even one the catalogue doesn't know
    scanned_at = DateTimeField()
    device = CharField()
    by = CharField(default="")
    status_seen = CharField(default="")  # the copy's status when scanned: a "lost" one was found


WORKFLOW_MODELS = [RotationBatch, RotationItem, StocktakeSession, StocktakeScan]


class Hold(BaseModel):
    """A reservation (đặt trước) of a title: only placed and maybe cancelled. Whether a copy waits for
    it, until when, and whether it lapsed or was collected are derived (kiosk/hold_rules.py)."""

    uuid = CharField(unique=True)
    patron = ForeignKeyField(Patron, backref="holds", on_delete="RESTRICT")
    title = ForeignKeyField(Title, backref="holds", on_delete="RESTRICT")
    item = CharField()  # the copy label it was placed with: how facts name the title
    placed_at = DateTimeField(index=True)
    device = CharField(default="")
    cancelled_at = DateTimeField(null=True)
    cancelled_by = CharField(default="")


# Tables made by later migrations, not 0001 (which creates KIOSK_MODELS as they are now).
LATER_MODELS = [Hold]
