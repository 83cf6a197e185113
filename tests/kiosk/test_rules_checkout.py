"""Checkout (available → on_loan): due dates by policy and calendar, limits per kind × category."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from kiosk import rules
from tests.kiosk.conftest import MONDAY, book, helper, loan, policy, student, teacher


def due_of(patron, copy, *, on=MONDAY, loans=(), pol=None) -> date:
    return rules.checkout(patron, copy, loans, pol or policy(), on).due


# ------------------------------------------------------------------ due dates


def test_student_gets_the_general_loan_days():
    assert due_of(student(), book()) == MONDAY + timedelta(days=10)  # Thursday 12 March


def test_due_date_on_a_weekend_moves_to_monday():
    wednesday = date(2026, 3, 4)
    assert (wednesday + timedelta(days=10)).weekday() == 5
    assert due_of(student(), book(), on=wednesday) == date(2026, 3, 16)


def test_closed_weekdays_come_from_the_calendar():
    # A school open on Saturdays lends until Saturday.
    wednesday = date(2026, 3, 4)
    six_day_week = policy(calendar=rules.Calendar(closed_weekdays=frozenset({6})))
    assert due_of(student(), book(), on=wednesday, pol=six_day_week) == date(2026, 3, 14)


def test_tet_holidays_push_the_due_date_past_the_break():
    tet = frozenset(date(2026, 2, 14) + timedelta(days=n) for n in range(9))  # 14–22 Feb 2026
    pol = policy(calendar=rules.Calendar(closed_days=tet))
    thursday = date(2026, 2, 5)  # +10 days = Sunday 15 Feb, in the middle of Tết
    assert due_of(student(), book(), on=thursday, pol=pol) == date(2026, 2, 23)


def test_a_closed_day_on_the_due_date_itself_moves_it_one_open_day():
    pol = policy(calendar=rules.Calendar(closed_days=frozenset({date(2026, 3, 12)})))
    assert due_of(student(), book(), pol=pol) == date(2026, 3, 13)


def test_teacher_gets_thirty_days():
    assert due_of(teacher(), book()) == rules.Calendar().next_open(MONDAY + timedelta(days=30))
    assert due_of(teacher(), book()) == date(2026, 4, 1)


def test_textbook_due_at_year_end_for_students():
    pol = policy(year_end=date(2026, 5, 29))
    assert due_of(student(), book("SGK-0001", "SGK"), pol=pol) == date(2026, 5, 29)


def test_year_end_on_a_sunday_moves_to_the_next_open_day():
    pol = policy(year_end=date(2026, 5, 31))
    assert due_of(student(), book("SGK-0001", "SGK"), pol=pol) == date(2026, 6, 1)


def test_year_end_already_past_falls_back_to_loan_days():
    pol = policy(year_end=date(2026, 1, 10))
    assert due_of(student(), book("SGK-0001", "SGK"), pol=pol) == rules.Calendar().next_open(
        MONDAY + timedelta(days=120))


def test_term_end_picks_the_next_term_end():
    term = rules.Rule("student", "STK", max_loans=2, loan_days=10, due_mode="term_end")
    pol = policy(term, term_ends=(date(2026, 1, 16), date(2026, 5, 22)), year_end=date(2026, 5, 29))
    assert due_of(student(), book("STK-0001", "STK"), pol=pol) == date(2026, 5, 22)
    # On the term's last day itself, the loan runs to that day.
    assert due_of(student(), book("STK-0001", "STK"), on=date(2026, 1, 16), pol=pol) == date(2026, 1, 16)


def test_term_end_after_the_last_term_uses_the_year_end():
    term = rules.Rule("student", "STK", max_loans=2, loan_days=10, due_mode="term_end")
    pol = policy(term, term_ends=(date(2026, 1, 16),), year_end=date(2026, 5, 29))
    assert due_of(student(), book("STK-0001", "STK"), pol=pol) == date(2026, 5, 29)


def test_term_end_without_any_dates_uses_the_loan_days():
    term = rules.Rule("student", "STK", max_loans=2, loan_days=14, due_mode="term_end")
    assert due_of(student(), book("STK-0001", "STK"), pol=policy(term)) == date(2026, 3, 16)


# ------------------------------------------------------------------ limits per kind × category


def test_students_may_hold_three_general_books():
    two = [loan("TN-0008"), loan("TN-0009")]
    assert due_of(student(), book(), loans=two)
    with pytest.raises(rules.LoanLimitReached) as refused:
        rules.checkout(student(), book(), [*two, loan("TN-0010")], policy(), MONDAY)
    assert refused.value.params == {"count": 3}


def test_reference_books_count_against_the_general_limit():
    held = [loan("TN-0008"), loan("STK-0009", category="STK"), loan("TN-0010")]
    with pytest.raises(rules.LoanLimitReached):
        rules.checkout(student(), book("STK-0001", "STK"), held, policy(), MONDAY)


def test_textbooks_do_not_count_against_the_general_limit():
    textbooks = [loan(f"SGK-{n:04}", category="SGK", due=date(2026, 5, 29)) for n in range(10)]
    assert due_of(student(), book(), loans=[*textbooks, loan("TN-0008"), loan("TN-0009")])


def test_a_full_general_limit_does_not_stop_a_textbook():
    general = [loan("TN-0008"), loan("TN-0009"), loan("TN-0010")]
    assert due_of(student(), book("SGK-0001", "SGK"), loans=general)


def test_textbooks_have_their_own_limit():
    textbooks = [loan(f"SGK-{n:04}", category="SGK", due=date(2026, 5, 29)) for n in range(20)]
    with pytest.raises(rules.LoanLimitReached) as refused:
        rules.checkout(student(), book("SGK-0100", "SGK"), textbooks, policy(), MONDAY)
    assert refused.value.params == {"count": 20}


def test_teachers_may_hold_ten_general_books_and_borrow_teachers_books():
    nine = [loan(f"TN-{n:04}", patron="GV001") for n in range(9)]
    assert due_of(teacher(), book(), loans=nine)
    with pytest.raises(rules.LoanLimitReached):
        rules.checkout(teacher(), book(), [*nine, loan("TN-0100", patron="GV001")], policy(), MONDAY)
    assert due_of(teacher(), book("SNV-0001", "SNV"), loans=[*nine, loan("TN-0100", patron="GV001")])


def test_helpers_follow_the_student_limits():
    three = [loan("TN-0008", patron="CTV01"), loan("TN-0009", patron="CTV01"), loan("TN-0010", patron="CTV01")]
    with pytest.raises(rules.LoanLimitReached):
        rules.checkout(helper(), book(), three, policy(), MONDAY)


def test_a_category_rule_overrides_the_general_rule():
    strict = rules.Rule("student", "TN", max_loans=1, loan_days=7)
    pol = policy(strict)
    assert due_of(student(), book(), pol=pol) == date(2026, 3, 9)
    with pytest.raises(rules.LoanLimitReached):
        rules.checkout(student(), book(), [loan("TN-0009")], pol, MONDAY)
    # A TN loan no longer uses up the general limit.
    assert due_of(student(), book("STK-0001", "STK"), loans=[loan("TN-0009"), loan("TN-0008")], pol=pol)


def test_wildcard_kind_rules_apply_to_kinds_without_their_own():
    catch_all = rules.Policy(rules={("*", "*"): rules.Rule("*", "*", max_loans=1, loan_days=3)})
    assert due_of(teacher(), book(), pol=catch_all) == date(2026, 3, 5)


def test_a_kind_with_no_rule_at_all_may_not_borrow():
    only_teachers = rules.Policy(rules={("teacher", "*"): rules.Rule("teacher", "*", 5, 30)})
    with pytest.raises(rules.CopyNotForLoan):
        rules.checkout(student(), book(), [], only_teachers, MONDAY)


def test_a_patron_refusal_comes_before_any_item_refusal():
    with pytest.raises(rules.UnknownPatron):
        rules.checkout(None, None, [], policy(), MONDAY)
    with pytest.raises(rules.InactivePatron):
        rules.checkout(student(active=False), book(status="lost"), [], policy(), MONDAY)


# ------------------------------------------------------------------ through the service layer
