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
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)

from .db import db

PATRON_KINDS = ("student", "teacher", "helper")
# Optional: only how the kiosk addresses a teacher (thầy / cô); "" = not known, a neutral "Thầy/Cô".
GENDERS = ("", "male", "female")
CATEGORIES = ("SGK", "STK", "SNV", "TN", "periodical", "other")
COPY_STATUSES = ("available", "on_loan", "lost", "damaged", "withdrawn", "not_for_loan")
MAIN_LIBRARY = "main"


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
