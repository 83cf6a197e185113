"""Tables for rotation batches and stock-take sessions (schema migration 0002_workflows).

Rows are found by uuid and copy code in facts, never by row id, so a fact made on
one kiosk applies the same on the server and on every other kiosk.
"""

from __future__ import annotations

from peewee import CharField, DateField, DateTimeField, ForeignKeyField

from ..models import BaseModel, Copy, JSONField


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
