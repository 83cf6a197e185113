"""Refusal: a card that is not registered."""

import pytest

from kiosk import rules
from tests.kiosk.conftest import MONDAY, book, policy, refused_over_http


def test_rule_refuses_a_missing_patron():
    with pytest.raises(rules.UnknownPatron):
        rules.checkout(None, book(), [], policy(), MONDAY)


def test_service_refuses_an_unregistered_card(school):
    with pytest.raises(rules.UnknownPatron):
        school.checkout("HS999", "TN-0001")
    with pytest.raises(rules.UnknownPatron):
        school.patron_summary("HS999")


@pytest.mark.parametrize(("path", "body"), [
    ("/api/checkout", {"patron": "HS999", "item": "TN-0001"}),
    ("/api/patron", {"patron": "HS999"}),
    ("/api/renew", {"patron": "HS999", "item": "TN-0001"}),
])
def test_http_answers_404_unknown_patron(client, school, path, body):
    school.checkout("HS001", "TN-0001")  # so renew reaches the patron check with a real loan
    vi, en = refused_over_http(client, path, body, "unknown_patron", 404)
    assert "not registered" in en
    assert "thủ thư" in vi.lower()
