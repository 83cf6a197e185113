"""The one write path stores nothing the school server would refuse.

Every fact a kiosk records goes to the server; a fact applied here but refused there leaves this
kiosk different from every other. ``ledger.record`` and ``record_many`` check each fact with the
server's own schema (sync/schema.py) before anything is written, on a fresh real SQLite file.
"""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk import ledger
from kiosk.db import db, write_transaction
from kiosk.models import Event, Patron, PolicyRule
from kiosk.store import open_store
from sync import schema

NOW = datetime(2026, 3, 2, 9, 0)


@pytest.fixture
def database(tmp_path):
    open_store(tmp_path / "data", upgrade=True)
    yield
    db.close()


def _counts() -> tuple[int, int, int]:
    return Event.select().count(), Patron.select().count(), PolicyRule.select().count()


@pytest.mark.parametrize("facts", [
    [("patron.upsert", {"code": "HS001", "name": "Nguyễn\tVăn An"})],  # a tab in a name
    [("patron.upsert", {"code": "HS001", "name": "An", "shoe_size": 38})],  # a field nobody knows
    [("policy.set", {"rules": [{"patron_kind": "teacher", "category": "*", "max_loans": 1000, "loan_days": 30}]})],
    # The last of an import's facts is bad: none of the batch is written.
    [("patron.upsert", {"code": f"HS{n:03}", "name": f"Bạn {n}"}) for n in range(50)]
    + [("catalog.upsert", {"item": "TN-1", "title": ""})],
])
def test_a_fact_the_server_would_refuse_is_refused_here_and_nothing_is_written(database, facts):
    before = _counts()
    with pytest.raises(ledger.InvalidFact) as refused:
        with write_transaction():
            if len(facts) == 1:
                ledger.record(*facts[0], device="kiosk-a", device_time=NOW)
            else:
                ledger.record_many(facts, device="kiosk-a", device_time=NOW)
    assert refused.value.http_status == 400 and refused.value.params["reason"]
    assert _counts() == before


text = st.text(max_size=30) | st.sampled_from(["HS001", "TN-0001", "", "2026-03-02", "x" * 300, "A\nB"])
value = st.none() | st.booleans() | st.integers(-5, 10**6) | text | st.lists(st.integers(0, 7), max_size=8)


# A valid fact of each kind, which the examples below change a few fields of.
BASES = {"patron.upsert": {"code": "HS001", "name": "Nguyễn Văn An", "kind": "student"},
         "catalog.upsert": {"item": "TN-0001", "title": "Dế Mèn phiêu lưu ký", "location": "main"},
         "setting.set": {"key": "camera_mirror", "value": True},
         "copy.status": {"item": "TN-0001", "status": "damaged", "note": ""}}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(event_type=st.sampled_from(sorted(BASES)), changes=st.dictionaries(
    st.sampled_from(["code", "name", "item", "title", "kind", "class_name", "active", "status", "key", "value",
                     "isbn", "year", "gender", "shelf", "price"]), value, max_size=3))
def test_whatever_is_asked_every_fact_in_the_outbox_is_one_the_server_accepts(database, event_type, changes):
    with write_transaction():  # the copy the status facts name
        ledger.apply("catalog.upsert", BASES["catalog.upsert"])
    before = Event.select().count()
    try:
        with write_transaction():
            ledger.record(event_type, {**BASES[event_type], **changes}, device="kiosk-a", device_time=NOW)
    except ledger.InvalidFact:
        assert Event.select().count() == before
        return
    stored = Event.select().order_by(Event.seq.desc()).first()
    schema.check_fact(stored.type, stored.payload)


@pytest.mark.parametrize("event_type", sorted(BASES))
def test_the_valid_facts_the_examples_start_from_are_stored(database, event_type):
    with write_transaction():
        ledger.apply("catalog.upsert", BASES["catalog.upsert"])
        ledger.record(event_type, BASES[event_type], device="kiosk-a", device_time=NOW)
    assert Event.select().where(Event.type == event_type).count() == 1
