"""The librarian's desk: overriding a refusal for a reason (its own fact, in the loan book), and a
lost or damaged book's loan ending with đền sách, so the reader is not blocked for ever."""

from __future__ import annotations

from datetime import timedelta

import pytest

from kiosk import ledger, rules
from kiosk.models import Copy, Event, Loan, LoanNote
from kiosk.reports.common import school_year
from kiosk.reports.registers import loan_book
from tests.kiosk.test_pages_admin import events, login, post


@pytest.fixture(name="admin")
def admin_fixture(client, school):
    """The librarian signed in (test_pages_admin's fixture, which ruff will not let be re-imported)."""
    login(client)
    return client


def note_of(table, item: str) -> str:
    return next(row[-1] for row in table.rows if row[5] == item)


def test_a_refusal_offers_the_override_and_the_override_is_its_own_fact(admin, circ, clock):
    for item in ("TN-0001", "TN-0002", "TN-0003"):
        circ.checkout("HS001", item)
    refused = post(admin, "/admin/patrons/HS001/checkout", {"item": "TN-0004"})
    page = admin.get(refused.headers["Location"]).get_data(as_text=True)
    assert "Bạn đọc đang mượn 3 cuốn" in page and 'id="override"' in page
    assert Loan.select().count() == 3

    lent = post(admin, "/admin/patrons/HS001/checkout", {"item": "TN-0004", "override": "class_work"},
                form_page="/admin/patrons/HS001")
    assert "Đã cho mượn" in admin.get(lent.headers["Location"]).get_data(as_text=True)
    (override,) = events("loan.override")
    loan = Loan.get(Loan.uuid == override.payload["loan"])
    assert (loan.copy.code, loan.patron.code) == ("TN-0004", "HS001")
    assert override.payload["refusal"] == "loan_limit" and override.payload["reason"] == "class_work"
    assert LoanNote.get(LoanNote.loan == loan.uuid).details == {"refusal": "loan_limit", "reason": "class_work"}
    students, _teachers = loan_book(school_year("2025-2026"), circ.timezone, "vi")
    assert note_of(students, "TN-0004") == "cho mượn vượt quy định (đã đủ số sách): Cần cho việc học của lớp"


def test_no_override_for_a_copy_on_loan_to_someone_else_or_without_a_reason(admin, circ):
    circ.checkout("HS002", "TN-0001")
    with pytest.raises(rules.NotOverridable):
        circ.checkout("HS001", "TN-0001", override="teacher_request")
    with pytest.raises(rules.BadOverrideReason):
        circ.checkout("HS001", "TN-0002", override="because")
    assert events("loan.override") == [] and Loan.select().count() == 1


def test_a_lost_overdue_book_paid_for_ends_the_loan_and_unblocks_the_reader(admin, circ, clock):
    circ.checkout("HS001", "TN-0001")
    clock.set(clock() + timedelta(days=20))
    with pytest.raises(rules.HasOverdue):
        circ.checkout("HS001", "TN-0002")
    login(admin)  # the session timed out over those days
    answer = post(admin, "/admin/copies/TN-0001/status", {"action": "mark_lost", "how": "paid", "amount": "45.000 đ",
                                                 "note": "Mất ở nhà"}, form_page="/admin/copies/TN-0001")
    assert answer.status_code == 302, answer.get_data(as_text=True)[:2000]
    assert Copy.get(Copy.code == "TN-0001").status == "lost"
    (settle,) = events("loan.settle")
    assert settle.payload["how"] == "paid" and settle.payload["amount"] == 45000
    assert Loan.get(Loan.uuid == settle.payload["loan"]).returned_at is not None
    assert circ.checkout("HS001", "TN-0002").item == "TN-0002"  # no longer blocked
    students, _ = loan_book(school_year("2025-2026"), circ.timezone, "vi")
    assert "Mất, đã đền 45.000 đ" in note_of(students, "TN-0001")


def test_a_damaged_book_replaced_by_a_copy_and_a_bad_settlement_changes_nothing(admin, circ):
    circ.checkout("HS002", "TN-0003")
    before = Event.select().count()
    post(admin, "/admin/copies/TN-0003/status", {"action": "mark_damaged", "how": "paid", "amount": "nhiều"},
         form_page="/admin/copies/TN-0003")
    assert Event.select().count() == before and Copy.get(Copy.code == "TN-0003").status == "on_loan"
    post(admin, "/admin/copies/TN-0003/status", {"action": "mark_damaged", "how": "replaced", "replacement": "tn-0099"},
         form_page="/admin/copies/TN-0003")
    (settle,) = events("loan.settle")
    assert (settle.payload["status"], settle.payload["how"], settle.payload["replacement"]) == (
        "damaged", "replaced", "TN-0099")
    assert Loan.select().where(Loan.returned_at.is_null()).count() == 0


def test_the_desk_facts_replay_to_the_same_notes(admin, circ):
    circ.checkout("HS001", "TN-0001")
    circ.set_copy_status("TN-0001", "mark_lost", "", rules.settlement("owed", None, ""))
    (settle,) = events("loan.settle")
    ledger.apply("loan.settle", settle.payload)  # a replay (or a second delivery) changes nothing
    assert LoanNote.select().count() == 1
    assert LoanNote.get().details["how"] == "owed"


@pytest.mark.parametrize(("how", "amount", "replacement"), [
    ("paid", None, ""), ("paid", 0, ""), ("paid", rules.MAX_AMOUNT + 1, ""), ("replaced", None, ""), ("gift", 5, "X")])
def test_settlements_that_say_nothing_are_refused(how, amount, replacement):
    with pytest.raises(rules.BadSettlement):
        rules.settlement(how, amount, replacement)
