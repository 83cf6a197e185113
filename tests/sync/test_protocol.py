"""Protocol pieces and the server's refusals: signatures, replay, clock window, malformed bodies."""

from __future__ import annotations

import gzip
import json
import uuid
from collections.abc import Iterator

import pytest

from kiosk.errors import PayloadTooLarge
from kiosk.models import Loan
from sync import kiosk_state
from sync.protocol import (
    HEADER_NONCE,
    HEADER_SIGNATURE,
    HEADER_TIME,
    MAX_BATCH_EVENTS,
    Cursor,
    MalformedBody,
    decode_body,
    derive_device_secret,
    encode_body,
    keys_of,
    parse_cursor,
    sign,
    signed_headers,
    validate_events,
)
from sync.server import service
from sync.server.models import AppliedEvent, Device
from tests.conftest import FakeClock, copy_fact, patron_fact
from tests.sync.conftest import BACKENDS, ServerHandle, server_on, utc

MASTER = b"test-master-key"


def test_signature_covers_method_path_time_nonce_and_body():
    base = sign("s3cret", "POST", "/sync/push", "100", "n1", b"body")
    assert base == sign("s3cret", "post", "/sync/push", "100", "n1", b"body")
    variants = [("other", "POST", "/sync/push", "100", "n1", b"body"), ("s3cret", "GET", "/sync/push", "100", "n1", b"body"),
                ("s3cret", "POST", "/sync/pull", "100", "n1", b"body"), ("s3cret", "POST", "/sync/push", "101", "n1", b"body"),
                ("s3cret", "POST", "/sync/push", "100", "n2", b"body"), ("s3cret", "POST", "/sync/push", "100", "n1", b"bodY")]
    assert all(sign(*variant) != base for variant in variants)


def test_device_secrets_are_derived_per_device_and_version():
    assert derive_device_secret(MASTER, "kiosk-1", 1) == derive_device_secret(MASTER, "kiosk-1", 1)
    assert derive_device_secret(MASTER, "kiosk-1", 1) != derive_device_secret(MASTER, "kiosk-1", 2)
    assert derive_device_secret(MASTER, "kiosk-1", 1) != derive_device_secret(MASTER, "kiosk-2", 1)
    assert derive_device_secret(b"other", "kiosk-1", 1) != derive_device_secret(MASTER, "kiosk-1", 1)


def test_body_round_trip_and_bounds():
    document = {"events": [], "note": "Nguyễn Văn An"}
    assert decode_body(encode_body(document)) == document
    with pytest.raises(MalformedBody):
        decode_body(b"not gzip at all")
    with pytest.raises(MalformedBody):
        decode_body(gzip.compress(b"[1, 2]"))
    bomb = gzip.compress(b"{" + b" " * (20 * 1024 * 1024) + b"}")
    with pytest.raises(PayloadTooLarge):
        decode_body(bomb)


def test_events_are_validated():
    good = {"seq": 1, "uuid": "u", "type": "loan.checkin", "payload": {}, "device_time": "2026-03-02T02:00:00"}
    assert validate_events([good]) == [good]
    for bad in ([{**good, "seq": "1"}], [{**good, "seq": 0}], [{**good, "payload": []}], [dict(good, uuid=None)],
                [good, good], [{k: v for k, v in good.items() if k != "type"}], "events"):
        with pytest.raises(MalformedBody):
            validate_events(bad)
    with pytest.raises(PayloadTooLarge):
        validate_events([{**good, "seq": n} for n in range(1, MAX_BATCH_EVENTS + 2)])


def test_cursors():
    assert parse_cursor(Cursor("ab12", 7).encode()) == Cursor("ab12", 7)
    assert parse_cursor(Cursor("ab12", 7, 90).encode()) == Cursor("ab12", 7, 90)
    for junk in (None, "", "v2.ab.1", "v1.ab.x", "v1.ab.1.x5", "garbage"):
        assert parse_cursor(junk) is None


def test_keys_of_facts():
    checkout = {"loan": "L1", "item": "TN-1", "patron": "HS1"}
    assert keys_of("loan.checkout", checkout) == {("loan", "L1"), ("copy", "TN-1"), ("patron", "HS1")}
    assert keys_of("loan.checkin", {"loan": None, "item": "TN-1"}) == {("copy", "TN-1")}
    assert keys_of("patron.upsert", {"code": "HS1"}) == {("patron", "HS1")}
    assert kiosk_state.known_seq(5, [[2, 10], [4, 20], [7, 30]]) == 20
    assert kiosk_state.known_seq(1, [[2, 10]]) == 0


# ---------------------------------------------------------------- the server refuses


@pytest.fixture(params=BACKENDS)
def server(request, tmp_path) -> Iterator[ServerHandle]:
    with server_on(request.param, tmp_path / "server", FakeClock(utc(2026, 3, 2, 2, 0)),
                   [patron_fact("HS001", "Nguyễn Văn An"), copy_fact("TN-0001", "Dế Mèn phiêu lưu ký")]) as handle:
        yield handle


@pytest.fixture
def device(server) -> tuple[str, str]:
    code = server.new_code("desk")
    with server.run():
        reply = service.pair(code, "kiosk-test", MASTER, utc(2026, 3, 2, 2, 0).replace(tzinfo=None))
    return reply["device"], reply["secret"]


def _checkout_body(seq: int = 1) -> bytes:
    return encode_body({"events": [{
        "seq": seq, "uuid": str(uuid.uuid4()), "type": "loan.checkout", "device_time": "2026-03-02T02:00:00",
        "payload": {"loan": f"L{seq}", "item": "TN-0001", "patron": "HS001", "at": "2026-03-02T02:00:00",
                    "due": "2026-03-12", "location": "main", "device": "kiosk-test"}}]})


def _post(server, path, body, headers):
    response = server.transport.post(path, body, headers)
    return response


def _now(server) -> int:
    return int(server.app.config["CLOCK"]().timestamp())


def _nothing_applied(server) -> bool:
    with server.run():
        return AppliedEvent.select().count() == 0 and Loan.select().count() == 0


def test_a_correctly_signed_push_applies(server, device):
    body = _checkout_body()
    status, reply = _post(server, "/sync/push", body, signed_headers(*device, "POST", "/sync/push", body, _now(server)))
    assert status == 200 and reply["last_seq"] == 1 and reply["results"][0]["outcome"] == "applied"


def test_unsigned_wrongly_signed_replayed_expired_and_revoked_are_refused(server, device):
    body = _checkout_body()
    cases = []
    cases.append(_post(server, "/sync/push", body, {}))
    wrong = signed_headers(device[0], "not-the-secret", "POST", "/sync/push", body, _now(server))
    cases.append(_post(server, "/sync/push", body, wrong))
    tampered = signed_headers(*device, "POST", "/sync/push", body, _now(server))
    cases.append(_post(server, "/sync/push", _checkout_body(seq=1) + b"", {**tampered}))  # other uuid: other body
    expired = signed_headers(*device, "POST", "/sync/push", body, _now(server) - 3600)
    cases.append(_post(server, "/sync/push", body, expired))
    unknown = signed_headers("kiosk-nobody", device[1], "POST", "/sync/push", body, _now(server))
    cases.append(_post(server, "/sync/push", body, unknown))
    for status, reply in cases:
        assert status == 401, reply
        assert isinstance(reply["server_time"], float)
    assert cases[3][1]["error"]["code"] == "clock_skew"
    assert _nothing_applied(server)

    good = signed_headers(*device, "POST", "/sync/push", body, _now(server))
    assert _post(server, "/sync/push", body, good)[0] == 200
    replayed = _post(server, "/sync/push", body, good)
    assert replayed[0] == 401 and "replayed" in replayed[1]["error"]["message"]

    with server.run():
        service.revoke_device("desk")
    second = _checkout_body(seq=2)
    status, _reply = _post(server, "/sync/push", second, signed_headers(*device, "POST", "/sync/push", second, _now(server)))
    assert status == 401
    with server.run():
        assert AppliedEvent.select().count() == 1 and Device.get().last_seq == 1


def test_signature_for_one_path_is_refused_on_another(server, device):
    body = encode_body({"cursor": None})
    headers = signed_headers(*device, "POST", "/sync/push", body, _now(server))
    assert _post(server, "/sync/pull", body, headers)[0] == 401


def test_malformed_and_oversized_bodies_get_4xx(server, device):
    def signed(body):
        return _post(server, "/sync/push", body, signed_headers(*device, "POST", "/sync/push", body, _now(server)))

    assert signed(b"plain text")[0] == 400
    assert signed(gzip.compress(b"not json"))[0] == 400
    assert signed(encode_body({"events": "nope"}))[0] == 400
    assert signed(encode_body({"events": [{"seq": "x"}]}))[0] == 400
    assert signed(gzip.compress(json.dumps({"events": []}).encode() + b" " * (17 * 1024 * 1024)))[0] == 413
    huge = b"x" * (3 * 1024 * 1024)
    status, reply = signed(huge)
    assert status == 413 and reply["error"]["code"] == "http_413"
    status, reply = server.transport.post("/sync/pair", b"{", {"Content-Type": "application/json"})
    assert status == 400
    assert _nothing_applied(server)


def test_pairing_code_is_one_time(server):
    code = server.new_code("desk")
    status, reply = server.transport.post("/sync/pair", json.dumps({"code": code, "device": "k1"}).encode(),
                                          {"Content-Type": "application/json"})
    assert status == 200 and reply["secret"] and reply["device"] == "k1"
    status, reply = server.transport.post("/sync/pair", json.dumps({"code": code, "device": "k2"}).encode(),
                                          {"Content-Type": "application/json"})
    assert status == 403 and reply["error"]["code"] == "bad_pairing_code"
    with server.run():
        assert [d.id for d in Device.select()] == ["k1"]


def test_push_gap_stops_and_duplicates_are_acknowledged(server, device):
    def push(*seqs):
        events = []
        for seq in seqs:
            events.append({"seq": seq, "uuid": f"u{seq}", "type": "patron.upsert", "device_time": "2026-03-02T02:00:00",
                           "payload": {"code": f"P{seq}", "name": f"Tên {seq}"}})
        body = encode_body({"events": events})
        return _post(server, "/sync/push", body, signed_headers(*device, "POST", "/sync/push", body, _now(server)))[1]

    reply = push(1, 2, 4)
    assert reply["last_seq"] == 2 and reply["stopped"] == "gap"
    reply = push(2, 3, 4)
    assert reply["last_seq"] == 4
    assert [r.get("duplicate", False) for r in reply["results"]] == [True, False, False]
    with server.run():
        assert AppliedEvent.select().count() == 4


def test_unknown_event_type_is_processed_with_its_reason(server, device):
    body = encode_body({"events": [
        {"seq": 1, "uuid": "x1", "type": "rotation.move", "payload": {"item": "TN-0001"}, "device_time": "t"},
        {"seq": 2, "uuid": "x2", "type": "loan.checkout", "payload": {"item": "TN-0001"}, "device_time": "t"},
        {"seq": 3, "uuid": "x3", "type": "patron.upsert", "payload": {"code": "HS009", "name": "Mới"}, "device_time": "t"},
    ]})
    status, reply = _post(server, "/sync/push", body, signed_headers(*device, "POST", "/sync/push", body, _now(server)))
    assert status == 200 and reply["last_seq"] == 3
    assert [r["outcome"] for r in reply["results"]] == ["rejected", "rejected", "applied"]
    assert "unknown fact kind" in reply["results"][0]["reason"]
    assert reply["results"][1]["reason"] == "invalid: at: is missing"  # the first of the missing fields


def test_header_time_is_checked_as_a_number(server, device):
    body = _checkout_body()
    headers = signed_headers(*device, "POST", "/sync/push", body, _now(server))
    headers[HEADER_TIME] = "soon"
    headers[HEADER_SIGNATURE] = sign(device[1], "POST", "/sync/push", "soon", headers[HEADER_NONCE], body)
    assert _post(server, "/sync/push", body, headers)[0] == 401
