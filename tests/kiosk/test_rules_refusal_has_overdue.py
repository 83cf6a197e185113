"""Refusal: no new loan while one is overdue (configurable)."""

from datetime import timedelta

import pytest

from kiosk import rules
from tests.kiosk.conftest import MONDAY, book, loan, policy, refused_over_http, student


def test_rule_refuses_while_a_loan_is_overdue():
    with pytest.raises(rules.HasOverdue):
        rules.checkout(student(), book(), [loan(due=MONDAY - timedelta(days=1))], policy(), MONDAY)


def test_a_loan_due_today_is_not_overdue():
    assert rules.checkout(student(), book(), [loan(due=MONDAY)], policy(), MONDAY)


def test_the_block_can_be_switched_off():
    lenient = policy(block_when_overdue=False)
    assert rules.checkout(student(), book(), [loan(due=MONDAY - timedelta(days=9))], lenient, MONDAY)


def test_http_refuses_then_lends_once_the_block_is_off(client, school, clock):
    school.checkout("HS001", "TN-0001")
    clock.set(clock() + timedelta(days=11))
    vi, en = refused_over_http(client, "/api/checkout", {"patron": "HS001", "item": "TN-0002"}, "has_overdue", 409)
    assert "overdue" in en and "quá hạn" in vi
    summary = client.post("/api/patron", json={"patron": "HS001"}).get_json()["patron"]
    assert summary["overdue"] == 1
    school.record_facts([("setting.set", {"key": "block_when_overdue", "value": False})])
    assert client.post("/api/checkout", json={"patron": "HS001", "item": "TN-0002"}).status_code == 200
