"""Every circulation refusal over HTTP, as one table: a real kiosk app on a real SQLite file.

Each row sets the school up, then posts in Vietnamese and English: both answers are the same typed
refusal (code, status, aliases), the messages differ by language, and nothing is written.
tests/kiosk/test_rules_refusals.py is the same table against the pure rules.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from kiosk import rules
from tests.kiosk.conftest import refused_over_http


def _lend(patron: str, *items: str):
    def setup(school, clock) -> None:
        for item in items:
            school.checkout(patron, item)
    return setup


def _mark(item: str, action: str):
    def setup(school, clock) -> None:
        school.set_copy_status(item, action)
    return setup


def _overdue(school, clock) -> None:
    school.checkout("HS001", "TN-0001")
    clock.set(clock() + timedelta(days=11))


def _nothing(school, clock) -> None:
    pass


# (case, setup, path, body, code, status, words in English)
CASES = [
    ("unknown card", _nothing, "/api/checkout", {"patron": "HS999", "item": "TN-0001"}, "unknown_patron", 404,
     "not registered"),
    ("unknown card, patron page", _nothing, "/api/patron", {"patron": "HS999"}, "unknown_patron", 404,
     "not registered"),
    ("unknown card, renewal", _lend("HS001", "TN-0001"), "/api/renew", {"patron": "HS999", "item": "TN-0001"},
     "unknown_patron", 404, "not registered"),
    ("inactive card", _nothing, "/api/checkout", {"patron": "HS003", "item": "TN-0001"}, "inactive_patron", 403,
     "no longer active"),
    ("inactive card, patron page", _nothing, "/api/patron", {"patron": "HS003"}, "inactive_patron", 403,
     "no longer active"),
    ("unknown copy", _nothing, "/api/checkout", {"patron": "HS001", "item": "TN-9999"}, "unknown_copy", 404,
     "catalogue"),
    ("copy on loan", _lend("HS001", "TN-0001"), "/api/checkout", {"patron": "HS002", "item": "TN-0001"},
     "copy_on_loan", 409, "already on loan"),
    ("lost copy", _mark("TN-0001", "mark_lost"), "/api/checkout", {"patron": "HS001", "item": "TN-0001"},
     "copy_lost", 409, "recorded as lost"),
    ("damaged copy", _mark("TN-0001", "mark_damaged"), "/api/checkout", {"patron": "HS001", "item": "TN-0001"},
     "copy_damaged", 409, "damaged"),
    ("withdrawn copy", _mark("TN-0001", "withdraw"), "/api/checkout", {"patron": "HS001", "item": "TN-0001"},
     "copy_withdrawn", 409, "withdrawn"),
    ("periodical", _nothing, "/api/checkout", {"patron": "HS001", "item": "BAO-0001"}, "copy_not_for_loan", 409,
     "in the library only"),
    ("copy marked not for loan", _mark("TN-0001", "mark_not_for_loan"), "/api/checkout",
     {"patron": "GV001", "item": "TN-0001"}, "copy_not_for_loan", 409, "in the library only"),
    ("overdue loan", _overdue, "/api/checkout", {"patron": "HS001", "item": "TN-0002"}, "has_overdue", 409,
     "overdue"),
    ("a fourth book", _lend("HS001", "TN-0001", "TN-0002", "TN-0003"), "/api/checkout",
     {"patron": "HS001", "item": "TN-0004"}, "loan_limit", 409, "3 books"),
]
ALIASES = {"unknown_copy": ["unknown_item"], "copy_on_loan": ["item_on_loan"], "copy_lost": ["item_lost"],
           "copy_damaged": ["item_damaged"], "copy_withdrawn": ["item_withdrawn"],
           "copy_not_for_loan": ["item_not_for_loan"]}


@pytest.mark.parametrize(("setup", "path", "body", "code", "status", "words"), [row[1:] for row in CASES],
                         ids=[row[0] for row in CASES])
def test_the_kiosk_refuses_over_http(client, school, clock, setup, path, body, code, status, words):
    setup(school, clock)
    vi, en = refused_over_http(client, path, body, code, status)
    assert words in en
    assert client.post(path, json=body).get_json()["error"].get("aliases", []) == ALIASES.get(code, [])


def test_every_rule_refusal_has_a_row():
    from tests.kiosk.test_rules_refusals import REFUSALS

    assert {refusal.code for (*_, refusal, _words) in REFUSALS} <= {row[4] for row in CASES}


def test_a_copy_on_loan_is_refused_without_revealing_the_borrower(client, school):
    school.checkout("HS001", "TN-0001")  # Nguyễn Văn An, 6A1
    for answer in (client.post("/api/checkout", json={"patron": "HS002", "item": "TN-0001"}),
                   client.post("/api/checkout?lang=en", json={"patron": "HS002", "item": "TN-0001"})):
        text = answer.get_data(as_text=True).encode().decode("unicode_escape")
        for secret in ("HS001", "Nguyễn", "Văn An", "An.", "6A1"):
            assert secret not in text
        assert set(answer.get_json()) == {"error"}


def test_the_same_student_scanning_twice_is_still_one_loan(client, school):
    from kiosk.models import Loan

    client.post("/api/checkout", json={"patron": "HS001", "item": "TN-0001"})
    assert client.post("/api/checkout", json={"patron": "HS001", "item": "TN-0001"}).status_code == 409
    assert Loan.select().count() == 1


def test_a_catalogue_reimport_cannot_trick_the_kiosk_into_a_second_loan(client, school):
    """A re-import (or a sync) that says "available" for a copy on loan: refused, not a crash."""
    from kiosk.models import Loan
    from tests.conftest import copy_fact

    client.post("/api/checkout", json={"patron": "HS001", "item": "TN-0001"})
    school.record_facts([copy_fact("TN-0001", "Dế Mèn phiêu lưu ký", author="Tô Hoài", status="available")])
    refused_over_http(client, "/api/checkout", {"patron": "HS002", "item": "TN-0001"}, "copy_on_loan", 409)
    assert Loan.open_loans().count() == 1


def test_a_synced_status_fact_cannot_make_a_lent_copy_available(school):
    from kiosk.models import Copy

    school.checkout("HS001", "TN-0001")
    school.record_facts([("copy.status", {"item": "TN-0001", "status": "available", "note": ""})])
    assert Copy.get(Copy.code == "TN-0001").status == "on_loan"
    with pytest.raises(rules.CopyOnLoan):
        school.checkout("HS002", "TN-0001")


def test_the_service_refuses_unknown_cards_and_copies_by_label_and_by_isbn(school):
    for patron, item, refusal in (("HS999", "TN-0001", rules.UnknownPatron), ("HS001", "TN-9999", rules.UnknownCopy),
                                  ("HS001", "9786040000033", rules.UnknownCopy)):  # an ISBN we don't hold
        with pytest.raises(refusal):
            school.checkout(patron, item)
    with pytest.raises(rules.UnknownPatron):
        school.patron_summary("HS999")


def test_a_reactivated_card_may_borrow_again(school):
    from tests.conftest import patron_fact

    with pytest.raises(rules.InactivePatron):
        school.checkout("HS003", "TN-0001")
    school.record_facts([patron_fact("HS003", "Lê Minh Châu", active=True)])
    assert school.checkout("HS003", "TN-0001").item == "TN-0001"


def test_the_limit_counts_per_category(client, school):
    for item in ("TN-0001", "TN-0002", "TN-0003"):
        assert client.post("/api/checkout", json={"patron": "HS001", "item": item}).status_code == 200
    summary = client.post("/api/patron", json={"patron": "HS001"}).get_json()["patron"]
    assert (summary["holding"], summary["may_borrow"]) == (3, 0)
    assert client.post("/api/checkout", json={"patron": "HS001", "item": "SGK-0001"}).status_code == 200


def test_the_overdue_block_shows_and_can_be_lifted(client, school, clock):
    _overdue(school, clock)
    assert client.post("/api/patron", json={"patron": "HS001"}).get_json()["patron"]["overdue"] == 1
    school.record_facts([("setting.set", {"key": "block_when_overdue", "value": False})])
    assert client.post("/api/checkout", json={"patron": "HS001", "item": "TN-0002"}).status_code == 200
