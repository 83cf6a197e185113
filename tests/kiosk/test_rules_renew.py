"""Renewal: a new due date from today, never earlier; limits, overdue, not your loan, not on loan."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from kiosk import rules
from tests.kiosk.conftest import MONDAY, book, loan, policy, student, teacher

ON_LOAN = book(status="on_loan")


def test_renewal_runs_the_loan_days_again_from_today():
    held = loan("TN-0001", due=MONDAY + timedelta(days=2))
    assert rules.renew(student(), ON_LOAN, held, policy(), MONDAY) == date(2026, 3, 12)


def test_renewal_never_shortens_a_loan():
    held = loan("TN-0001", due=date(2026, 4, 20))
    assert rules.renew(student(), ON_LOAN, held, policy(), MONDAY) == date(2026, 4, 20)


def test_renewal_on_the_due_date_is_allowed():
    held = loan("TN-0001", due=MONDAY)
    assert rules.renew(student(), ON_LOAN, held, policy(), MONDAY) == date(2026, 3, 12)


def test_students_renew_once():
    with pytest.raises(rules.RenewalLimit):
        rules.renew(student(), ON_LOAN, loan("TN-0001", renewals=1), policy(), MONDAY)


def test_teachers_renew_twice():
    assert rules.renew(teacher(), ON_LOAN, loan("TN-0001", patron="GV001", renewals=1), policy(), MONDAY)
    with pytest.raises(rules.RenewalLimit):
        rules.renew(teacher(), ON_LOAN, loan("TN-0001", patron="GV001", renewals=2), policy(), MONDAY)


def test_textbooks_are_not_renewable():
    textbook = loan("SGK-0001", category="SGK", due=date(2026, 5, 29))
    with pytest.raises(rules.RenewalLimit):
        rules.renew(student(), book("SGK-0001", "SGK", "on_loan"), textbook, policy(), MONDAY)


def test_an_overdue_loan_cannot_be_renewed():
    with pytest.raises(rules.RenewOverdue):
        rules.renew(student(), ON_LOAN, loan("TN-0001", due=MONDAY - timedelta(days=1)), policy(), MONDAY)


def test_someone_elses_loan_cannot_be_renewed():
    with pytest.raises(rules.NotYourLoan):
        rules.renew(student("HS002"), ON_LOAN, loan("TN-0001", patron="HS001"), policy(), MONDAY)


def test_a_book_not_on_loan_cannot_be_renewed():
    with pytest.raises(rules.NotOnLoan):
        rules.renew(student(), book(), None, policy(), MONDAY)


@pytest.mark.parametrize(("patron", "error"), [(None, rules.UnknownPatron),
                                               (student(active=False), rules.InactivePatron)])
def test_patron_refusals_come_first(patron, error):
    with pytest.raises(error):
        rules.renew(patron, ON_LOAN, loan("TN-0001"), policy(), MONDAY)


def test_a_lost_book_still_on_loan_cannot_be_renewed():
    with pytest.raises(rules.BadTransition):
        rules.renew(student(), book(status="lost"), loan("TN-0001"), policy(), MONDAY)


# ------------------------------------------------------------------ through the service layer
