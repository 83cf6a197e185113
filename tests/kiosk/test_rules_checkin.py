"""Checkin: on loan → available, overdue days, a lost book found, withdrawn/damaged stay put."""

from __future__ import annotations

from datetime import date, datetime, timedelta

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


def test_checkin_closes_the_loan_and_records_overdue_days(school, clock):
    from kiosk.models import Copy, Event, Loan

    lent = school.checkout("HS001", "TN-0001")
    clock.set(clock() + timedelta(days=13))  # due Thursday 12, back Sunday 15
    receipt = school.checkin("TN-0001")
    assert (receipt.outcome, receipt.item, receipt.overdue_days, receipt.location) == (
        "returned", "TN-0001", 3, "main")
    stored = Loan.get(Loan.uuid == lent.loan)
    assert stored.returned_at == datetime(2026, 3, 15, 2, 0)
    assert stored.checkin_device == school.device
    assert Copy.get(Copy.code == "TN-0001").status == "available"
    event = Event.select().order_by(Event.seq.desc()).first()
    assert (event.type, event.payload["loan"], event.payload["status"]) == ("loan.checkin", lent.loan, "available")


def test_checkin_twice_is_harmless(school):
    from kiosk.models import Loan

    school.checkout("HS001", "TN-0001")
    assert school.checkin("TN-0001").outcome == "returned"
    assert school.checkin("TN-0001").outcome == "not_on_loan"
    assert Loan.open_loans().count() == 0


def test_checkin_of_a_lost_book_on_loan_closes_it_and_finds_it(school):
    from kiosk.models import Copy, Loan

    school.checkout("HS001", "TN-0001")
    assert school.set_copy_status("TN-0001", "mark_lost") == "lost"
    assert Loan.open_loans().count() == 1  # still owed by the student
    assert school.checkin("TN-0001").outcome == "returned"
    assert Copy.get(Copy.code == "TN-0001").status == "available"


def test_checkin_of_a_withdrawn_book_keeps_it_withdrawn(school):
    from kiosk.models import Copy

    school.set_copy_status("TN-0002", "withdraw", "rách")
    assert school.checkin("TN-0002").outcome == "not_on_loan"
    assert Copy.get(Copy.code == "TN-0002").status == "withdrawn"
