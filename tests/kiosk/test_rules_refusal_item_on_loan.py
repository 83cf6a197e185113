"""Refusal: the copy is already on loan — and the public screen must not say to whom."""

import pytest

from kiosk import rules
from tests.kiosk.conftest import MONDAY, book, policy, refused_over_http, student


def test_rule_refuses_a_copy_on_loan():
    with pytest.raises(rules.CopyOnLoan):
        rules.checkout(student(), book(status="on_loan"), [], policy(), MONDAY)


def test_http_refuses_without_revealing_the_borrower(client, school):
    assert client.post("/api/checkout", json={"patron": "HS001", "item": "TN-0001"}).status_code == 200
    vi, en = refused_over_http(client, "/api/checkout", {"patron": "HS002", "item": "TN-0001"}, "copy_on_loan", 409)
    for answer in (client.post("/api/checkout", json={"patron": "HS002", "item": "TN-0001"}),
                   client.post("/api/checkout?lang=en", json={"patron": "HS002", "item": "TN-0001"})):
        text = answer.get_data(as_text=True).encode().decode("unicode_escape")
        for secret in ("HS001", "Nguyễn", "Văn An", "An.", "6A1"):
            assert secret not in text
        assert set(answer.get_json()) == {"error"}
    assert "already on loan" in en


def test_the_same_student_scanning_twice_is_still_one_loan(client, school):
    from kiosk.models import Loan

    client.post("/api/checkout", json={"patron": "HS001", "item": "TN-0001"})
    second = client.post("/api/checkout", json={"patron": "HS001", "item": "TN-0001"})
    assert second.status_code == 409
    assert Loan.select().count() == 1


def test_a_catalogue_reimport_cannot_trick_the_kiosk_into_a_second_loan(client, school):
    """A re-import (or a sync) that says "available" for a copy on loan: refused, not a crash."""
    from kiosk.models import Loan
    from tests.conftest import copy_fact

    client.post("/api/checkout", json={"patron": "HS001", "item": "TN-0001"})
    school.record_facts([copy_fact("TN-0001", "Dế Mèn phiêu lưu ký", author="Tô Hoài", status="available")])
    refused_over_http(client, "/api/checkout", {"patron": "HS002", "item": "TN-0001"}, "copy_on_loan", 409)
    assert Loan.select().where(Loan.returned_at.is_null()).count() == 1


def test_a_synced_status_fact_cannot_make_a_lent_copy_available(school):
    from kiosk.models import Copy

    school.checkout("HS001", "TN-0001")
    school.record_facts([("copy.status", {"item": "TN-0001", "status": "available", "note": ""})])
    assert Copy.get(Copy.code == "TN-0001").status == "on_loan"
    with pytest.raises(rules.CopyOnLoan):
        school.checkout("HS002", "TN-0001")
