"""sync/schema.py: every fact kind has a schema, real facts pass it, bad ones say why."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk import ledger, models
from kiosk import rules as kiosk_rules
from kiosk.admin_input import DUE_MODES, LIMITS
from kiosk.demo import build as build_school
from kiosk.workflows.rules import RESULT_LISTS
from sync import schema
from sync.server import apply as server_apply
from sync.server.changes import SHARED_SETTINGS


def test_every_fact_kind_the_ledger_applies_has_a_schema():
    """A new fact kind without a schema would be refused by every server: add its schema first."""
    missing = set(ledger.APPLIERS) - set(schema.FACTS)
    assert not missing, f"fact kinds without a schema in sync/schema.py: {sorted(missing)}"
    assert set(server_apply.APPLIERS) <= set(schema.FACTS)


def test_the_schema_module_needs_no_flask_and_no_models():
    """The kiosk's sync client reuses it to check replies; it must import on its own."""
    code = ("import sys, sync.schema; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('flask', 'peewee', 'flask_babel')]; "
            "print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_enumerations_agree_with_the_models_and_forms():
    assert schema.PATRON_KINDS == models.PATRON_KINDS
    assert schema.CATEGORIES == models.CATEGORIES
    assert schema.COPY_STATUSES == models.COPY_STATUSES
    assert schema.DUE_MODES == DUE_MODES
    assert schema.POLICY_LIMITS == LIMITS
    assert schema.RESULT_LISTS == RESULT_LISTS
    assert schema.SHARED_SETTINGS == SHARED_SETTINGS
    assert schema.OVERRIDABLE == tuple(kiosk_rules.OVERRIDABLE) and schema.OVERRIDE_REASONS == kiosk_rules.OVERRIDE_REASONS
    assert schema.SETTLEMENTS == kiosk_rules.SETTLEMENTS and schema.MAX_AMOUNT == kiosk_rules.MAX_AMOUNT
    assert {field for field in vars(kiosk_rules.Rule(**{"patron_kind": "*", "category": "*", "max_loans": 1,
                                                       "loan_days": 1}))} == set(schema.RULE.fields)


def test_a_whole_demo_school_is_valid():
    """Every fact the demo school records (calendar, policy, catalogue, cards, loans…) passes."""
    facts = build_school(date(2026, 3, 2)).facts
    kinds = {kind for kind, _payload in facts}
    assert {"catalog.upsert", "patron.upsert", "loan.checkout", "calendar.set", "setting.set"} <= kinds
    for kind, payload in facts:
        schema.check_fact(kind, payload)


@pytest.mark.parametrize(("kind", "payload", "where"), [
    ("policy.set", {"rules": [{"patron_kind": "student", "category": "*", "max_loans": 999, "loan_days": 365}]},
     "rules[0].max_loans"),
    ("policy.set", {"rules": [{"patron_kind": "*", "category": "*", "max_loans": 2, "loan_days": 7},
                              {"patron_kind": "*", "category": "*", "max_loans": 3, "loan_days": 7}]}, "rules[1]"),
    ("policy.set", {"rules": [{"patron_kind": "student", "category": "TN", "max_loans": 2, "loan_days": 7}]},
     "rules"),
    ("calendar.set", {"closed_weekdays": [0, 1, 2, 3, 4, 5, 6]}, "closed_weekdays"),
    ("calendar.set", {"term_ends": ["junk"]}, "term_ends[0]"),
    ("calendar.set", {"year_end": "2026-13-01"}, "year_end"),
    ("setting.set", {"key": "term_ends", "value": "soon"}, "value"),
    ("setting.set", {"key": "closed_weekdays", "value": [9]}, "value[0]"),
    ("setting.set", {"key": "year_end", "value": 12}, "value"),
    ("setting.set", {"key": "class_links", "value": {"abc": {"class": "6A1", "created": "2026-03-02T00:00:00"}}},
     "value.key"),
    ("setting.set", {"key": "class_links", "value": {"x" * 24: "6A1"}}, "value." + "x" * 24),
    ("setting.set", {"key": "block_when_overdue", "value": "yes"}, "value"),
    ("catalog.upsert", {"item": "TN-1", "title": "x" * 15_000_000}, "title"),
    ("catalog.upsert", {"item": "TN-1", "title": "Bad \ud800 surrogate"}, "title"),
    ("catalog.upsert", {"item": "TN-1", "title": "A", "price": "12"}, "price"),
    ("catalog.upsert", {"item": "TN-1", "title": "A", "sneaky": 1}, "sneaky"),
    ("patron.upsert", {"code": "HS1", "kind": "admin"}, "kind"),
    ("patron.upsert", {"code": "", "name": "A"}, "code"),
    ("loan.checkout", {"loan": "u1", "item": "TN-1", "patron": "HS1", "at": "2026-03-02T01:00:00",
                       "due": "2099-01-01", "device": "kiosk-1"}, "due"),
    ("loan.checkout", {"loan": "u1", "item": "TN-1", "patron": "HS1", "at": "yesterday", "due": "2026-03-09",
                       "device": "kiosk-1"}, "at"),
    ("loan.renew", {"loan": "u1", "due": "2026-03-09", "renewals": True}, "renewals"),
    ("intake.receive", {"title": "A", "items": ["A" * 60_000]}, "items[0]"),
    ("stocktake.scan", {"session": "s", "scan": "x", "item": "TN-1", "at": "2026-03-02T01:00:00",
                        "status_seen": "stolen"}, "status_seen"),
])
def test_a_bad_fact_is_refused_with_where_and_why(kind, payload, where):
    with pytest.raises(schema.Invalid) as refused:
        schema.check_fact(kind, payload)
    assert refused.value.reason.startswith(where), refused.value.reason


@pytest.mark.parametrize("name", ["\ud800", "a\x00b"])
def test_a_reason_naming_an_unstorable_field_is_itself_storable(name):
    with pytest.raises(schema.Invalid) as refused:
        schema.check_fact("loan.renew", {"loan": "u1", "due": "2026-03-09", "renewals": 1, name: 1})
    reason = refused.value.reason
    assert reason.encode("utf-8") and "\x00" not in reason and "is not a known field" in reason


def test_an_unknown_kind_is_refused():
    with pytest.raises(schema.Invalid, match="unknown fact kind"):
        schema.check_fact("policy.delete_everything", {})


def test_roles_limit_what_a_device_may_record():
    checkout = {"loan": "u1"}
    assert all(schema.allowed(role, "loan.checkout", checkout) for role in schema.ROLES)
    for kind in ("policy.set", "calendar.set", "patron.upsert", "catalog.upsert", "copy.status", "intake.receive",
                 "stocktake.finish"):
        assert not schema.allowed(schema.KIOSK, kind, {}) and not schema.allowed(schema.HELPER, kind, {})
        assert schema.allowed(schema.DESK, kind, {})
    for key in sorted(SHARED_SETTINGS):
        assert not schema.allowed(schema.KIOSK, "setting.set", {"key": key})
        assert schema.allowed(schema.DESK, "setting.set", {"key": key})
    assert schema.allowed(schema.KIOSK, "setting.set", {"key": "camera.device"})  # its own business
    assert schema.allowed(schema.HELPER, "rotation.return", {}) and not schema.allowed(schema.KIOSK, "rotation.return", {})


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=120, deadline=None)
@given(kind=st.sampled_from(sorted(schema.FACTS)), payload=json_values)
def test_any_json_is_either_valid_or_invalid_with_a_reason(kind, payload):
    """No payload makes the checker itself fail: it says yes or gives a reason, nothing else."""
    try:
        schema.check_fact(kind, payload)
    except schema.Invalid as exc:
        assert exc.reason


@settings(max_examples=80, deadline=None)
@given(kind=st.sampled_from(sorted(schema.FACTS)), name=st.text(min_size=1, max_size=12), value=json_values)
def test_a_field_never_heard_of_is_refused(kind, name, value):
    fact = schema.FACTS[kind].payload
    if name in fact.fields:
        return
    with pytest.raises(schema.Invalid):
        schema.check_fact(kind, {name: value})


def _role_rows(markdown: str) -> dict[str, list[bool]]:
    rows = {}
    for line in markdown.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0].startswith("`") and set(cells[1:]) <= {"yes", "—"}:
            rows[cells[0]] = [cell == "yes" for cell in cells[1:]]
    return rows


def test_the_role_tables_in_the_docs_are_the_codes():
    wanted = {}
    for kind in schema.FACTS:
        if kind == "setting.set":
            for label, key in (("of a shared setting", "term_ends"), ("of the kiosk's own setting", "camera")):
                wanted[f"`{kind}` {label}"] = [schema.allowed(role, kind, {"key": key}) for role in schema.ROLES]
        else:
            wanted[f"`{kind}`"] = [schema.allowed(role, kind, {}) for role in schema.ROLES]
    docs = Path(__file__).resolve().parents[2] / "docs"
    for name in ("security.md", "sync-protocol.md"):
        assert _role_rows((docs / name).read_text(encoding="utf-8")) == wanted, name
