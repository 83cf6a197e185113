"""Hypothesis against a real ``muontra server``: any body to /sync/push and /sync/pair, signed or not,
gets an answer below 500 (a refusal with a reason, or the facts' outcomes), never a server error."""

from __future__ import annotations

import gzip
import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sync import schema
from sync.protocol import signed_headers
from sync.server import service
from tests.conftest import copy_fact, patron_fact
from tests.sync.conftest import ServerProcess, on_server, seed_server
from tests.sync.test_trust import pair, utc_now

pytestmark = pytest.mark.slow

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                         HealthCheck.too_slow])

# Text an attacker would try: lone surrogates, NUL, huge strings, right-to-left marks, codes that exist.
nasty_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["\ud800", "a\x00b", "x" * 70_000, "TN-0001", "HS1", "main", "*", "", "\u202e", "2026-02-30",
                     "2026-03-02T01:00:00", "9" * 400]),
)
json_value = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | st.floats() | nasty_text,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(nasty_text, inner, max_size=5),
    max_leaves=25,
)


AT, DAY = "2026-03-02T01:00:00.000000", "2026-03-09"
WHO = {"at": AT, "by": "HS1", "device": "kiosk-x"}
# One valid fact of each kind: the fuzz changes, adds or drops one field, which reaches the appliers.
EXAMPLES: dict[str, dict] = {
    "loan.checkout": {"loan": "L1", "item": "TN-0001", "patron": "HS1", "at": AT, "due": DAY, "location": "main",
                      "device": "kiosk-x"},
    "loan.checkin": {"item": "TN-0001", "at": AT, "device": "kiosk-x", "loan": None, "status": None},
    "loan.renew": {"loan": "L1", "item": "TN-0001", "due": DAY, "renewals": 1},
    "copy.status": {"item": "TN-0001", "status": "lost", "note": ""},
    "patron.upsert": {"code": "HS2", "name": "Học sinh 2", "class_name": "6A1", "kind": "student",
                      "school_year": "2025-2026", "active": True},
    "catalog.upsert": {"item": "TN-0002", "title": "Sách 2", "isbn": None, "author": "", "publisher": "",
                       "year": 2020, "category": "TN", "classification": "", "location": "main", "shelf": "A"},
    "policy.set": {"rules": [{"patron_kind": "*", "category": "*", "max_loans": 3, "loan_days": 14,
                              "max_renewals": 1, "due_mode": "days", "loanable": True}]},
    "calendar.set": {"closed_weekdays": [5, 6], "closed_days": [{"day": DAY, "reason": "Tết"}],
                     "term_ends": ["2026-05-20"], "year_end": "2026-05-29"},
    "setting.set": {"key": "term_ends", "value": ["2026-05-20"]},
    "copy.move": {"item": "TN-0001", "location": "lop-6A1", "shelf": "", "reason": "rotation", **WHO},
    "rotation.open": {"batch": "B1", "location": "lop-6A1", "class_name": "6A1", "teacher": "GV1", "helpers": ["HS1"],
                      "due": DAY, **WHO},
    "rotation.add": {"batch": "B1", "item": "TN-0001", "home_location": "main", "home_shelf": "", **WHO},
    "rotation.return": {"batch": "B1", "item": "TN-0001", "loan_closed": None, **WHO},
    "rotation.unreturn": {"batch": "B1", "item": "TN-0001", **WHO},
    "rotation.close": {"batch": "B1", **WHO},
    "stocktake.open": {"session": "S1", "location": None, "shelf_from": "", "shelf_to": "", **WHO},
    "stocktake.scan": {"session": "S1", "scan": "C1", "item": "TN-0001", "status_seen": "available", **WHO},
    "stocktake.finish": {"session": "S1", "missing": ["TN-0002"], "result": {"missing": ["TN-0002"]},
                         "note": "stock-take", **WHO},
    "intake.receive": {"title": "Sách mới", "isbn": None, "items": ["TN-0100"], "location": "main", "shelf": "",
                       "price": None, "added_on": DAY, "source": "purchase", "donor": "", **WHO},
    "loan.override": {"loan": "L1", "item": "TN-0001", "patron": "HS1", "at": AT, "device": "kiosk-x",
                      "refusal": "loan_limit", "reason": "class_work"},
    "loan.settle": {"loan": "L1", "item": "TN-0001", "patron": "HS1", "at": AT, "device": "kiosk-x",
                    "status": "lost", "note": "", "how": "paid", "amount": 50000, "replacement": None},
    "hold.place": {"hold": "H1", "patron": "HS1", "item": "TN-0001", "at": AT, "device": "kiosk-x"},
    "hold.cancel": {"hold": "H1", "at": AT, "by": "kiosk-x"},
}


def _payload_for(kind: str) -> st.SearchStrategy:
    """A valid fact of the kind, or one with a field changed to anything, added or dropped."""
    base = EXAMPLES[kind]
    return st.one_of(
        st.just(base),
        st.tuples(st.sampled_from(sorted(base)) | nasty_text, json_value).map(lambda kv: {**base, kv[0]: kv[1]}),
        st.sampled_from(sorted(base)).map(lambda name: {k: v for k, v in base.items() if k != name}),
        st.dictionaries(st.sampled_from(sorted(schema.FACTS[kind].payload.fields)) | nasty_text, json_value,
                        max_size=4),
    )


events = st.lists(
    st.sampled_from(sorted(schema.FACTS) + ["nonsense"]).flatmap(lambda kind: st.fixed_dictionaries({
        "type": st.just(kind), "payload": _payload_for(kind) if kind in schema.FACTS else json_value,
        "uuid": st.one_of(st.uuids().map(str), nasty_text),
        "device_time": st.one_of(st.just(AT), nasty_text),
    }, optional={"known": json_value | st.integers(min_value=0, max_value=50)})),
    max_size=6,
)


class Signer:
    def __init__(self, server: ServerProcess, role: str) -> None:
        self.server, self.id, self.seq = server, f"kiosk-fuzz-{uuid.uuid4().hex[:6]}", 0
        code = on_server(server, lambda: service.add_device(self.id, utc_now(), role))
        status, reply = pair(server, code, self.id)
        assert status == 200
        self.secret = reply["secret"]

    def post(self, path: str, body: bytes) -> int:
        headers = signed_headers(self.id, self.secret, "POST", path, body, int(time.time()))
        return status_of(self.server.url + path, body, headers)


def status_of(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as error:
        error.read()
        return error.code


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[ServerProcess]:
    data = tmp_path_factory.mktemp("fuzz-server")
    seed_server(data, [patron_fact("HS1", "Học sinh 1"), copy_fact("TN-0001", "Sách 1")])
    process = ServerProcess(data, workers=2).start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def desk(server) -> Signer:
    return Signer(server, "desk")


@pytest.fixture(scope="module")
def kiosk(server) -> Signer:
    return Signer(server, "kiosk")


@FUZZ
@given(batch=events, newest=json_value | st.integers(min_value=0, max_value=100), as_kiosk=st.booleans())
def test_signed_pushes_of_any_facts_never_get_a_server_error(server, desk, kiosk, batch, newest, as_kiosk):
    signer = kiosk if as_kiosk else desk
    numbered = []
    for event in batch:
        signer.seq += 1
        numbered.append({"seq": signer.seq, **event})
    # JSON escapes (ensure_ascii) carry lone surrogates and NULs to the server as they would from an attacker.
    body = gzip.compress(json.dumps({"events": numbered, "newest_seq": newest}).encode())
    status = signer.post("/sync/push", body)
    assert status < 500
    if status != 200:
        signer.seq -= len(numbered)  # refused whole: the same numbers are free for the next batch


@FUZZ
@given(document=json_value, gzipped=st.booleans(), path=st.sampled_from(["/sync/push", "/sync/pull", "/sync/digest"]))
def test_signed_bodies_of_any_shape_never_get_a_server_error(server, desk, document, gzipped, path):
    text = json.dumps(document).encode()
    assert desk.post(path, gzip.compress(text) if gzipped else text) < 500


@FUZZ
@given(body=st.binary(max_size=300) | json_value.map(lambda v: json.dumps(v).encode()),
       headers=st.dictionaries(st.sampled_from(["X-Muontra-Device", "X-Muontra-Time", "X-Muontra-Nonce",
                                                "X-Muontra-Signature", "Content-Type"]),
                               st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=80)))
def test_unsigned_or_badly_signed_requests_never_get_a_server_error(server, body, headers):
    assert status_of(server.url + "/sync/push", body, headers) < 500


@FUZZ
@given(document=st.one_of(
    json_value,
    st.fixed_dictionaries({"code": nasty_text | json_value, "device": nasty_text | json_value}),
))
def test_pairing_with_anything_never_gets_a_server_error(server, document):
    body = json.dumps(document).encode()
    assert status_of(server.url + "/sync/pair", body, {"Content-Type": "application/json"}) < 500


@FUZZ
@given(cursor=nasty_text | st.from_regex(r"v1\.[0-9a-f]{0,12}\.[0-9²]{0,40}(\.s[0-9]{0,30})?", fullmatch=True),
       limit=json_value | st.integers(min_value=-5, max_value=5000))
def test_signed_pulls_with_any_cursor_never_get_a_server_error(server, kiosk, cursor, limit):
    body = gzip.compress(json.dumps({"cursor": cursor, "limit": limit}).encode())
    assert kiosk.post("/sync/pull", body) < 500


def test_the_fuzzs_examples_are_valid_facts():
    """Each mutation starts from a fact the server accepts, so the fuzz reaches past the schema."""
    assert set(EXAMPLES) == set(schema.FACTS)
    for kind, payload in EXAMPLES.items():
        schema.check_fact(kind, payload)
