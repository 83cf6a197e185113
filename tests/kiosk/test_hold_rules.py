"""The holds rules are pure: who waits, which copy waits on the hold shelf for whom, until when."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk import hold_rules as hr

DAY0 = datetime(2026, 12, 1, 8, 0)


def at(days: float) -> datetime:
    return DAY0 + timedelta(days=days)


def hold(uuid: str, patron: str, placed: float, cancelled: float | None = None, title: int = 1) -> hr.HoldView:
    return hr.HoldView(uuid, patron, title, at(placed), at(cancelled) if cancelled is not None else None)


def copy(code: str, back: float, title: int = 1) -> hr.ShelfCopy:
    return hr.ShelfCopy(code, title, at(back))


def today(days: int) -> date:
    return (DAY0 + timedelta(days=days)).date()


def test_the_first_in_line_gets_the_copy_that_comes_back_the_others_wait_in_order():
    states = hr.allocate([hold("b", "HS2", 0.5), hold("a", "HS1", 0.1), hold("c", "HS3", 0.9)],
                         [copy("TN-1", 2)], [], today(2), shelf_days=3)
    assert states["a"] == hr.HoldState("a", hr.READY, "TN-1", today(2), today(4))
    assert (states["b"].state, states["b"].position) == (hr.WAITING, 1)
    assert (states["c"].state, states["c"].position) == (hr.WAITING, 2)


def test_an_uncollected_copy_passes_to_the_next_reader_after_its_shelf_days():
    holds = [hold("a", "HS1", 0), hold("b", "HS2", 0.5)]
    states = hr.allocate(holds, [copy("TN-1", 1)], [], today(4), shelf_days=3)  # a: days 1-3
    assert states["a"].state == hr.EXPIRED and states["a"].until == today(3)
    assert states["b"] == hr.HoldState("b", hr.READY, "TN-1", today(4), today(6))
    later = hr.allocate(holds, [copy("TN-1", 1)], [], today(7), shelf_days=3)
    assert later["b"].state == hr.EXPIRED  # nobody came: the copy is free again
    assert hr.set_aside(later) == {}


def test_borrowing_collects_the_hold_and_cancelling_ends_it():
    holds = [hold("a", "HS1", 0), hold("b", "HS2", 0.2, cancelled=1), hold("c", "HS3", 0.4)]
    borrowed = [hr.Borrowing("HS1", 1, at(2))]
    states = hr.allocate(holds, [copy("TN-2", 3)], borrowed, today(3), shelf_days=3)
    assert states["a"].state == hr.COLLECTED and states["b"].state == hr.CANCELLED
    assert states["c"] == hr.HoldState("c", hr.READY, "TN-2", today(3), today(5))
    # A loan from before the hold was placed does not collect it.
    early = hr.allocate([hold("d", "HS4", 5)], [], [hr.Borrowing("HS4", 1, at(1))], today(5), 3)
    assert early["d"].state == hr.WAITING


def test_a_hold_that_ended_while_a_copy_waited_for_it_passes_the_copy_on_from_then():
    holds = [hold("a", "HS1", 0, cancelled=5), hold("b", "HS2", 0.5)]
    states = hr.allocate(holds, [copy("TN-1", 4)], [], today(5), shelf_days=3)
    assert states["b"] == hr.HoldState("b", hr.READY, "TN-1", today(5), today(7))


def test_a_copy_set_aside_is_lent_only_to_its_reader():
    states = hr.allocate([hold("a", "HS1", 0)], [copy("TN-1", 1)], [], today(1), 3)
    with pytest.raises(hr.CopyOnHold):
        hr.check_checkout("TN-1", "HS9", states, {"a": "HS1"})
    hr.check_checkout("TN-1", "HS1", states, {"a": "HS1"})
    hr.check_checkout("TN-2", "HS9", states, {"a": "HS1"})


holds_st = st.lists(st.tuples(st.sampled_from(["HS1", "HS2", "HS3", "HS4"]), st.integers(0, 10),
                              st.one_of(st.none(), st.integers(0, 12)), st.integers(1, 2)), max_size=8)
copies_st = st.lists(st.tuples(st.integers(0, 12), st.integers(1, 2)), max_size=4)
loans_st = st.lists(st.tuples(st.sampled_from(["HS1", "HS2", "HS3", "HS4"]), st.integers(1, 2),
                              st.integers(0, 12)), max_size=4)


@given(holds_st, copies_st, loans_st, st.integers(0, 15), st.integers(1, 5), st.randoms())
def test_any_history_gives_one_copy_per_ready_hold_and_the_same_answer_in_any_order(
        hold_specs, copy_specs, loan_specs, day, shelf_days, rnd):
    holds = [hr.HoldView(f"h{i}", p, t, at(placed), at(c) if c is not None and c >= placed else None)
             for i, (p, placed, c, t) in enumerate(hold_specs)]
    copies = [copy(f"C{i}", back, t) for i, (back, t) in enumerate(copy_specs)]
    loans = [hr.Borrowing(p, t, at(when)) for p, t, when in loan_specs]
    states = hr.allocate(holds, copies, loans, today(day), shelf_days)
    assert set(states) == {h.uuid for h in holds}
    ready = [s for s in states.values() if s.state == hr.READY]
    assert len({s.copy for s in ready}) == len(ready)  # a copy waits for one reader at most
    for s in ready:
        assert s.ready_on <= today(day) <= s.until
    for title in (1, 2):
        waiting = sorted(s.position for s in states.values() if s.state == hr.WAITING
                          and next(h for h in holds if h.uuid == s.uuid).title_id == title)
        assert waiting == list(range(1, len(waiting) + 1))
    shuffled = [list(x) for x in (holds, copies, loans)]
    for items in shuffled:
        rnd.shuffle(items)
    assert hr.allocate(*shuffled, today(day), shelf_days) == states  # facts in any order: the same shelf
