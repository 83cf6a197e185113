"""Every circulation refusal as one table of plain values: no database, no Flask, no clock.

The rules are pure (kiosk/rules.py); tests/kiosk/test_api_refusals.py is the same table over HTTP.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from kiosk import rules
from tests.kiosk.conftest import MONDAY, book, loan, policy, student, teacher

YESTERDAY = MONDAY - timedelta(days=1)

# (case, patron, copy, open loans, policy, refusal, words in its English message)
REFUSALS = [
    ("unknown patron", None, book(), [], policy(), rules.UnknownPatron, "not registered"),
    ("inactive card", student(active=False), book(), [], policy(), rules.InactivePatron, "no longer active"),
    ("unknown copy", student(), None, [], policy(), rules.UnknownCopy, "catalogue"),
    ("copy on loan", student(), book(status="on_loan"), [], policy(), rules.CopyOnLoan, "already on loan"),
    ("lost copy", student(), book(status="lost"), [], policy(), rules.CopyLost, "recorded as lost"),
    ("lost copy, teacher", teacher(), book(status="lost"), [], policy(), rules.CopyLost, "recorded as lost"),
    ("damaged copy", student(), book(status="damaged"), [], policy(), rules.CopyDamaged, "damaged"),
    ("damaged copy, teacher", teacher(), book(status="damaged"), [], policy(), rules.CopyDamaged, "damaged"),
    ("withdrawn copy", student(), book(status="withdrawn"), [], policy(), rules.CopyWithdrawn, "withdrawn"),
    ("withdrawn copy, teacher", teacher(), book(status="withdrawn"), [], policy(), rules.CopyWithdrawn,
     "withdrawn"),
    ("copy marked not for loan", teacher(), book(status="not_for_loan"), [], policy(), rules.CopyNotForLoan,
     "in the library only"),
    ("periodical, student", student(), book("BAO-1", "periodical"), [], policy(), rules.CopyNotForLoan,
     "in the library only"),
    ("periodical, teacher", teacher(), book("BAO-1", "periodical"), [], policy(), rules.CopyNotForLoan,
     "in the library only"),
    ("teachers' book, student", student(), book("SNV-1", "SNV"), [], policy(), rules.CopyNotForLoan,
     "in the library only"),
    ("an overdue loan", student(), book(), [loan(due=YESTERDAY)], policy(), rules.HasOverdue, "overdue"),
    ("a fourth book", student(), book(), [loan("TN-0007"), loan("TN-0008"), loan("TN-0009")], policy(),
     rules.LoanLimitReached, "3 books"),
]

# (case, patron, copy, open loans, policy): the boundaries the refusals must not cross.
LENDS = [
    ("a loan due today is not overdue", student(), book(), [loan(due=MONDAY)], policy()),
    ("the overdue block switched off", student(), book(), [loan(due=MONDAY - timedelta(days=9))],
     policy(block_when_overdue=False)),
    ("a teacher borrows a teachers' book", teacher(), book("SNV-1", "SNV"), [], policy()),
    ("a textbook beside three books", student(), book("SGK-1", "SGK"),
     [loan("TN-0007"), loan("TN-0008"), loan("TN-0009")], policy()),
]


@pytest.mark.parametrize(("patron", "copy", "loans", "pol", "refusal", "words"),
                         [row[1:] for row in REFUSALS], ids=[row[0] for row in REFUSALS])
def test_the_rule_refuses_in_both_languages(patron, copy, loans, pol, refusal, words):
    with pytest.raises(rules.CirculationError) as refused:
        rules.checkout(patron, copy, loans, pol, MONDAY)
    assert type(refused.value) is refusal
    en, vi = refused.value.message_in("en"), refused.value.message_in("vi")
    assert words in en and vi and vi != en


@pytest.mark.parametrize(("patron", "copy", "loans", "pol"), [row[1:] for row in LENDS], ids=[row[0] for row in LENDS])
def test_the_rule_lends_at_the_edges_of_the_refusals(patron, copy, loans, pol):
    assert rules.checkout(patron, copy, loans, pol, MONDAY).due > MONDAY


def test_every_checkout_refusal_is_in_the_table():
    """A new refusal of rules.checkout gets a row here (and one in the HTTP table)."""
    raised = {refusal for (*_, refusal, _words) in REFUSALS}
    statuses = {outcome for (_status, action), outcome in rules.TRANSITIONS.items()
                if action == "checkout" and isinstance(outcome, type)}
    assert statuses <= raised
    assert {rules.UnknownPatron, rules.InactivePatron, rules.UnknownCopy, rules.HasOverdue,
            rules.LoanLimitReached} <= raised


def test_the_loan_limit_says_how_many_books_are_held_in_both_languages():
    with pytest.raises(rules.LoanLimitReached) as refused:
        rules.checkout(student(), book(), [loan("TN-0007"), loan("TN-0008"), loan("TN-0009")], policy(), MONDAY)
    assert "3" in refused.value.message_in("en") and "3" in refused.value.message_in("vi")


def test_the_rule_tests_load_no_database_and_no_flask():
    """docs/architecture.md says the rules are tested without a database: these modules prove it."""
    modules = ["tests.kiosk.test_rules_refusals", "tests.kiosk.test_rules_checkin", "tests.kiosk.test_rules_checkout",
               "tests.kiosk.test_rules_renew", "tests.kiosk.test_rules_transitions"]
    probe = (f"import sys; import {', '.join(modules)}; "
             "print(sorted(m for m in ('peewee', 'flask', 'kiosk.models', 'kiosk.db') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
