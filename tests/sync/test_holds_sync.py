"""Holds across offline kiosks: placed, cancelled, set aside and collected on two kiosks that sync in
random orders. Whatever the order, after syncing every kiosk derives the same hold shelf and queue as
the server, and no copy waits for two readers."""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from kiosk import hold_rules as hr
from kiosk.holds import Holds, states_for_titles
from kiosk.models import Hold, Title
from kiosk.rules import CirculationError
from tests.conftest import copy_fact, patron_fact
from tests.sync.conftest import school_with_kiosks

PATRONS = ["HS001", "HS002", "HS003"]
COPIES = ["TN-0001", "TN-0002", "TN-0003"]  # TN-0001 and TN-0002: two copies of one title
FACTS = [*(patron_fact(code, f"Học sinh {code}") for code in PATRONS),
         copy_fact("TN-0001", "Dế Mèn phiêu lưu ký", isbn="9786040000101"),
         copy_fact("TN-0002", "Dế Mèn phiêu lưu ký", isbn="9786040000101"),
         copy_fact("TN-0003", "Kính vạn hoa")]

kiosk_no = st.integers(0, 1)
step = st.one_of(
    st.tuples(st.just("checkout"), kiosk_no, st.sampled_from(PATRONS), st.sampled_from(COPIES)),
    st.tuples(st.just("checkin"), kiosk_no, st.just(""), st.sampled_from(COPIES)),
    st.tuples(st.just("place"), kiosk_no, st.sampled_from(PATRONS), st.sampled_from(COPIES)),
    st.tuples(st.just("place"), kiosk_no, st.sampled_from(PATRONS), st.sampled_from(COPIES)),
    st.tuples(st.just("cancel"), kiosk_no, st.sampled_from(PATRONS), st.just("")),
    st.tuples(st.just("sync"), kiosk_no, st.just(""), st.just("")),
    st.tuples(st.just("day"), kiosk_no, st.just(""), st.just("")),
)


def _shelf(today) -> tuple[dict[str, hr.HoldState], dict[str, str | None]]:
    titles = [t.id for t in Title.select(Title.id)]
    holds = {h.uuid: (h.cancelled_at.isoformat() if h.cancelled_at else None) for h in Hold.select()}
    return states_for_titles(titles, today), holds


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(step, min_size=1, max_size=30))
# Placed on one kiosk, queued behind on the other, the copy back at the first, offline all along.
@example([("checkout", 0, "HS001", "TN-0003"), ("sync", 0, "", ""), ("sync", 1, "", ""),
          ("place", 0, "HS002", "TN-0003"), ("place", 1, "HS003", "TN-0003"), ("checkin", 1, "", "TN-0003"),
          ("checkout", 0, "HS003", "TN-0003"), ("day", 0, "", ""), ("sync", 1, "", "")])
# Both copies of a title out; a hold on each kiosk; one copy back on each; one reader cancels offline.
@example([("checkout", 0, "HS001", "TN-0001"), ("checkout", 1, "HS001", "TN-0002"), ("place", 0, "HS002", "TN-0001"),
          ("place", 1, "HS003", "TN-0002"), ("checkin", 0, "", "TN-0001"), ("checkin", 1, "", "TN-0002"),
          ("cancel", 0, "HS002", ""), ("day", 0, "", ""), ("day", 0, "", ""), ("day", 0, "", "")])
def test_two_offline_kiosks_and_the_server_agree_on_every_hold(steps):
    with tempfile.TemporaryDirectory() as tmp, school_with_kiosks(Path(tmp), FACTS) as (clock, server, *kiosks):
        for action, k, patron, item in steps:
            kiosk = kiosks[k]
            clock.moment += timedelta(minutes=7)
            if action == "sync":
                kiosk.sync()
                continue
            if action == "day":
                clock.moment += timedelta(days=1)
                continue
            with kiosk.run():
                try:
                    if action == "checkout":
                        kiosk.circ.checkout(patron, item)
                    elif action == "checkin":
                        kiosk.circ.checkin(item)
                    elif action == "place":
                        Holds(kiosk.circ).place(patron, item)
                    elif action == "cancel":
                        mine = Holds(kiosk.circ).lines(patron_code=patron, active_only=True)
                        if mine:
                            Holds(kiosk.circ).cancel(mine[0].uuid, patron_code=patron)
                except CirculationError:
                    pass
        for _ in range(2):  # everything up, then everything down to every kiosk
            for kiosk in kiosks:
                assert kiosk.sync().complete
        today = kiosks[0].circ.today()
        with server.run():
            truth = _shelf(today)
        ready = [s for s in truth[0].values() if s.state == hr.READY]
        assert len({s.copy for s in ready}) == len(ready)
        for kiosk in kiosks:
            with kiosk.run():
                assert _shelf(today) == truth
