"""Refusal: a card that is no longer active (left the school, suspended)."""

import pytest

from kiosk import rules
from tests.kiosk.conftest import MONDAY, book, policy, refused_over_http, student


def test_rule_refuses_an_inactive_patron():
    with pytest.raises(rules.InactivePatron):
        rules.checkout(student(active=False), book(), [], policy(), MONDAY)


def test_service_refuses_an_inactive_card(school):
    with pytest.raises(rules.InactivePatron):
        school.checkout("HS003", "TN-0001")


def test_reactivated_card_may_borrow_again(school):
    from tests.conftest import patron_fact

    school.record_facts([patron_fact("HS003", "Lê Minh Châu", active=True)])
    assert school.checkout("HS003", "TN-0001").item == "TN-0001"


@pytest.mark.parametrize("path", ["/api/checkout", "/api/patron"])
def test_http_answers_403_inactive_patron(client, school, path):
    vi, en = refused_over_http(client, path, {"patron": "HS003", "item": "TN-0001"}, "inactive_patron", 403)
    assert "no longer active" in en
