"""Refusal: the copy is damaged; the student takes it to the librarian."""

import pytest

from kiosk import rules
from tests.kiosk.conftest import MONDAY, book, policy, refused_over_http, student, teacher


@pytest.mark.parametrize("patron", [student(), teacher()])
def test_rule_refuses_a_damaged_copy(patron):
    with pytest.raises(rules.CopyDamaged):
        rules.checkout(patron, book(status="damaged"), [], policy(), MONDAY)


def test_http_refuses_a_damaged_copy(client, school):
    school.set_copy_status("TN-0001", "mark_damaged")
    vi, en = refused_over_http(client, "/api/checkout", {"patron": "HS001", "item": "TN-0001"}, "copy_damaged", 409)
    assert "damaged" in en and "thủ thư" in vi.lower()
