"""Checkin: on loan → available, overdue days, a lost book found, withdrawn/damaged stay put."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from kiosk import rules
from tests.kiosk.conftest import MONDAY, book, loan


def test_a_book_on_loan_comes_back_available():
    decision = rules.checkin(book(status="on_loan"), loan("TN-0001", due=MONDAY + timedelta(days=3)), MONDAY)
    assert decision == rules.CheckinDecision(loan_uuid="loan-TN-0001", new_status="available", overdue_days=0)


@pytest.mark.parametrize(("late_by", "expected"), [(-5, 0), (0, 0), (1, 1), (17, 17)])
def test_overdue_days_count_from_the_due_date(late_by, expected):
    due = date(2026, 3, 10)
    decision = rules.checkin(book(status="on_loan"), loan("TN-0001", due=due), due + timedelta(days=late_by))
    assert decision.overdue_days == expected


def test_a_lost_book_that_turns_up_is_found():
    assert rules.checkin(book(status="lost"), None, MONDAY).new_status == "available"
    # …also when it was marked lost while still on loan: the loan closes.
    decision = rules.checkin(book(status="lost"), loan("TN-0001", due=MONDAY - timedelta(days=40)), MONDAY)
    assert (decision.new_status, decision.loan_uuid, decision.overdue_days) == ("available", "loan-TN-0001", 40)


@pytest.mark.parametrize("status", ["withdrawn", "damaged", "not_for_loan"])
def test_books_out_of_circulation_keep_their_status(status):
    assert rules.checkin(book(status=status), None, MONDAY).new_status == status


def test_a_book_not_on_loan_is_still_a_checkin_without_a_loan():
    decision = rules.checkin(book(status="available"), None, MONDAY)
    assert (decision.loan_uuid, decision.new_status, decision.overdue_days) == (None, "available", 0)


def test_unknown_copy_is_refused_by_the_rule():
    with pytest.raises(rules.UnknownCopy):
        rules.checkin(None, None, MONDAY)


# ------------------------------------------------------------------ through the service layer
