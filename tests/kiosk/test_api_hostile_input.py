"""Whatever is sent, the API answers JSON: a 4xx error or a correct answer — never a 500, never HTML."""

from __future__ import annotations

import json

import pytest

from tests.kiosk.conftest import counts

ENDPOINTS = {"/api/patron": ("patron",), "/api/checkout": ("patron", "item"),
             "/api/checkin": ("item",), "/api/renew": ("patron", "item"), "/api/search": ("q",)}


def assert_json_error(answer, status: int | None = None, code: str | None = None) -> dict:
    assert answer.status_code != 500
    assert 400 <= answer.status_code < 500, answer.get_data(as_text=True)[:300]
    if status:
        assert answer.status_code == status, answer.get_data(as_text=True)[:300]
    assert answer.mimetype == "application/json"
    error = answer.get_json()["error"]
    assert isinstance(error["code"], str) and isinstance(error["message"], str) and error["message"]
    if code:
        assert error["code"] == code
    assert "Traceback" not in answer.get_data(as_text=True)
    return error


def good_body(path: str) -> dict:
    return {name: {"patron": "HS001", "item": "TN-0001", "q": "de men"}[name] for name in ENDPOINTS[path]}


RAW_BODIES = {
    "not json": (b"patron=HS001&item=TN-0001", "invalid_json"),
    "truncated": (b'{"patron": "HS001", "item": "TN-', "invalid_json"),
    "empty": (b"", "invalid_json"),
    "invalid utf-8": (b'{"patron": "\xff\xfe", "item": "x"}', "invalid_json"),
    "deep nesting": (b"[" * 6_000 + b"]" * 6_000, "invalid_json"),
    "deep nesting, unclosed": (b'{"a":' * 3_000, "invalid_json"),
    "NaN": (b'{"patron": NaN, "item": NaN}', "field_must_be_text"),
    "array": (b'["HS001", "TN-0001"]', "expected_object"),
    "string": (b'"HS001"', "expected_object"),
    "number": (b"42", "expected_object"),
    "null": (b"null", "expected_object"),
}


@pytest.mark.parametrize("path", ENDPOINTS)
@pytest.mark.parametrize("case", RAW_BODIES)
def test_malformed_bodies(client, school, path, case):
    raw, code = RAW_BODIES[case]
    before = counts()
    assert_json_error(client.post(path, data=raw, content_type="application/json"), 400, code)
    assert counts() == before


WRONG_VALUES = [None, 42, 4.2, True, [], ["HS001"], {}, {"code": "HS001"}, {"$gt": ""}]


@pytest.mark.parametrize("path", ENDPOINTS)
@pytest.mark.parametrize("value", WRONG_VALUES, ids=repr)
def test_wrong_types_in_every_field(client, school, path, value):
    for field in ENDPOINTS[path]:
        body = {**good_body(path), field: value}
        error = assert_json_error(client.post(path, json=body), 400, "field_must_be_text")
        assert field in error["message"]


@pytest.mark.parametrize("path", ENDPOINTS)
def test_missing_fields(client, school, path):
    for field in ENDPOINTS[path]:
        body = {k: v for k, v in good_body(path).items() if k != field}
        assert_json_error(client.post(path, json=body), 400, "field_must_be_text")


def test_extra_fields_are_ignored(client, school):
    answer = client.post("/api/checkout", json={"patron": "HS001", "item": "TN-0001", "admin": True, "x": [1]})
    assert answer.status_code == 200


@pytest.mark.parametrize("path", ENDPOINTS)
def test_huge_bodies_are_413_json(client, school, path):
    big = json.dumps({**good_body(path), "padding": "x" * 100_000})
    assert_json_error(client.post(path, data=big, content_type="application/json"), 413, "too_large")
    huge = b'{"item": "' + b"A" * 3_000_000 + b'"}'
    assert_json_error(client.post(path, data=huge, content_type="application/json"), 413)


def test_a_long_code_inside_the_size_limit_is_refused_politely(client, school):
    assert_json_error(client.post("/api/checkout", json={"patron": "HS001", "item": "A" * 5000}),
                      400, "code_too_long")


@pytest.mark.parametrize("path", [*ENDPOINTS, "/healthz"])
@pytest.mark.parametrize("method", ["get", "put", "delete", "patch"])
def test_wrong_method_is_405_json(client, school, path, method):
    if path == "/healthz" and method == "get":
        return
    assert_json_error(getattr(client, method)(path), 405, "http_405")


@pytest.mark.parametrize("path", ["/api/nothing", "/api/checkout/extra", "/api/", "/api/../etc/passwd"])
def test_unknown_api_paths_are_404_json(client, path):
    assert_json_error(client.get(path), 404, "http_404")
    assert_json_error(client.post(path, json={}), 404)


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", "application/xml", None])
def test_other_content_types_get_an_answer_or_a_json_error(client, school, content_type):
    raw = json.dumps({"patron": "HS001", "item": "TN-0001"})
    answer = client.post("/api/checkout", data=raw, content_type=content_type)
    assert answer.mimetype == "application/json"
    if answer.status_code == 200:
        assert answer.get_json()["loan"]["item"] == "TN-0001"
    else:
        assert_json_error(answer)


STRANGE_CODES = {
    "nul inside": ("HS001\x00", "HS001"),
    "zero width space": ("\u200bHS001", "HS001"),
    "rtl marks": ("\u202eHS001\u202c", "HS001"),
    "bom": ("\ufeffHS001", "HS001"),
    "lone surrogate": ("HS001\ud800", None),  # half a character: refused (400), never stored
    "vietnamese": ("Mã HS đặc biệt", None),
    "emoji": ("📚HS001", None),
    "only emoji": ("🙂", None),
    "only controls": ("\x00\x01\x02", None),
    "sql": ("HS001' OR '1'='1", None),
    "percent format": ("%(count)s%s%d", None),
    "html": ("<script>alert(1)</script>", None),
}


@pytest.mark.parametrize("case", STRANGE_CODES)
@pytest.mark.parametrize("lang", ["vi", "en"])
def test_unicode_and_control_characters_in_codes(client, school, case, lang):
    raw, means = STRANGE_CODES[case]
    answer = client.post(f"/api/checkout?lang={lang}", json={"patron": raw, "item": "TN-0001"})
    if means:
        assert answer.status_code == 200, answer.get_json()
        assert answer.get_json()["patron"]["code"] == means
    else:
        assert_json_error(answer)
    checkin = client.post(f"/api/checkin?lang={lang}", json={"item": raw})
    assert checkin.mimetype == "application/json" and checkin.status_code != 500
    if checkin.status_code == 200:
        assert checkin.get_json()["checkin"]["outcome"] in ("returned", "not_on_loan", "unknown_copy")
    else:
        assert_json_error(checkin)
    for path in ("/api/patron", "/api/renew"):
        answer = client.post(f"{path}?lang={lang}", json={"patron": raw, "item": raw})
        assert answer.mimetype == "application/json" and answer.status_code != 500


def test_escaped_unicode_in_raw_json(client, school):
    raw = b'{"patron": "\\u200bHS001\\u0000", "item": "\\u0054N-0001"}'
    answer = client.post("/api/checkout", data=raw, content_type="application/json")
    assert answer.status_code == 200
    assert answer.get_json()["loan"]["item"] == "TN-0001"


def test_errors_speak_vietnamese_by_default_and_english_on_request(client, school):
    vi = assert_json_error(client.post("/api/checkout", data=b"{", content_type="application/json"))
    en = assert_json_error(client.post("/api/checkout?lang=en", data=b"{", content_type="application/json"))
    assert en["message"] == "The request is not valid JSON."
    assert vi["message"] != en["message"] and "JSON" in vi["message"]
    vi404 = assert_json_error(client.get("/api/nothing"))
    en404 = assert_json_error(client.get("/api/nothing?lang=en"))
    assert en404["message"] == "There is nothing at this address." and vi404["message"] != en404["message"]
