"""A reader's own summary: their loans (overdue first), why they cannot borrow, how they are addressed."""

from __future__ import annotations

from datetime import timedelta

import pytest

from kiosk import rules
from kiosk.i18n import address, audience_of
from tests.kiosk.conftest import MONDAY, loan, policy


def test_the_block_names_the_most_overdue_book_and_its_days():
    loans = [loan("TN-1", due=MONDAY - timedelta(days=1)),
             rules.LoanView("l2", "TN-2", "HS001", "TN", MONDAY - timedelta(days=4), title="Dế Mèn phiêu lưu ký")]
    block = rules.borrow_block("student", loans, policy(), MONDAY)
    assert isinstance(block, rules.HasOverdue) and block.params == {"title": "Dế Mèn phiêu lưu ký", "days": 4}
    assert block.message_in("vi") == "Em cần trả “Dế Mèn phiêu lưu ký” (quá hạn 4 ngày) trước khi mượn tiếp nhé."
    # The same refusal checkout gives for any book: the screen never promises what the rules refuse.
    with pytest.raises(rules.HasOverdue) as refused:
        rules.checkout(rules.PatronView("HS001", "student", True), rules.CopyView("TN-9", "TN", "available"),
                       loans, policy(), MONDAY)
    assert refused.value.params == block.params


def test_the_block_at_the_limit_and_none_below_it_or_when_switched_off():
    three = [loan(f"TN-{n}") for n in range(3)]
    assert isinstance(rules.borrow_block("student", three, policy(), MONDAY), rules.LoanLimitReached)
    assert rules.borrow_block("student", three[:2], policy(), MONDAY) is None
    late = [loan(due=MONDAY - timedelta(days=2))]
    assert rules.borrow_block("student", late, policy(block_when_overdue=False), MONDAY) is None
    # Textbooks have their own limit: twenty of them do not stop an ordinary book.
    textbooks = [loan(f"SGK-{n}", category="SGK") for n in range(20)]
    assert rules.borrow_block("student", textbooks, policy(), MONDAY) is None


@pytest.mark.parametrize(("kind", "gender", "expected"), [
    ("student", "", "Em hãy trả sách nhé. Cảm ơn em!"),
    ("helper", "male", "Em hãy trả sách nhé. Cảm ơn em!"),
    ("teacher", "", "Thầy/Cô vui lòng trả sách. Cảm ơn thầy/cô!"),
    ("teacher", "male", "Thầy vui lòng trả sách. Cảm ơn thầy!"),
    ("teacher", "female", "Cô vui lòng trả sách. Cảm ơn cô!"),
])
def test_a_message_is_worded_for_the_reader(kind, gender, expected):
    assert address("Em hãy trả sách nhé. Cảm ơn em!", "vi", audience_of(kind, gender)) == expected
    assert address("Please return it.", "en", audience_of(kind, gender)) == "Please return it."


def test_a_word_containing_em_is_left_alone():
    assert address("Xem sách kem", "vi", "teacher") == "Xem sách kem"


def test_api_patron_lists_only_the_card_holders_loans_overdue_first(client, school, clock):
    school.checkout("HS001", "TN-0001")
    clock.set(clock() + timedelta(days=12))
    school.checkout("HS002", "TN-0003")
    school.record_facts([("setting.set", {"key": "block_when_overdue", "value": False})])
    school.checkout("HS001", "TN-0002")
    school.record_facts([("setting.set", {"key": "block_when_overdue", "value": True})])
    summary = client.post("/api/patron", json={"patron": "HS001"}).get_json()["patron"]
    assert summary["name"] == "Nguyễn Văn An" and summary["audience"] == "student"
    assert [(line["item"], line["overdue_days"] > 0) for line in summary["loans"]] == [
        ("TN-0001", True), ("TN-0002", False)]
    assert summary["may_borrow"] == 0 and summary["blocked"]["code"] == "has_overdue"
    assert "Dế Mèn phiêu lưu ký" in summary["blocked"]["message"]
    assert "TN-0003" not in str(summary)  # Bình's book


def test_a_teachers_refusal_over_http_speaks_to_the_teacher(client, school):
    answer = client.post("/api/checkout", json={"patron": "GV001", "item": "NO-SUCH"})
    assert answer.status_code == 404
    assert answer.get_json()["error"]["message"] == "Sách này không có trong danh mục thư viện. Thầy/Cô vui lòng gặp thủ thư."
