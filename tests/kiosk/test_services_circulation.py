"""The circulation service on a real SQLite file: what the rules decide is what gets recorded.

The rules themselves are tested as plain values in tests/kiosk/test_rules_*.py.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from kiosk import rules
from tests.kiosk.conftest import counts


def test_librarian_status_changes_follow_the_table(school):
    from kiosk.models import Copy, Event

    assert school.set_copy_status("TN-0001", "mark_damaged", "bìa rách") == "damaged"
    assert school.set_copy_status("TN-0001", "mark_available") == "available"
    assert school.set_copy_status("TN-0001", "mark_not_for_loan") == "not_for_loan"
    assert school.set_copy_status("TN-0001", "withdraw") == "withdrawn"
    copy = Copy.get(Copy.code == "TN-0001")
    assert (copy.status, copy.status_note) == ("withdrawn", "")
    last = Event.select().order_by(Event.seq.desc()).first()
    assert (last.type, last.payload["status"]) == ("copy.status", "withdrawn")


def _lost_while_on_loan(school, item: str) -> None:
    """Lost with its loan still open: marked at another kiosk or on the server and synced here
    (this kiosk's own desk ends the loan when it marks a lent copy lost: đền sách)."""
    school.record_facts([("copy.status", {"item": item, "status": "lost", "note": ""})])


def test_mark_available_of_a_book_still_on_loan_keeps_it_on_loan(school):
    school.checkout("HS001", "TN-0001")
    _lost_while_on_loan(school, "TN-0001")
    assert school.set_copy_status("TN-0001", "mark_available") == "on_loan"


def test_marking_a_lent_copy_lost_at_the_desk_ends_its_loan(school):
    from kiosk.models import Copy, Loan

    school.checkout("HS001", "TN-0001")
    assert school.set_copy_status("TN-0001", "mark_lost") == "lost"
    assert Loan.open_loans().count() == 0 and Copy.get(Copy.code == "TN-0001").status == "lost"


@pytest.mark.parametrize("action", ["checkout", "checkin", "renew", "burn"])
def test_circulation_actions_are_not_librarian_status_changes(school, action):
    with pytest.raises(rules.BadTransition):
        school.set_copy_status("TN-0001", action)


def test_status_change_refusals_change_nothing(school):
    from tests.kiosk.conftest import counts

    school.checkout("HS001", "TN-0001")
    before = counts()
    with pytest.raises(rules.BadTransition):
        school.set_copy_status("TN-0001", "withdraw")
    with pytest.raises(rules.UnknownCopy):
        school.set_copy_status("NOPE-1", "withdraw")
    assert counts() == before


def test_renewing_a_lost_book_at_the_kiosk_says_so_in_vietnamese(client, school):
    school.checkout("HS001", "TN-0001")
    _lost_while_on_loan(school, "TN-0001")
    answer = client.post("/api/renew", json={"patron": "HS001", "item": "TN-0001"})
    assert answer.status_code == 409
    assert answer.get_json()["error"] == {"code": "bad_transition",
                                          "message": "Sách bị mất thì không thể gia hạn."}


def test_renew_updates_the_loan_and_records_it(school, clock):
    from kiosk.models import Event, Loan

    lent = school.checkout("HS001", "TN-0001")
    clock.set(clock() + timedelta(days=7))  # Monday 9 March
    receipt = school.renew("HS001", "TN-0001")
    assert (receipt.item, receipt.due) == ("TN-0001", date(2026, 3, 19))
    stored = Loan.get(Loan.uuid == lent.loan)
    assert (stored.due, stored.renewals) == (date(2026, 3, 19), 1)
    event = Event.select().order_by(Event.seq.desc()).first()
    assert (event.type, event.payload) == ("loan.renew", {"loan": lent.loan, "item": "TN-0001",
                                                          "due": "2026-03-19", "renewals": 1})
    before = counts()
    with pytest.raises(rules.RenewalLimit):
        school.renew("HS001", "TN-0001")
    assert counts() == before


def test_renew_of_someone_elses_book_through_the_service(school):
    school.checkout("HS001", "TN-0001")
    with pytest.raises(rules.NotYourLoan):
        school.renew("HS002", "TN-0001")
    with pytest.raises(rules.NotOnLoan):
        school.renew("HS001", "TN-0002")
    with pytest.raises(rules.UnknownCopy):
        school.renew("HS001", "TN-9999")


def test_checkout_records_one_loan_and_one_event(school):
    from kiosk.models import Copy, Event, Loan

    receipt = school.checkout(" hs001\n", "tn-0001")
    assert (receipt.item, receipt.title, receipt.due) == ("TN-0001", "Dế Mèn phiêu lưu ký", date(2026, 3, 12))
    stored = Loan.get(Loan.uuid == receipt.loan)
    assert (stored.patron.code, stored.copy.code, stored.due, stored.returned_at) == (
        "HS001", "TN-0001", date(2026, 3, 12), None)
    assert stored.checkout_device == school.device
    assert Copy.get(Copy.code == "TN-0001").status == "on_loan"
    event = Event.select().order_by(Event.seq.desc()).first()
    assert (event.type, event.payload["loan"], event.payload["item"]) == ("loan.checkout", receipt.loan, "TN-0001")


def test_due_date_follows_the_stored_calendar(school):
    school.record_facts([("calendar.set", {"closed_days": [{"day": "2026-03-12", "reason": "Giỗ Tổ"}],
                                           "closed_weekdays": [6]})])
    assert school.checkout("HS001", "TN-0001").due == date(2026, 3, 13)


def test_stored_policy_replaces_the_defaults(school):
    school.record_facts([("policy.set", {"rules": [
        {"patron_kind": "student", "category": "*", "max_loans": 1, "loan_days": 7, "max_renewals": 0}]})])
    assert school.checkout("HS001", "TN-0001").due == date(2026, 3, 9)
    with pytest.raises(rules.LoanLimitReached):
        school.checkout("HS001", "TN-0002")


def test_textbook_year_end_from_settings(school):
    school.record_facts([("setting.set", {"key": "year_end", "value": "2026-05-29"})])
    assert school.checkout("HS001", "SGK-0001").due == date(2026, 5, 29)


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
    _lost_while_on_loan(school, "TN-0001")
    assert Loan.open_loans().count() == 1  # still owed by the student
    assert school.checkin("TN-0001").outcome == "returned"
    assert Copy.get(Copy.code == "TN-0001").status == "available"


def test_checkin_of_a_withdrawn_book_keeps_it_withdrawn(school):
    from kiosk.models import Copy

    school.set_copy_status("TN-0002", "withdraw", "rách")
    assert school.checkin("TN-0002").outcome == "not_on_loan"
    assert Copy.get(Copy.code == "TN-0002").status == "withdrawn"
