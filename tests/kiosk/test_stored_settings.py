"""Defence in depth (docs/security.md, "A paired device or an old server"): every invalid value the old
server accepted and published, pulled into a real kiosk database the way sync applies it, and the
kiosk keeps lending; the librarian's pages still open, with a warning naming the setting."""

from __future__ import annotations

import logging
import re
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from kiosk import stored_settings
from kiosk.db import db, write_transaction
from kiosk.models import Copy
from sync import kiosk_state
from tests.conftest import copy_fact

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
GOOD_RULE = {"patron_kind": "student", "category": "*", "max_loans": 3, "loan_days": 10, "max_renewals": 1,
             "due_mode": "days", "loanable": True}


def pulled(event_type: str, payload: dict, key: str = "x") -> bool:
    """Apply one record as a pull does (sync/kiosk_state.apply_record); False if even the applier refuses it."""
    kind = {"setting.set": "setting", "policy.set": "policy", "calendar.set": "calendar"}[event_type]
    db.connect(reuse_if_open=True)
    try:
        with write_transaction():
            kiosk_state.apply_record({"op": "upsert", "kind": kind, "key": key, "type": event_type,
                                      "payload": payload})
        return True
    except Exception:  # noqa: BLE001 - what the applier itself can't store never reaches the readers
        return False
    finally:
        db.close()


def setting(key: str, value) -> tuple[str, dict]:
    return "setting.set", {"key": key, "value": value}


def rules(*rows: dict) -> tuple[str, dict]:
    return "policy.set", {"rules": list(rows)}


JUNK = {
    "term_ends text": setting("term_ends", "junk"),
    "term_ends bad day": setting("term_ends", ["2026-13-45"]),
    "term_ends numbers": setting("term_ends", [1, 2]),
    "term_ends null day": setting("term_ends", ["2026-05-31", None]),
    "term_ends object": setting("term_ends", {"a": 1}),
    "year_end text": setting("year_end", "junk"),
    "year_end number": setting("year_end", 20260531),
    "year_end 30 Feb": setting("year_end", "2026-02-30"),
    "year_end list": setting("year_end", ["2026-05-31"]),
    "closed_weekdays text": setting("closed_weekdays", "junk"),
    "closed_weekdays 7 and 8": setting("closed_weekdays", [7, 8]),
    "closed_weekdays names": setting("closed_weekdays", ["Sat", "Sun"]),
    "closed_weekdays number": setting("closed_weekdays", 5),
    "closed_weekdays negative": setting("closed_weekdays", [-1]),
    "closed_weekdays float": setting("closed_weekdays", [5.5]),
    "block_when_overdue text": setting("block_when_overdue", "no"),
    "class_links text": setting("class_links", "junk"),
    "class_links list": setting("class_links", [1, 2]),
    "class_links flat": setting("class_links", {"tok-123456789": "6A1"}),
    "class_links no class": setting("class_links", {"tok-123456789": {"class": 5}}),
    "class_links null": setting("class_links", {"tok-123456789": None}),
    "school_name number": setting("school_name", 5),
    "school_name huge": setting("school_name", "x" * 100_000),
    "school_name object": setting("school_name", {"a": 1}),
    "school_year_start text": setting("school_year_start", "junk"),
    "school_year_start 13-45": setting("school_year_start", "13-45"),
    "accession_prefixes text": setting("accession_prefixes", "junk"),
    "policy huge loan days": rules({**GOOD_RULE, "loan_days": 10**9}),
    "policy negative": rules({**GOOD_RULE, "max_loans": -5, "loan_days": -3}),
    "policy text numbers": rules({**GOOD_RULE, "max_loans": "abc"}),
    "policy unknown kind": rules({**GOOD_RULE, "patron_kind": "x" * 5000}),
    "policy unknown category": rules({**GOOD_RULE, "category": ["TN"]}),
    "policy float days": rules({**GOOD_RULE, "loan_days": 1e6}),
    "calendar junk": ("calendar.set", {"closed_days": [], "closed_weekdays": "junk", "term_ends": [5],
                                       "year_end": {"a": 1}}),
}


def lends_and_opens(client, item: str) -> None:
    """The kiosk lends, looks up, renews, returns; the librarian's pages open (no 5xx anywhere)."""
    answer = client.post("/api/checkout", json={"patron": "HS001", "item": item})
    assert answer.status_code == 200, answer.get_json()
    assert client.post("/api/patron", json={"patron": "HS001"}).status_code == 200
    assert client.post("/api/renew", json={"patron": "HS001", "item": item}).status_code < 500
    assert client.post("/api/checkin", json={"item": item}).status_code == 200
    for page in ("/admin/", "/admin/calendar", "/admin/policy", "/admin/reports/", "/admin/overdue",
                 "/admin/patrons/HS001", "/staff/", "/class/tok-123456789"):
        assert client.get(page).status_code < 500, page


@pytest.fixture
def librarian(client, school):
    token = CSRF.search(client.get("/admin/login").get_data(as_text=True)).group(1)
    assert client.post("/admin/login", data={"pin": "1234", "csrf_token": token}).status_code == 302
    return client


@pytest.mark.parametrize("case", JUNK)
def test_the_kiosk_keeps_lending_after_pulling_an_invalid_setting(librarian, case, caplog):
    caplog.set_level(logging.WARNING, "muontra.settings")
    assert pulled(*JUNK[case]), "the old applier stored it"
    lends_and_opens(librarian, "TN-0001")
    home = librarian.get("/admin/?lang=en").get_data(as_text=True)
    name = JUNK[case][1].get("key", "policy") if JUNK[case][0] != "calendar.set" else "closed_weekdays"
    assert 'id="setting-problems"' in home and name in home, case
    assert any("not valid" in record.getMessage() for record in caplog.records)


def test_a_good_value_stored_again_ends_the_warning_and_is_the_new_fallback(librarian, clock):
    pulled(*setting("closed_weekdays", [6]))
    librarian.get("/admin/")  # read: now the last good value
    pulled(*setting("closed_weekdays", "junk"))
    assert 'id="setting-problems"' in librarian.get("/admin/").get_data(as_text=True)
    # Monday 2 March + 10 days is Thursday 12 March, open either way; with only Sunday closed a
    # Saturday due date stays: lend on Wednesday 4 March, 10 days → Saturday 14 March.
    clock.set(clock.moment + timedelta(days=2))
    answer = librarian.post("/api/checkout", json={"patron": "HS001", "item": "TN-0002"})
    assert answer.get_json()["loan"]["due"] == "2026-03-14"  # the last good [6], not the default [5, 6]
    pulled(*setting("closed_weekdays", [5, 6]))
    assert 'id="setting-problems"' not in librarian.get("/admin/").get_data(as_text=True)


JSON = st.recursive(st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.floats(allow_nan=False)
                    | st.text(max_size=12) | st.sampled_from(["2026-05-31", "2026-13-01", "09-01", "6A1"]),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                                   max_size=4), max_leaves=10)
RULE_ROWS = st.lists(st.fixed_dictionaries({
    "patron_kind": st.sampled_from(["student", "*", "teacher", "", "x"]) | JSON,
    "category": st.sampled_from(["*", "TN", "SGK", "nope"]) | JSON,
    "max_loans": st.integers(-5, 10**6) | JSON, "loan_days": st.integers(-5, 10**10) | JSON,
    "max_renewals": st.integers(-2, 5) | JSON, "due_mode": st.sampled_from(["days", "term_end", "year_end"]),
    "loanable": st.booleans() | JSON}), min_size=1, max_size=3)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(junk=st.one_of(st.tuples(st.sampled_from(sorted(stored_settings.SPECS)), JSON).map(lambda kv: setting(*kv)),
                      RULE_ROWS.map(lambda rows: rules(*rows))))
def test_any_junk_setting_never_breaks_lending(librarian, junk):
    assume(pulled(*junk))
    db.connect(reuse_if_open=True)
    item = f"J-{Copy.select().count():05d}"
    librarian.application.extensions["circulation"].record_facts([copy_fact(item, "Sách thử")])
    db.close()
    answer = librarian.post("/api/checkout", json={"patron": "HS001", "item": item})
    assert answer.status_code < 500, answer.get_json()
    for page in ("/admin/", "/admin/calendar", "/admin/policy"):
        assert librarian.get(page).status_code < 500, page
    if answer.status_code == 200:
        assert librarian.post("/api/checkin", json={"item": item}).status_code == 200
