"""Web hardening on every response of the kiosk and the server (docs/security.md, "Anyone on the
school LAN"): security headers, no open redirect, JSON only as application/json."""

from __future__ import annotations

import re
from urllib.parse import quote, urljoin, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.models import Loan
from kiosk.webkit import safe_next
from tests.conftest import FakeClock
from tests.sync.conftest import ServerHandle, utc

HEADERS = ("Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options", "Referrer-Policy")


def assert_hardened(response) -> None:
    for name in HEADERS:
        assert name in response.headers, (response.request.path, name)
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "'unsafe-inline'" not in csp and "script-src 'self'" in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


KIOSK_PAGES = ["/", "/borrow", "/return", "/admin/login", "/admin/", "/staff/", "/healthz", "/nowhere",
               "/static/css/base.css", "/reset", "/lang/en?next=/borrow", "/class/not-a-token"]


@pytest.mark.parametrize("path", KIOSK_PAGES)
def test_every_kiosk_response_carries_the_security_headers(client, school, path):
    assert_hardened(client.get(path))


@pytest.mark.parametrize("path,body", [("/api/checkout", {"patron": "HS001", "item": "TN-0001"}),
                                       ("/api/patron", {"patron": "NOBODY"}), ("/api/checkin", [])])
def test_api_answers_and_refusals_carry_them_too(client, school, path, body):
    assert_hardened(client.post(path, json=body))


@pytest.mark.parametrize("path", ["/login", "/healthz", "/devices", "/nowhere"])
def test_every_server_response_carries_the_security_headers(tmp_path, path):
    server = ServerHandle(tmp_path / "server", FakeClock(utc(2026, 3, 2, 2, 0)))
    with server.run():
        assert_hardened(server.app.test_client().get(path))


def test_no_nonce_is_reused_and_inline_blocks_carry_it(client, school):
    first, second = client.get("/"), client.get("/")
    nonce = re.search(r"'nonce-([^']+)'", first.headers["Content-Security-Policy"]).group(1)
    assert nonce not in second.headers["Content-Security-Policy"]
    # The only inline scripts are JSON data blocks (never run) or carry the nonce.
    for tag in re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", first.get_data(as_text=True)):
        assert 'type="application/json"' in tag or f'nonce="{nonce}"' in tag, tag
    assert "onclick=" not in first.get_data(as_text=True)


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", "", "application/json-patch+json"])
def test_a_cross_site_form_cannot_lend_a_book(client, school, content_type):
    """A page elsewhere can post text/plain without asking (no CORS preflight): 415, nothing lent."""
    body = '{"patron": "HS001", "item": "TN-0001"}'
    answer = client.post("/api/checkout", data=body, headers={"Content-Type": content_type} if content_type else {})
    assert answer.status_code == 415 and answer.get_json()["error"]["code"] == "not_json"
    assert Loan.select().count() == 0
    assert client.post("/api/checkout", data=body, content_type="application/json; charset=utf-8").status_code == 200


# ---------------------------------------------------------------- no open redirect

def _browser_reads(location: str, base: str = "http://kiosk.local/admin/login") -> str:
    """Where a browser goes for this Location: it drops tabs and newlines and reads "\\" as "/"."""
    cleaned = re.sub(r"[\t\n\r]", "", location).replace("\\", "/")
    return urlsplit(urljoin(base, cleaned)).netloc


TRICKS = ["//evil.example", "/\t/evil.example", "/\\evil.example", "\\\\evil.example", "https://evil.example",
          "/\n/evil.example", " //evil.example", "/%09/evil.example", "http:evil.example", "javascript:alert(1)",
          "/\r\n/evil.example", "\t//evil.example", "/.//evil.example"]


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.sampled_from(TRICKS), st.text(max_size=40),
                 st.builds(lambda a, b: a + b, st.sampled_from(["/", "//", "/\\", "\\", "/\t"]), st.text(max_size=20))))
def test_safe_next_never_leaves_the_site(target):
    chosen = safe_next(target, "/admin/")
    assert _browser_reads(chosen) == "kiosk.local"
    assert chosen == "/admin/" or chosen == target


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(target=st.one_of(st.sampled_from(TRICKS), st.text(max_size=30)))
def test_no_page_redirects_off_site(client, target):
    """The public language switch and the librarian's login, through HTTP with raw query strings."""
    for path in ("/lang/en", "/staff/"):
        answer = client.get(path, query_string="next=" + quote(target, safe=""))
        if answer.status_code in (301, 302, 303, 307, 308):
            assert _browser_reads(answer.headers["Location"], "http://kiosk.local" + path) == "kiosk.local"


@pytest.mark.parametrize("target", TRICKS)
def test_librarian_login_never_redirects_off_site(client, target):
    page = client.get("/admin/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    answer = client.post("/admin/login", query_string="next=" + quote(target, safe=""),
                         data={"pin": "1234", "csrf_token": csrf})
    assert answer.status_code == 302 and answer.headers["Location"] == "/admin/"
