"""The public screen (docs/security.md, "Students at the public screen"): card look-ups throttled per
client and overall, renewals and returns that tell nobody who holds a book, no overdue laundered by
returning and borrowing again, helper sign-in by a typed code throttled and logged."""

from __future__ import annotations

import logging
import re
from datetime import timedelta

import pytest

from kiosk.models import Loan
from kiosk.rules import Policy
from tests.conftest import patron_fact

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def at(address: str) -> dict:
    return {"environ_base": {"REMOTE_ADDR": address}}


@pytest.fixture
def crowd(school):
    """Forty students of 6A2, as a class at the break."""
    school.record_facts([patron_fact(f"HS6A2{n:02d}", f"Học sinh {n}", class_name="6A2") for n in range(40)])
    return school


def test_guessing_card_codes_stops_after_a_few(app, client, crowd):
    limit = app.config["CARD_LOOKUPS_PER_MINUTE"]
    answers = [client.post("/api/patron", json={"patron": f"HS6A2{n:02d}"}, **at("10.0.0.7")) for n in range(40)]
    answers += [client.post("/api/patron", json={"patron": f"HS{n:05d}"}, **at("10.0.0.7")) for n in range(180)]
    named = [a for a in answers if a.status_code == 200]
    assert len(named) == limit  # 220 guesses, 10 names
    refused = answers[limit]
    assert refused.status_code == 429 and refused.get_json()["error"]["code"] == "too_many_cards"
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert "Học sinh" not in refused.get_data(as_text=True)


def test_a_student_scanning_their_own_card_never_notices(app, client, crowd, clock):
    for _ in range(30):  # the same card again and again, and five books
        assert client.post("/api/patron", json={"patron": "HS001"}).status_code == 200
    for item in ("TN-0001", "TN-0002", "TN-0003"):
        assert client.post("/api/checkout", json={"patron": "HS001", "item": item}).status_code == 200
    # A queue at the break: one student every 15 seconds at the same kiosk, for ten minutes.
    for n in range(40):
        clock.set(clock.moment + timedelta(seconds=15))
        assert client.post("/api/patron", json={"patron": f"HS6A2{n:02d}"}).status_code == 200, n


def test_the_limit_is_per_client_and_overall(app, client, crowd, clock):
    per_client, overall = app.config["CARD_LOOKUPS_PER_MINUTE"], app.config["CARD_LOOKUPS_PER_MINUTE_ALL"]
    codes = iter(f"X{n:04d}" for n in range(10_000))
    for machine in range(overall // per_client):
        for _ in range(per_client):
            assert client.post("/api/patron", json={"patron": next(codes)}, **at(f"10.0.1.{machine}")).status_code == 404
        assert client.post("/api/patron", json={"patron": next(codes)}, **at(f"10.0.1.{machine}")).status_code == 429
    # Many machines together cannot walk the codes faster than the kiosk allows overall…
    assert client.post("/api/patron", json={"patron": "HS001"}, **at("10.0.2.1")).status_code == 429
    # …and a minute later the kiosk answers again.
    clock.set(clock.moment + timedelta(seconds=61))
    assert client.post("/api/patron", json={"patron": "HS001"}, **at("10.0.2.1")).status_code == 200


def test_renewing_with_other_cards_does_not_tell_who_holds_the_book(app, client, crowd):
    crowd.checkout("HS6A217", "TN-0001")
    due = Loan.get().due
    limit = app.config["RENEW_WRONG_CARD_LIMIT"]
    answers = [client.post("/api/renew", json={"patron": f"HS6A2{n:02d}", "item": "TN-0001"}, **at("10.0.0.8"))
               for n in range(20)]
    codes = [a.get_json()["error"]["code"] for a in answers]
    assert codes[:limit] == ["not_your_loan"] * limit and set(codes[limit:]) == {"too_many_tries"}
    assert Loan.get().due == due and Loan.get().renewals == 0  # the holder (n = 17) was never reached
    assert all("HS6A217" not in a.get_data(as_text=True) and "Học sinh 17" not in a.get_data(as_text=True)
               for a in answers)
    # The borrower, with the card, at another screen: renewed.
    assert client.post("/api/renew", json={"patron": "HS6A217", "item": "TN-0001"}, **at("10.0.0.9")).status_code == 200


def test_a_return_says_late_but_not_by_how_much_nor_whose(client, school, clock):
    school.checkout("HS002", "TN-0002")
    clock.set(clock.moment + timedelta(days=40))
    answer = client.post("/api/checkin", json={"item": "TN-0002", "lang": "en"})
    body = answer.get_data(as_text=True)
    assert answer.get_json()["checkin"]["late"] is True
    assert "overdue_days" not in body and "HS002" not in body and "Bình" not in body and "30" not in body


def test_returning_an_overdue_book_and_borrowing_it_back_is_refused(app, client, school, clock):
    school.checkout("HS001", "TN-0001")
    clock.set(clock.moment + timedelta(days=20))  # due after 10 days: 10 days late
    refused = client.post("/api/renew", json={"patron": "HS001", "item": "TN-0001"})
    assert refused.get_json()["error"]["code"] == "renew_overdue"
    assert client.post("/api/checkin", json={"item": "TN-0001"}).status_code == 200
    again = client.post("/api/checkout", json={"patron": "HS001", "item": "TN-0001", "lang": "en"})
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "returned_late"
    assert "choose another book" in again.get_json()["error"]["message"]
    # The late return stays on record: the loan keeps its due date and the day it came back.
    late = Loan.get(Loan.returned_at.is_null(False))
    assert late.returned_at.date() > late.due
    # Another book for the same student, and the same book for another student: fine.
    assert client.post("/api/checkout", json={"patron": "HS001", "item": "TN-0002"}).status_code == 200
    assert client.post("/api/checkin", json={"item": "TN-0002"}).status_code == 200
    assert client.post("/api/checkout", json={"patron": "HS002", "item": "TN-0001"}).status_code == 200
    assert client.post("/api/checkin", json={"item": "TN-0001"}).status_code == 200
    # A week later the student may borrow it again.
    clock.set(clock.moment + timedelta(days=Policy(rules={}).relend_after_late_days))
    assert client.post("/api/checkout", json={"patron": "HS001", "item": "TN-0001"}).status_code == 200


def test_the_librarian_may_lend_a_late_book_back_at_the_desk(client, school, clock):
    school.checkout("HS001", "TN-0001")
    clock.set(clock.moment + timedelta(days=20))
    school.checkin("TN-0001")
    page = client.get("/admin/login").get_data(as_text=True)
    client.post("/admin/login", data={"pin": "1234", "csrf_token": CSRF.search(page).group(1)})
    form = client.get("/admin/patrons/HS001").get_data(as_text=True)
    client.post("/admin/patrons/HS001/checkout", data={"item": "TN-0001", "csrf_token": CSRF.search(form).group(1)})
    assert Loan.select().where(Loan.returned_at.is_null()).count() == 1


def test_typing_helper_codes_is_throttled_and_logged(app, client, school, caplog):
    caplog.set_level(logging.INFO)
    limit = app.config["HELPER_WRONG_CARD_LIMIT"]
    token = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/staff/").get_data(as_text=True)).group(1)
    answers = [client.post("/staff/helper", json={"card": code}, headers={"X-CSRFToken": token}, **at("10.0.0.5"))
               for code in ["HS001", "HS002", "GV001", "NOPE1", "NOPE2", "NOPE3", "CTV01"]]
    assert [a.status_code for a in answers[:limit]] == [403, 403, 403, 404, 404]
    assert {a.status_code for a in answers[limit:]} == {429}  # even the helper's real card, from there
    assert sum("helper sign-in refused" in r.getMessage() and "10.0.0.5" in r.getMessage()
               for r in caplog.records) == limit
    helper = client.post("/staff/helper", json={"card": "CTV01"}, headers={"X-CSRFToken": token}, **at("10.0.0.6"))
    assert helper.status_code == 200
    assert any("helper CTV01 signed in from 10.0.0.6" in r.getMessage() for r in caplog.records)
