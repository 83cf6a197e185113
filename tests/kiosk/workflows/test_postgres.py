"""The workflow facts applied on PostgreSQL, as the central server does (schema 0002_workflows included)."""

from __future__ import annotations

from datetime import date

import pytest

from kiosk import ledger
from kiosk.db import db, init_database
from kiosk.migrations import KIOSK, migrate
from kiosk.models import Copy, Event, RotationItem, StocktakeScan, StocktakeSession
from tests.kiosk.workflows.conftest import shelve, workflows
from tests.sync.conftest import fresh_postgres_database

pytestmark = pytest.mark.postgres


def test_kiosk_facts_replay_on_postgres(school):
    wf = workflows(school)
    shelve(school, {"TN-0001": ("main", "A1"), "TN-0002": ("main", "A1"), "TN-0003": ("main", "A2")})
    batch = wf.open_batch("6A1", "GV001", ["CTV01"], date(2026, 4, 30), by="librarian")
    wf.add_to_batch(batch, "TN-0003", by="librarian")
    wf.return_scan(batch, "TN-0003", by="CTV01")
    session = wf.open_stocktake("main", "A1", "A2", by="librarian")
    wf.stocktake_scan(session, "TN-0001", by="CTV01")
    wf.stocktake_scan(session, "ZZ-1", by="CTV01")
    wf.finish_stocktake(session, by="librarian")
    wf.receive(isbn="", title="Hoàng tử bé", prefix="TN", count=2, by="librarian")
    facts = [(e.type, e.payload) for e in Event.select().order_by(Event.seq)]
    expected = {c.code: (c.location, c.shelf, c.status, c.status_note) for c in Copy.select()}
    original = db.obj
    with fresh_postgres_database() as url:
        server = init_database(url)
        try:
            migrate(server, KIOSK)
            with server.atomic():
                for event_type, payload in facts + facts[-6:]:  # the last facts arrive twice
                    ledger.apply(event_type, payload)
            assert {c.code: (c.location, c.shelf, c.status, c.status_note) for c in Copy.select()} == expected
            assert Copy.get(Copy.code == "TN-0002").status == "lost"
            assert StocktakeScan.select().count() == 2
            assert StocktakeSession.get().result["unknown"] == ["ZZ-1"]
            assert RotationItem.get().returned_at is not None
        finally:
            server.close()
            db.initialize(original)
