"""The server's own tables; catalogue, patrons and loans reuse the kiosk's models.

All are bound to the same database proxy as the kiosk models, so one set of
rules and appliers runs on a kiosk's SQLite file and on the server database.
"""

from __future__ import annotations

from peewee import BooleanField, CharField, DateTimeField, FloatField, IntegerField

from kiosk.models import BaseModel, JSONField

OUTCOMES = ("applied", "applied_with_conflict", "rejected")


class ServerState(BaseModel):
    """One row: the database's epoch (names it in cursors) and the change counter.

    Taking the next change numbers is an UPDATE of this row, so the row lock
    serialises change-producing transactions until they commit: a change number
    a reader can see is never followed by a smaller one committing later.
    """

    id = IntegerField(primary_key=True)
    epoch = CharField()
    change_seq = IntegerField(default=0)
    snapshot_floor = IntegerField(default=0)  # cursors below this can't be served incrementally


class Device(BaseModel):
    id = CharField(primary_key=True)  # the kiosk's own device id, the one in its events
    name = CharField()
    key_version = IntegerField(default=1)
    revoked = BooleanField(default=False)
    paired_at = DateTimeField()
    last_seq = IntegerField(default=0)  # last event applied, in the transaction that applied it
    last_sync = DateTimeField(null=True)
    reported_seq = IntegerField(default=0)  # the kiosk's newest local event, as it last said
    clock_offset = FloatField(null=True)  # device clock minus server clock, seconds
    pull_cursor = CharField(default="")
    # What the librarian lets it record (sync/schema.py: kiosk | helper | desk). Devices paired before
    # roles existed got the least, "kiosk" (migration 0002); the librarian raises it on the devices page.
    role = CharField(default="kiosk")


class PairingCode(BaseModel):
    code_hash = CharField(primary_key=True)
    name = CharField()
    created_at = DateTimeField()
    expires_at = DateTimeField()
    used_by = CharField(null=True)
    role = CharField(default="kiosk")  # the role the device gets
    device = CharField(null=True)  # set: a librarian's "pair again" code, only for this device id


class AppliedEvent(BaseModel):
    """Every processed event, once: the (device, seq) and uuid keys make a second copy impossible."""

    device = CharField()
    seq = IntegerField()
    uuid = CharField(unique=True)
    type = CharField()
    payload = JSONField()
    device_time = CharField()
    received_at = DateTimeField()
    outcome = CharField()
    reason = CharField(default="")

    class Meta:
        indexes = ((("device", "seq"), True),)


class Conflict(BaseModel):
    """Something the librarian should look at; never dropped, resolved by a person (or noted as auto)."""

    kind = CharField(index=True)
    item = CharField(default="", index=True)
    patron = CharField(default="")
    loan = CharField(default="")
    other_loan = CharField(default="")
    device = CharField(default="")
    event_uuid = CharField(default="")
    device_time = CharField(default="")
    received_at = DateTimeField()
    details = JSONField(default=dict)
    status = CharField(default="open", index=True)  # open | resolved
    resolution = CharField(default="")
    resolved_at = DateTimeField(null=True)


class Change(BaseModel):
    """The newest state of each entity under a server change number (pull reads ``seq > cursor``).

    One row per entity: a later change moves the row to a new number, so a
    snapshot is the whole table and its size follows the data, not the history.
    """

    kind = CharField()
    key = CharField()
    seq = IntegerField(unique=True)
    op = CharField()  # upsert | delete
    type = CharField()
    payload = JSONField()
    in_snapshot = BooleanField(default=True)  # closed loans and tombstones skip a fresh kiosk's snapshot

    class Meta:
        indexes = ((("kind", "key"), True),)


class Nonce(BaseModel):
    device = CharField()
    nonce = CharField()
    seen_at = IntegerField(index=True)

    class Meta:
        indexes = ((("device", "nonce"), True),)


class PendingCheckin(BaseModel):
    """A check-in that arrived before the checkout it closes (another kiosk still offline)."""

    item = CharField(index=True)
    device = CharField()
    event_uuid = CharField()
    at = CharField()
    received_at = DateTimeField()
    # The change number when it was parked: a checkout made by a kiosk that had
    # already pulled past it came after the return, and is not closed by it.
    park_seq = IntegerField(default=0)


SERVER_MODELS = [ServerState, Device, PairingCode, AppliedEvent, Conflict, Change, Nonce, PendingCheckin]
