"""Fuzzing the kiosk's JSON API (docs/security.md): any body, any content type, any code, to every route
a student's screen or a LAN page can reach — never a 5xx, always a JSON answer."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROUTES = ["/api/patron", "/api/checkout", "/api/checkin", "/api/renew", "/api/hold", "/api/holds",
          "/api/hold/cancel", "/api/receipt"]
FIELDS = ["patron", "item", "hold", "copies", "lang", "card"]

TEXT = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["HS001", "TN-0001", "9786040000026", "\ud800", "\udfff", "HS001\x00", "‮HS001", "🙂" * 30,
                     "A" * 300, "", " ", "vi", "en", "'; DROP TABLE loan; --", "%(name)s"]),
)
JSON_VALUE = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | TEXT,
                          lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
                          max_leaves=8)
OBJECT = st.dictionaries(st.sampled_from(FIELDS) | TEXT, JSON_VALUE, max_size=5)


def _encode(body) -> bytes:
    # Lone surrogates can't be UTF-8: send them as JSON escapes, as a hostile page would.
    return json.dumps(body, ensure_ascii=True).encode()


BODIES = st.one_of(
    OBJECT.map(_encode),
    JSON_VALUE.map(_encode),
    st.binary(max_size=200),
    st.sampled_from([b"", b"{", b"[" * 5000, b'{"patron": "\\ud800"}', b'{"patron": 1e999}', b"\xff\xfe{}",
                     b'{"patron": "HS001", "item": "TN-0001"}' + b" " * 20_000]),
)
CONTENT_TYPES = st.sampled_from(["application/json", "application/json; charset=utf-8", "text/plain",
                                 "application/x-www-form-urlencoded", "", "application/json; charset=latin-1",
                                 "multipart/form-data; boundary=x"])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(route=st.sampled_from(ROUTES), body=BODIES, content_type=CONTENT_TYPES,
       address=st.sampled_from(["127.0.0.1", "10.0.0.2", "10.0.0.3"]))
def test_any_request_to_the_kiosk_api_gets_a_json_answer_and_never_a_5xx(client, school, route, body, content_type,
                                                                          address):
    headers = {"Content-Type": content_type} if content_type else {}
    answer = client.post(route, data=body, headers=headers, environ_base={"REMOTE_ADDR": address})
    assert answer.status_code < 500, (route, body[:80], answer.get_data(as_text=True)[:300])
    assert answer.mimetype == "application/json"
    if answer.status_code >= 400:
        error = answer.get_json()["error"]
        assert error["code"] and error["message"] and "Traceback" not in error["message"]
