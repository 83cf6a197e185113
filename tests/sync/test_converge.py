"""Sync converges: skipped state comes back, replies are checked, and the digest repairs what drifted.

In one process (kiosk and server apps, each with its own database); the same
guarantees with real processes are in test_chaos.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.db import write_transaction
from kiosk.ledger import get_setting, put_setting
from kiosk.models import Copy, Loan, Patron
from sync import digest, kiosk_state
from sync.client import ServerUnreachable, SyncSummary
from sync.messages import BadReply, check_digest_reply, check_pull_reply, check_push_reply
from tests.conftest import copy_fact, patron_fact
from tests.sync.conftest import school_with_kiosks

SCHOOL = [
    patron_fact("HS001", "Nguyễn Văn An"),
    patron_fact("HS002", "Trần Thị Bình"),
    copy_fact("TN-0001", "Dế Mèn phiêu lưu ký", author="Tô Hoài"),
    copy_fact("TN-0002", "Đất rừng phương Nam", author="Đoàn Giỏi"),
]


class Faulty:
    """The in-process transport with faults at its boundary: a reply lost after the server
    applied the request, or a reply replaced by what a cut connection or a proxy hands back."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.lose: set[str] = set()
        self.replace: dict[str, tuple[int, Any]] = {}
        self.paths: list[str] = []

    def post(self, path: str, body: bytes, headers: Mapping[str, str]) -> tuple[int, dict[str, Any]]:
        self.paths.append(path)
        status, reply = self.inner.post(path, body, headers)
        if path in self.lose:
            raise ServerUnreachable(url="http://server", reason="ReadTimeout")
        if path in self.replace:
            return self.replace[path]
        return status, reply


def _open_loans(handle) -> set[tuple[str, str, str]]:
    with handle.run():
        return {(loan.uuid, loan.copy.code, loan.patron.code) for loan in Loan.open_loans()}


def _statuses(handle) -> dict[str, str]:
    with handle.run():
        return {copy.code: copy.status for copy in Copy.select()}


def _faulty(kiosk) -> Faulty:
    kiosk.client.transport = Faulty(kiosk.client.transport)
    kiosk.client.sleep = lambda seconds: None
    return kiosk.client.transport


def test_a_renewal_of_a_loan_closed_elsewhere_converges_after_overlapping_syncs_and_a_lost_reply(tmp_path):
    """Issue 11's first failure: C renews a loan A has closed; one sync's push reply is lost while
    another pulls. C held back the loan's state (its renewal was unsent) and its cursor moved past it;
    the resent renewal was a duplicate, which published nothing. C kept the loan open for ever."""
    with school_with_kiosks(tmp_path, SCHOOL, ("a", "c")) as (_clock, server, kiosk_a, kiosk_c):
        with kiosk_a.run():
            kiosk_a.circ.checkout("HS001", "TN-0001")
        assert kiosk_a.sync().complete
        assert kiosk_c.sync().complete
        with kiosk_a.run():
            kiosk_a.circ.checkin("TN-0001")
        assert kiosk_a.sync().complete
        with kiosk_c.run():
            kiosk_c.circ.renew("HS001", "TN-0001")  # C has not heard of the return
        transport = _faulty(kiosk_c)
        transport.lose = {"/sync/push"}
        lost = kiosk_c.sync()  # the server rejects the renewal ("loan is not open"); C never hears it
        assert not lost.complete and lost.waiting == 1
        with kiosk_c.run():
            kiosk_c.client.pull(SyncSummary())  # another sync's pull meanwhile: the renewal is still unsent
        transport.lose = set()
        for _ in range(2):
            healed = kiosk_c.sync()
            assert healed.complete, healed
            assert healed.repaired == 0  # the server's answer to the resent renewal did it, not the digest
        assert _open_loans(kiosk_c) == _open_loans(server) == set()
        assert _statuses(kiosk_c) == _statuses(server)
        with kiosk_c.run():
            assert kiosk_c.circ.checkout("HS002", "TN-0001").loan  # the copy is on the shelf at C too


@pytest.mark.parametrize("reply", [
    (200, {}),  # cut inside the headers: requests hands back an empty body
    (200, {"last_seq": 1}),  # no results
    (200, {"last_seq": "1", "results": []}),
    (200, {"last_seq": 1, "results": [{"seq": 99, "outcome": "applied"}]}),  # an event never sent
    (200, {"last_seq": 1, "results": [{"seq": 1}]}),
])
def test_a_push_reply_without_what_the_protocol_promises_is_no_answer(tmp_path, reply):
    with school_with_kiosks(tmp_path, SCHOOL, ("a",)) as (_clock, server, kiosk):
        with kiosk.run():
            kiosk.circ.checkout("HS001", "TN-0001")
        transport = _faulty(kiosk)
        transport.replace = {"/sync/push": reply}
        summary = kiosk.sync()  # no KeyError: the sync ends with a reason
        assert not summary.complete and summary.waiting == 1
        assert "cut off or unreadable" in summary.error
        assert transport.paths.count("/sync/push") == 3  # asked again twice
        with kiosk.run():
            assert kiosk_state.acked_seq() == 0 and get_setting(kiosk_state.CONFLICTS, []) == []
        transport.replace = {}
        assert kiosk.sync().complete
        assert _open_loans(kiosk) == _open_loans(server)


@pytest.mark.parametrize("reply", [
    (200, {}),
    (200, {"cursor": "v1.x.1", "reset": False, "more": False}),  # no records
    (200, {"cursor": "garbage", "reset": False, "more": False, "records": []}),
    (200, {"cursor": "v1.x.1", "reset": False, "more": False, "records": [{"kind": "copy"}]}),
])
def test_a_pull_reply_without_what_the_protocol_promises_changes_nothing(tmp_path, reply):
    with school_with_kiosks(tmp_path, SCHOOL, ("a",)) as (_clock, server, kiosk):
        with kiosk.run():
            cursor = get_setting(kiosk_state.CURSOR)
        transport = _faulty(kiosk)
        transport.replace = {"/sync/pull": reply}
        summary = kiosk.sync()
        assert not summary.complete and "cut off or unreadable" in summary.error
        with kiosk.run():
            assert get_setting(kiosk_state.CURSOR) == cursor


def test_the_digest_repairs_a_kiosk_that_drifted_and_logs_it(tmp_path):
    """Whatever made a kiosk disagree with the server (a bug, a hand edit), the next sync that moves
    its cursor compares digests and takes the server's rows for the buckets that differ."""
    with school_with_kiosks(tmp_path, SCHOOL, ("a", "c")) as (_clock, server, kiosk_a, kiosk_c):
        with kiosk_a.run():
            loan = kiosk_a.circ.checkout("HS001", "TN-0001").loan
        assert kiosk_a.sync().complete and kiosk_c.sync().complete
        with kiosk_c.run(), write_transaction():  # drift, written past the ledger
            Loan.update(returned_at=Loan.checked_out_at).where(Loan.uuid == loan).execute()
            Copy.update(status="available").where(Copy.code == "TN-0001").execute()
            Copy.update(status="lost").where(Copy.code == "TN-0002").execute()
            Patron.update(active=False).where(Patron.code == "HS002").execute()
        with kiosk_a.run():
            kiosk_a.circ.checkin("TN-0002")  # not on loan: nothing; the server moves on anyway below
        server.facts([patron_fact("HS003", "Lê Minh Châu")])
        summary = kiosk_c.sync()
        assert summary.complete and summary.repaired == 3, summary
        assert _open_loans(kiosk_c) == _open_loans(server) == {(loan, "TN-0001", "HS001")}
        assert _statuses(kiosk_c) == _statuses(server)
        with kiosk_c.run():
            assert Patron.get(Patron.code == "HS002").active
            repairs = kiosk_state.status(kiosk_c.device, "en")["recent_repairs"]
        assert {(row["kind"], row["key"], row["before"], row["after"]) for row in repairs} == {
            ("copy", "TN-0001", "available", "on_loan (HS001)"),
            ("copy", "TN-0002", "lost", "available"),
            ("patron", "HS002", "Trần Thị Bình 6A1 student inactive", "Trần Thị Bình 6A1 student active"),
        }
        server.facts([patron_fact("HS004", "Phạm Dũng")])
        assert kiosk_c.sync().repaired == 0


def test_the_digest_runs_when_either_side_moved_or_a_day_passed(tmp_path):
    with school_with_kiosks(tmp_path, SCHOOL, ("a",)) as (_clock, server, kiosk):
        transport = _faulty(kiosk)
        assert kiosk.sync().complete
        assert "/sync/digest" not in transport.paths  # nothing moved since the first sync compared
        with kiosk.run(), write_transaction():
            checked = get_setting(kiosk_state.DIGEST_CHECKED)
            put_setting(kiosk_state.DIGEST_CHECKED, {**checked, "at": "2000-01-01T00:00:00.000000"})
        assert kiosk.sync().complete
        assert transport.paths.count("/sync/digest") == 1
        with kiosk.run():
            kiosk.circ.checkout("HS001", "TN-0001")
        assert kiosk.sync().complete
        assert transport.paths.count("/sync/digest") == 2
        kiosk.client.check_gap = timedelta(minutes=10)  # as shipped: a moved kiosk compares every 10 minutes
        with kiosk.run():
            kiosk.circ.checkin("TN-0001")
        assert kiosk.sync().complete
        assert transport.paths.count("/sync/digest") == 2


def test_a_server_that_moved_since_the_pull_is_pulled_from_again_before_comparing(tmp_path):
    with school_with_kiosks(tmp_path, SCHOOL, ("a", "b")) as (_clock, server, kiosk_a, kiosk_b):
        with kiosk_a.run():
            kiosk_a.circ.checkout("HS001", "TN-0001")
        transport = _faulty(kiosk_a)
        original = transport.post

        def post(path, body, headers):
            if path == "/sync/digest" and transport.paths.count("/sync/digest") == 0:
                server.facts([copy_fact("TN-0003", "Tuổi thơ dữ dội")])  # another change lands meanwhile
            return original(path, body, headers)

        transport.post = post
        summary = kiosk_a.sync()
        assert summary.complete and summary.repaired == 0
        assert transport.paths == ["/sync/push", "/sync/pull", "/sync/digest", "/sync/pull", "/sync/digest"]
        assert _statuses(kiosk_a) == _statuses(server)


def test_equal_data_has_equal_digests_and_one_change_touches_one_bucket(tmp_path):
    with school_with_kiosks(tmp_path, SCHOOL, ("a",)) as (_clock, server, kiosk):
        with server.run():
            theirs = digest.bucket_digests()
        with kiosk.run():
            assert digest.bucket_digests() == theirs
            with write_transaction():
                Copy.update(status="damaged").where(Copy.code == "TN-0002").execute()
            assert digest.differing(digest.bucket_digests(), theirs) == [digest.bucket_of("TN-0002")]


# ---------------------------------------------------------------- the checks themselves, fuzzed

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                    max_leaves=12)
PUSH_KEYS = st.sampled_from(["last_seq", "results", "stopped", "seq", "outcome", "reason", "conflicts"])
PULL_KEYS = st.sampled_from(["cursor", "reset", "more", "records", "seq", "kind", "key", "op", "type", "payload",
                             "total", "conflicts_open", "change_seq", "moved", "differs", "buckets"])


def _shaped(keys):
    return st.recursive(JSON, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=6),
                        max_leaves=16)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(push=_shaped(PUSH_KEYS), pull=_shaped(PULL_KEYS))
def test_any_reply_is_believed_or_refused_never_a_crash(push, pull):
    for check, reply in ((lambda r: check_push_reply(r, [1, 2]), push), (check_pull_reply, pull),
                         (lambda r: check_digest_reply(r, digest.BUCKETS), pull)):
        try:
            check(reply)
        except BadReply:
            pass


def test_a_digest_request_that_is_malformed_is_refused_with_a_reason(tmp_path):
    from sync.protocol import encode_body, signed_headers

    with school_with_kiosks(tmp_path, SCHOOL, ("a",)) as (clock, server, kiosk):
        client = kiosk.client
        for document in ({"cursor": 5, "buckets": []}, {"cursor": None, "buckets": ["x"] * 3},
                         {"cursor": None, "buckets": ["x"] * digest.BUCKETS, "skip": [999]},
                         {"cursor": None, "buckets": [1] * digest.BUCKETS}):
            body = encode_body(document)
            headers = signed_headers(client.device, client.secret, "POST", "/sync/digest", body,
                                     int(clock().timestamp()))
            status, reply = server.transport.post("/sync/digest", body, headers)
            assert status == 400 and reply["error"]["code"] == "malformed_body", (document, reply)


def test_a_pull_after_the_lock_holder_died_is_not_blocked(tmp_path):
    """flock belongs to the open file: a sync killed mid-exchange leaves nothing locked."""
    import subprocess
    import sys

    with school_with_kiosks(tmp_path, SCHOOL, ("a",)) as (_clock, _server, kiosk):
        with kiosk.run():
            from sync.client import lock_path

            path = lock_path()
        holder = subprocess.Popen([sys.executable, "-c", (
            "import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT);"
            "fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); time.sleep(60)"), str(path)],
            stdout=subprocess.PIPE, text=True)
        assert holder.stdout.readline().strip() == "held"
        from sync.client import SyncAlreadyRunning

        with pytest.raises(SyncAlreadyRunning):
            with kiosk.run():
                kiosk.client.sync(lock_wait=0.3)
        holder.kill()
        holder.wait(10)
        holder.stdout.close()
        assert kiosk.sync().complete


def test_any_digest_request_is_answered_or_refused_never_a_5xx(tmp_path):
    from sync.protocol import encode_body, signed_headers

    with school_with_kiosks(tmp_path, SCHOOL, ("a",)) as (clock, server, kiosk):
        client = kiosk.client
        with kiosk.run():
            cursor = get_setting(kiosk_state.CURSOR)
        hexes = st.text("0123456789abcdef", min_size=16, max_size=16)
        documents = st.fixed_dictionaries({}, optional={
            "cursor": st.none() | st.just(cursor) | JSON,
            "buckets": st.lists(hexes, min_size=digest.BUCKETS, max_size=digest.BUCKETS) | JSON,
            "skip": st.lists(st.integers(-2, digest.BUCKETS + 2), max_size=5) | JSON,
        })

        @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
        @given(document=documents)
        def answered(document):
            body = encode_body(document)
            headers = signed_headers(client.device, client.secret, "POST", "/sync/digest", body,
                                     int(clock().timestamp()))
            status, reply = server.transport.post("/sync/digest", body, headers)
            assert status in (200, 400), (document, status, reply)
            if status == 200:
                check_digest_reply(reply, digest.BUCKETS)

        answered()
