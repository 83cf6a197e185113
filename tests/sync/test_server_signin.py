"""The librarian's sign-in on the server (docs/security.md): per-client lock-out against a real
gunicorn process, no PIN hint for anonymous visitors, sessions that logout ends, safe redirects."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import requests

from tests.conftest import FakeClock, subprocess_env
from tests.kiosk.test_signin import browser_at
from tests.sync.conftest import ServerHandle, ServerProcess, seed_server, utc

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def server_login(browser: requests.Session, url: str, pin: str, next_path: str = "") -> requests.Response:
    token = CSRF.search(browser.get(url + "/login", timeout=10).text).group(1)
    return browser.post(url + "/login" + (f"?next={next_path}" if next_path else ""),
                        data={"pin": pin, "csrf_token": token}, allow_redirects=False, timeout=10)


@pytest.mark.slow
def test_server_lockout_is_per_client_and_the_login_page_gives_no_hint(tmp_path):
    data = tmp_path / "server"
    seed_server(data, [])
    server = ServerProcess(data).start()
    try:
        anonymous = requests.get(server.url + "/login?lang=en", timeout=10)
        assert "1234" not in anonymous.text and "default" not in anonymous.text.lower()
        assert "frame-ancestors 'none'" in anonymous.headers["Content-Security-Policy"]
        guesser, librarian = browser_at("127.0.0.2"), browser_at("127.0.0.1")
        codes = [server_login(guesser, server.url, "000000").status_code for _ in range(5)]
        assert codes == [401, 401, 401, 401, 429]
        assert server_login(guesser, server.url, "1234").status_code == 429
        answer = server_login(librarian, server.url, "1234")
        assert answer.status_code == 302 and answer.headers["Location"].endswith("/devices")
        assert "SameSite=Lax" in answer.headers["Set-Cookie"]
        devices = librarian.get(server.url + "/devices?lang=en", timeout=10).text
        assert "set a longer one with: muontra server set-pin" in devices  # now, to the librarian only
    finally:
        server.stop()


def form_login(web, pin: str = "1234", query: str = ""):
    token = CSRF.search(web.get("/login").get_data(as_text=True)).group(1)
    return web.post("/login", query_string=query, data={"pin": pin, "csrf_token": token})


def test_server_logout_ends_a_copied_session_and_set_pin_ends_them_all(tmp_path):
    server = ServerHandle(tmp_path / "server", FakeClock(utc(2026, 3, 2, 2, 0)))
    with server.run():
        web = server.app.test_client()
        assert form_login(web).status_code == 302
        copied = web.get_cookie("session").value
        assert web.get("/devices").status_code == 200
        web.post("/logout", data={"csrf_token": CSRF.search(web.get("/devices").get_data(as_text=True)).group(1)})
        thief = server.app.test_client()
        thief.set_cookie("session", copied)
        assert thief.get("/devices").status_code == 302
        assert form_login(thief).status_code == 302
    result = subprocess.run([sys.executable, "-m", "kiosk", "server", "set-pin", "--data", str(tmp_path / "server"),
                             "--pin", "97531246"], env=subprocess_env(), capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    with server.run():
        assert thief.get("/devices").status_code == 302


# Raw query strings, as an attacker's link would carry them (%09 arrives as a tab, which browsers drop).
@pytest.mark.parametrize("query", ["next=//evil.example/", "next=/%09/evil.example", "next=/%5Cevil.example",
                                   "next=https://evil.example", "next=/%0a/evil.example", "next=%5C%5Cevil.example",
                                   "next=/%0d%0a/evil.example", "next=%2F%2Fevil.example"])
def test_server_login_never_redirects_off_site(tmp_path, query):
    server = ServerHandle(tmp_path / "server", FakeClock(utc(2026, 3, 2, 2, 0)))
    with server.run():
        answer = form_login(server.app.test_client(), query=query)
    assert answer.status_code == 302 and answer.headers["Location"] == "/devices"
