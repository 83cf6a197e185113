"""Refusal: the copy is lost; the student takes it to the librarian."""

import pytest

from kiosk import rules
from tests.kiosk.conftest import MONDAY, book, policy, refused_over_http, student, teacher


@pytest.mark.parametrize("patron", [student(), teacher()])
def test_rule_refuses_a_lost_copy(patron):
    with pytest.raises(rules.CopyLost):
        rules.checkout(patron, book(status="lost"), [], policy(), MONDAY)


def test_http_refuses_a_lost_copy(client, school):
    school.set_copy_status("TN-0001", "mark_lost")
    vi, en = refused_over_http(client, "/api/checkout", {"patron": "HS001", "item": "TN-0001"}, "copy_lost", 409)
    assert "recorded as lost" in en and "thủ thư" in vi.lower()
