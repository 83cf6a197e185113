"""A book the reader already holds, scanned again: a friendly "you already have it", never a refusal
worded for someone else's book, and nothing recorded."""

import pytest

from kiosk import rules
from tests.kiosk.conftest import MONDAY, book, policy, refused_over_http, student


def test_rule_says_the_book_is_already_yours():
    with pytest.raises(rules.AlreadyYours) as answer:
        rules.checkout(student(), book(status="on_loan"), [], policy(), MONDAY, holder="HS001", title="Dế Mèn")
    assert answer.value.message_in("vi") == "Em đã mượn cuốn “Dế Mèn” rồi, không cần quét lại nhé."


def test_someone_elses_book_is_still_on_loan():
    with pytest.raises(rules.CopyOnLoan):
        rules.checkout(student(), book(status="on_loan"), [], policy(), MONDAY, holder="HS002", title="Dế Mèn")


def test_http_answers_already_yours_and_records_nothing(client, school):
    school.checkout("HS001", "TN-0001")
    vi, en = refused_over_http(client, "/api/checkout", {"patron": "HS001", "item": "TN-0001"}, "already_yours", 409)
    assert "Dế Mèn phiêu lưu ký" in vi and "already have" in en
    refused_over_http(client, "/api/checkout", {"patron": "HS002", "item": "TN-0001"}, "copy_on_loan", 409)
