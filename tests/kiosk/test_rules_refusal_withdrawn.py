"""Refusal: the copy is withdrawn; the student takes it to the librarian."""

import pytest

from kiosk import rules
from tests.kiosk.conftest import MONDAY, book, policy, refused_over_http, student, teacher


@pytest.mark.parametrize("patron", [student(), teacher()])
def test_rule_refuses_a_withdrawn_copy(patron):
    with pytest.raises(rules.CopyWithdrawn):
        rules.checkout(patron, book(status="withdrawn"), [], policy(), MONDAY)


def test_http_refuses_a_withdrawn_copy(client, school):
    school.set_copy_status("TN-0001", "withdraw")
    vi, en = refused_over_http(client, "/api/checkout", {"patron": "HS001", "item": "TN-0001"}, "copy_withdrawn", 409)
    assert "withdrawn" in en and "thủ thư" in vi.lower()
