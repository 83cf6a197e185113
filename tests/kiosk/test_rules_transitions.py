"""The copy-status table, exhaustively: every status × action is a status or a typed refusal."""

from __future__ import annotations

import itertools

import pytest

from kiosk import rules
from kiosk.vocabulary import COPY_STATUSES

PAIRS = list(itertools.product(COPY_STATUSES, sorted(rules.ACTIONS)))


@pytest.mark.parametrize(("status", "action"), PAIRS)
def test_every_pair_is_a_status_or_a_typed_refusal(status, action):
    outcome = rules.TRANSITIONS.get((status, action))
    if isinstance(outcome, str):
        assert rules.transition(status, action) == outcome
        assert outcome in COPY_STATUSES
        return
    expected = outcome or rules.BadTransition
    assert issubclass(expected, rules.CirculationError)
    with pytest.raises(expected) as refused:
        rules.transition(status, action)
    assert type(refused.value) is expected
    assert refused.value.code != "circulation"
    assert refused.value.message_in("vi") != refused.value.message_in("en")


def test_the_table_names_only_known_statuses():
    assert {status for status, _ in rules.TRANSITIONS} <= set(COPY_STATUSES)


def test_only_an_available_book_can_be_lent():
    lendable = {status for status in COPY_STATUSES if isinstance(rules.TRANSITIONS.get((status, "checkout")), str)}
    assert lendable == {"available"}


def test_checkin_is_accepted_from_every_status_and_never_leaves_a_book_on_loan():
    for status in COPY_STATUSES:
        assert rules.transition(status, "checkin") != "on_loan"


def test_every_status_can_be_made_available_again_by_the_librarian_or_a_return():
    for status in COPY_STATUSES:
        reachable = {rules.transition(status, action) for action in ("checkin", "mark_available")
                     if isinstance(rules.TRANSITIONS.get((status, action)), str)}
        assert reachable & {"available", "damaged", "withdrawn", "not_for_loan"}, status


def test_a_book_on_loan_cannot_be_withdrawn_before_it_is_returned():
    with pytest.raises(rules.BadTransition) as refused:
        rules.transition("on_loan", "withdraw")
    assert refused.value.params == {"status": "on_loan", "action": "withdraw"}


def test_an_unknown_action_is_a_typed_refusal():
    with pytest.raises(rules.BadTransition):
        rules.transition("available", "burn")


# ------------------------------------------------------------------ librarian actions through the service


def test_a_bad_transition_names_status_and_action_in_words_in_both_languages():
    with pytest.raises(rules.BadTransition) as refused:
        rules.transition("on_loan", "withdraw")
    assert refused.value.message_in("en") == "A book that is on loan cannot be withdrawn from the collection."
    assert refused.value.message_in("vi") == "Sách đang cho mượn thì không thể thanh lý khỏi kho."


@pytest.mark.parametrize(("status", "action"), [pair for pair in PAIRS if pair not in rules.TRANSITIONS])
def test_no_bad_transition_message_shows_an_identifier(status, action):
    error = rules.BadTransition(status=status, action=action)
    for lang in ("vi", "en"):
        assert "_" not in error.message_in(lang), error.message_in(lang)
        assert action not in error.message_in(lang).split()


@pytest.mark.parametrize("status", COPY_STATUSES)
@pytest.mark.parametrize("lent", [True, False])
def test_a_settled_status_follows_the_loans_only_between_shelf_and_loan(status, lent):
    settled = rules.settled_status(status, lent)
    if status in ("available", "on_loan"):
        assert settled == ("on_loan" if lent else "available")
    else:
        assert settled == status
