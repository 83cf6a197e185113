"""Refusal: a code that is no copy in the catalogue (at checkout; check-in answers kindly instead)."""

import pytest

from kiosk import rules
from tests.kiosk.conftest import MONDAY, policy, refused_over_http, student


def test_rule_refuses_a_missing_copy():
    with pytest.raises(rules.UnknownCopy):
        rules.checkout(student(), None, [], policy(), MONDAY)


def test_service_refuses_an_unknown_label_and_an_unknown_isbn(school):
    with pytest.raises(rules.UnknownCopy):
        school.checkout("HS001", "TN-9999")
    with pytest.raises(rules.UnknownCopy):
        school.checkout("HS001", "9786040000033")  # a valid ISBN of a title we don't hold


def test_http_answers_404_unknown_item(client, school):
    vi, en = refused_over_http(client, "/api/checkout", {"patron": "HS001", "item": "TN-9999"}, "unknown_copy", 404)
    assert "catalogue" in en
