"""Refusal: in-library only — periodicals for everyone, teachers' books (SNV) for students, or a copy so marked."""

import pytest

from kiosk import rules
from tests.kiosk.conftest import MONDAY, book, policy, refused_over_http, student, teacher


@pytest.mark.parametrize("category", ["periodical", "SNV"])
def test_students_may_not_borrow(category):
    with pytest.raises(rules.CopyNotForLoan):
        rules.checkout(student(), book("X-1", category), [], policy(), MONDAY)


def test_teachers_borrow_snv_but_not_periodicals():
    assert rules.checkout(teacher(), book("SNV-1", "SNV"), [], policy(), MONDAY)
    with pytest.raises(rules.CopyNotForLoan):
        rules.checkout(teacher(), book("BAO-1", "periodical"), [], policy(), MONDAY)


def test_a_copy_marked_not_for_loan():
    with pytest.raises(rules.CopyNotForLoan):
        rules.checkout(teacher(), book(status="not_for_loan"), [], policy(), MONDAY)


def test_http_refuses_a_periodical_and_a_marked_copy(client, school):
    vi, en = refused_over_http(client, "/api/checkout", {"patron": "HS001", "item": "BAO-0001"},
                               "copy_not_for_loan", 409)
    assert "in the library only" in en
    school.set_copy_status("TN-0001", "mark_not_for_loan")
    refused_over_http(client, "/api/checkout", {"patron": "GV001", "item": "TN-0001"}, "copy_not_for_loan", 409)
