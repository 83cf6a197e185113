"""The JSON API, endpoint by endpoint: answers, languages, and what they record."""

from __future__ import annotations

from datetime import timedelta

import pytest

from kiosk.models import Event, Loan


def post(client, path: str, body: dict, lang: str | None = None):
    answer = client.post(path + (f"?lang={lang}" if lang else ""), json=body)
    assert answer.is_json, answer.get_data(as_text=True)[:200]
    return answer


def test_healthz(client, school):
    answer = client.get("/healthz")
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["ok"] is True
    assert body["device"] == school.device and body["device"].startswith("kiosk-")
    assert body["schema"] >= 1
    assert body["time"] == "2026-03-02T02:00:00Z"


def test_patron_summary_is_the_card_holders_own_session(client, school):
    # Their full name (a class has two Hiếu), how to address them, their own loans and due dates.
    school.checkout("HS001", "TN-0001")
    school.checkout("HS001", "SGK-0001")
    school.checkout("HS002", "TN-0002")
    answer = post(client, "/api/patron", {"patron": "hs001"})
    assert answer.status_code == 200
    patron = answer.get_json()["patron"]
    loans = patron.pop("loans")
    assert patron == {
        "code": "HS001", "first_name": "An", "name": "Nguyễn Văn An", "class_name": "6A1", "kind": "student",
        "audience": "student", "holding": 2, "may_borrow": 2, "overdue": 0, "blocked": None}
    assert sorted(line["item"] for line in loans) == ["SGK-0001", "TN-0001"]
    assert all(set(line) == {"item", "title", "due", "overdue_days"} for line in loans)
    assert "Bình" not in answer.get_data(as_text=True) and "TN-0002" not in answer.get_data(as_text=True)


def test_checkout_answers_the_loan_and_the_patron(client, school):
    answer = post(client, "/api/checkout", {"patron": "HS001", "item": "TN-0001"})
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["loan"] == {"item": "TN-0001", "title": "Dế Mèn phiêu lưu ký", "due": "2026-03-12"}
    assert (body["patron"]["holding"], body["patron"]["may_borrow"]) == (1, 2)
    assert Loan.open_loans().count() == 1


def test_teacher_checkout_of_a_teachers_book(client, school):
    from tests.conftest import copy_fact

    school.record_facts([copy_fact("SNV-0001", "Sách giáo viên Toán 6", category="SNV")])
    answer = post(client, "/api/checkout", {"patron": "GV001", "item": "SNV-0001"})
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["loan"]["due"] == "2026-06-30"  # 120 days, no year end configured


@pytest.mark.parametrize(("lang", "message"), [
    (None, "Đã trả sách. Cảm ơn em!"), ("vi", "Đã trả sách. Cảm ơn em!"), ("en", "Returned. Thank you!")])
def test_checkin_of_a_loan(client, school, clock, lang, message):
    school.checkout("HS001", "TN-0001")
    clock.set(clock() + timedelta(days=12))
    answer = post(client, "/api/checkin", {"item": "TN-0001"}, lang)
    assert answer.status_code == 200
    checkin = answer.get_json()["checkin"]
    assert (checkin["outcome"], checkin["item"], checkin["late"]) == ("returned", "TN-0001", True)
    assert "overdue_days" not in checkin  # the borrower's record is not told to whoever brings the book
    assert checkin["title"] == "Dế Mèn phiêu lưu ký"
    assert checkin["message"] == message


def test_checkin_of_a_copy_not_on_loan_here_is_friendly_and_recorded(client, school):
    """Another kiosk may have lent it while offline: thank the student, keep the fact for the server."""
    events = Event.select().count()
    answer = post(client, "/api/checkin", {"item": "TN-0002"}, "en")
    assert answer.status_code == 200
    checkin = answer.get_json()["checkin"]
    assert checkin["outcome"] == "not_on_loan"
    assert checkin["message"].startswith("Thank you!")
    last = Event.select().order_by(Event.seq.desc()).first()
    assert Event.select().count() == events + 1
    assert (last.type, last.payload["item"], last.payload["loan"]) == ("loan.checkin", "TN-0002", None)


def test_checkin_of_a_copy_unknown_to_this_kiosk_is_friendly_and_recorded(client, school):
    events = Event.select().count()
    answer = post(client, "/api/checkin", {"item": " tn-7777\r\n"})
    assert answer.status_code == 200
    checkin = answer.get_json()["checkin"]
    assert (checkin["outcome"], checkin["item"], checkin["title"]) == ("unknown_copy", "TN-7777", None)
    assert "Cảm ơn em" in checkin["message"]
    last = Event.select().order_by(Event.seq.desc()).first()
    assert Event.select().count() == events + 1
    assert (last.type, last.payload["item"]) == ("loan.checkin", "TN-7777")


def test_renew_answers_the_new_due_date(client, school, clock):
    post(client, "/api/checkout", {"patron": "HS001", "item": "TN-0001"})
    clock.set(clock() + timedelta(days=8))  # Tuesday 10 March
    answer = post(client, "/api/renew", {"patron": "HS001", "item": "TN-0001"})
    assert answer.status_code == 200
    assert answer.get_json() == {"loan": {"item": "TN-0001", "title": "Dế Mèn phiêu lưu ký", "due": "2026-03-20"}}


@pytest.mark.parametrize(("path", "body", "code", "status"), [
    ("/api/renew", {"patron": "HS002", "item": "TN-0001"}, "not_your_loan", 403),
    ("/api/renew", {"patron": "HS001", "item": "TN-0002"}, "not_on_loan", 409),
    ("/api/renew", {"patron": "HS001", "item": "TN-9999"}, "unknown_copy", 404),
])
def test_renew_refusals(client, school, path, body, code, status):
    from tests.kiosk.conftest import refused_over_http

    school.checkout("HS001", "TN-0001")
    refused_over_http(client, path, body, code, status)


def test_renew_limit_and_overdue_over_http(client, school, clock):
    from tests.kiosk.conftest import refused_over_http

    school.checkout("HS001", "TN-0001")
    assert post(client, "/api/renew", {"patron": "HS001", "item": "TN-0001"}).status_code == 200
    refused_over_http(client, "/api/renew", {"patron": "HS001", "item": "TN-0001"}, "renewal_limit", 409)
    school.checkout("HS001", "TN-0002")
    clock.set(clock() + timedelta(days=11))
    refused_over_http(client, "/api/renew", {"patron": "HS001", "item": "TN-0002"}, "renew_overdue", 409)


def test_language_from_the_body_applies_to_the_answer(client, school):
    school.checkout("HS001", "TN-0001")
    answer = client.post("/api/checkin", json={"item": "TN-0001", "lang": "en"})
    assert answer.get_json()["checkin"]["message"] == "Returned. Thank you!"


@pytest.mark.parametrize(("patron", "items"), [
    ("HS001", ["TN-0001", "SGK-0001", "TN-0002"]),
    ("GV001", ["TN-0001", "STK-0001", "SGK-0001", "SGK-0002"]),
    ("CTV01", ["TN-0003"]),
])
def test_the_summary_after_a_checkout_is_the_summary_the_patron_endpoint_gives(client, school, clock, patron,
                                                                               items):
    for n, item in enumerate(items):
        clock.set(clock() + timedelta(days=n))  # loans of different ages and due dates
        lent = post(client, "/api/checkout", {"patron": patron, "item": item})
        assert lent.status_code == 200, lent.get_json()
        assert lent.get_json()["patron"] == post(client, "/api/patron", {"patron": patron}).get_json()["patron"]


def test_a_renamed_refusal_carries_its_former_code(client, school):
    """Clients written against `item_on_loan` still recognise the refusal (README: renamed codes)."""
    school.checkout("HS001", "TN-0001")
    error = client.post("/api/checkout", json={"patron": "HS002", "item": "TN-0001"}).get_json()["error"]
    assert (error["code"], error["aliases"]) == ("copy_on_loan", ["item_on_loan"])
    unrenamed = client.post("/api/renew", json={"patron": "HS001", "item": "TN-0002"}).get_json()["error"]
    assert unrenamed["code"] == "not_on_loan" and "aliases" not in unrenamed
