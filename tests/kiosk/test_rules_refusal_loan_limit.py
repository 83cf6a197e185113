"""Refusal: over the limit for this kind of patron and category."""

import pytest

from kiosk import rules
from tests.kiosk.conftest import MONDAY, book, loan, policy, refused_over_http, student


def test_rule_refuses_a_fourth_book_and_says_how_many_are_held():
    held = [loan("TN-0007"), loan("TN-0008"), loan("TN-0009")]
    with pytest.raises(rules.LoanLimitReached) as refused:
        rules.checkout(student(), book(), held, policy(), MONDAY)
    assert "3" in refused.value.message_in("en") and "3" in refused.value.message_in("vi")


def test_http_refuses_the_fourth_book_but_not_a_textbook(client, school):
    for item in ("TN-0001", "TN-0002", "TN-0003"):
        assert client.post("/api/checkout", json={"patron": "HS001", "item": item}).status_code == 200
    vi, en = refused_over_http(client, "/api/checkout", {"patron": "HS001", "item": "TN-0004"}, "loan_limit", 409)
    assert "3 books" in en and "3" in vi
    summary = client.post("/api/patron", json={"patron": "HS001"}).get_json()["patron"]
    assert (summary["holding"], summary["may_borrow"]) == (3, 0)
    assert client.post("/api/checkout", json={"patron": "HS001", "item": "SGK-0001"}).status_code == 200
