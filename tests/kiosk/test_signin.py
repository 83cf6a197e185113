"""The librarian's sign-in on the kiosk (docs/security.md, "Anyone on the school LAN"): lock-out per
client with growing delays, sessions that logout and a PIN change really end, cookie flags, the PIN
change asking for the current PIN, 6-digit PINs, and ``muontra set-pin`` as the way back in."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import requests
from requests.adapters import HTTPAdapter
from werkzeug.security import generate_password_hash

from kiosk.admin_auth import PinLocked
from kiosk.db import db
from kiosk.i18n import translate
from kiosk.ledger import put_setting
from tests.conftest import KioskProcess, muontra

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
SHORT_BANNER = "The librarian PIN has fewer than 6 digits: please choose a longer one."


class FromAddress(HTTPAdapter):
    """Connect from another loopback address (127.0.0.x): a second machine on the LAN, for the kiosk."""

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


def browser_at(address: str) -> requests.Session:
    session = requests.Session()
    session.mount("http://", FromAddress(address))
    return session


def web_login(browser: requests.Session, url: str, pin: str) -> requests.Response:
    token = CSRF.search(browser.get(url + "/admin/login", timeout=10).text).group(1)
    return browser.post(url + "/admin/login", data={"pin": pin, "csrf_token": token}, allow_redirects=False,
                        timeout=10)


def token(client, path: str = "/admin/login") -> str:
    return CSRF.search(client.get(path).get_data(as_text=True)).group(1)


def login(client, pin: str = "1234", address: str = "127.0.0.1"):
    return client.post("/admin/login", data={"pin": pin, "csrf_token": token(client)},
                       environ_base={"REMOTE_ADDR": address})


def test_a_guesser_on_the_lan_locks_only_itself_out(data_dir):
    """Five wrong PINs from one machine; the librarian's right PIN from another still opens the desk."""
    with_pin(data_dir, "135790")
    kiosk = KioskProcess(data_dir).start()
    try:
        guesser, librarian = browser_at("127.0.0.2"), browser_at("127.0.0.1")
        answers = [web_login(guesser, kiosk.url, f"00000{n}").status_code for n in range(5)]
        assert answers == [401, 401, 401, 401, 429]
        assert web_login(guesser, kiosk.url, "135790").status_code == 429  # locked, even with the right PIN
        assert int(web_login(guesser, kiosk.url, "135790").headers["Retry-After"]) > 0
        opened = web_login(librarian, kiosk.url, "135790")
        assert opened.status_code == 302 and opened.headers["Location"] == "/admin/"
        assert librarian.get(kiosk.url + "/admin/", allow_redirects=False, timeout=10).status_code == 200
    finally:
        kiosk.stop()


def with_pin(data_dir, pin: str) -> None:
    result = muontra("set-pin", "--data", str(data_dir), "--pin", pin)
    assert result.returncode == 0, result.stderr


def test_lockouts_grow_for_a_client_that_keeps_guessing(app, client, school, clock):
    minutes, attempts = app.config["PIN_LOCKOUT_MINUTES"], app.config["PIN_MAX_ATTEMPTS"]
    for round_number in range(3):
        for _ in range(attempts):
            answer = login(client, "999999", "10.0.0.66")
        assert answer.status_code == 429
        wait = minutes * 2 ** round_number
        assert PinLocked(minutes=wait).message_in("vi") in answer.get_data(as_text=True)
        clock.set(clock.moment + timedelta(minutes=wait - 1))
        assert login(client, "1234", "10.0.0.66").status_code == 429  # not yet
        clock.set(clock.moment + timedelta(minutes=2))
    assert login(client, "1234", "10.0.0.66").status_code == 302
    # A right PIN clears the record: the next mistake starts again from the first, short wait.
    client.post("/admin/logout", data={"csrf_token": token(client, "/admin/")})
    for _ in range(attempts):
        answer = login(client, "999999", "10.0.0.66")
    assert PinLocked(minutes=minutes).message_in("vi") in answer.get_data(as_text=True)


def test_logout_ends_the_session_even_for_a_copied_cookie(app, school):
    browser = app.test_client()
    assert login(browser).status_code == 302
    stolen = browser.get_cookie("session").value
    browser.post("/admin/logout", data={"csrf_token": token(browser, "/admin/")})
    thief = app.test_client()
    thief.set_cookie("session", stolen)
    answer = thief.get("/admin/")
    assert answer.status_code == 302 and answer.headers["Location"].startswith("/admin/login")
    assert thief.post("/api/checkout", json={"patron": "HS001", "item": "TN-0001"}).status_code == 200  # public


def test_changing_the_pin_ends_every_other_session_and_needs_the_current_pin(app, school):
    desk, tablet = app.test_client(), app.test_client()
    assert login(desk).status_code == 302 and login(tablet).status_code == 302
    refused = desk.post("/admin/pin", data={"current": "4321", "pin": "246801", "again": "246801",
                                            "csrf_token": token(desk, "/admin/pin")})
    assert translate("The current PIN is not right; the PIN was not changed.", "vi") in refused.get_data(as_text=True)
    assert tablet.get("/admin/").status_code == 200  # nothing changed
    changed = desk.post("/admin/pin", data={"current": "1234", "pin": "246801", "again": "246801",
                                            "csrf_token": token(desk, "/admin/pin")})
    assert changed.status_code == 302
    assert desk.get("/admin/").status_code == 200  # the one who changed it stays in
    assert tablet.get("/admin/").status_code == 302  # every other session is over
    assert login(tablet, "1234").status_code == 401 and login(tablet, "246801").status_code == 302


def test_staff_pin_sign_in_counts_per_client_and_ends_with_sign_out(app, school):
    guesser, librarian = app.test_client(), app.test_client()
    for _ in range(app.config["PIN_MAX_ATTEMPTS"]):
        answer = guesser.post("/staff/pin", data={"pin": "000000", "csrf_token": token(guesser, "/staff/")},
                              environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert answer.status_code == 429
    opened = librarian.post("/staff/pin", data={"pin": "1234", "csrf_token": token(librarian, "/staff/")})
    assert opened.status_code == 302
    cookie = librarian.get_cookie("session").value
    librarian.post("/staff/signout", data={"csrf_token": token(librarian, "/staff/menu")})
    replay = app.test_client()
    replay.set_cookie("session", cookie)
    assert replay.get("/admin/").status_code == 302 and replay.get("/staff/menu").status_code == 302


def test_session_cookie_is_samesite_and_secure_behind_tls(app, school):
    plain = app.test_client()
    login(plain)
    cookie = plain.get_cookie("session")
    assert cookie.same_site == "Lax" and not cookie.secure  # plain http on the kiosk itself still works
    tls = app.test_client()
    page = tls.get("/admin/login", base_url="https://kiosk.local")
    answer = tls.post("/admin/login", base_url="https://kiosk.local",
                      data={"pin": "1234", "csrf_token": CSRF.search(page.get_data(as_text=True)).group(1)},
                      headers={"Referer": "https://kiosk.local/admin/login"})
    assert answer.status_code == 302
    set_cookie = answer.headers["Set-Cookie"]
    assert "Secure" in set_cookie and "SameSite=Lax" in set_cookie and "HttpOnly" in set_cookie


def test_new_pins_need_six_digits_but_an_old_four_digit_pin_still_opens_with_a_banner(app, client, circ):
    put_setting("admin_pin_hash", generate_password_hash("2468"))  # set by an earlier version
    db.close()
    assert login(client, "2468").status_code == 302
    assert SHORT_BANNER in client.get("/admin/?lang=en").get_data(as_text=True)
    short = client.post("/admin/pin", data={"current": "2468", "pin": "13579", "again": "13579",
                                            "csrf_token": token(client, "/admin/pin")})
    assert translate("A PIN is 6 to 12 digits.", "vi") in short.get_data(as_text=True)
    client.post("/admin/pin", data={"current": "2468", "pin": "135791", "again": "135791",
                                    "csrf_token": token(client, "/admin/pin")})
    assert SHORT_BANNER not in client.get("/admin/?lang=en").get_data(as_text=True)
    result = muontra("set-pin", "--data", str(app.config["DATA_DIR"]), "--pin", "2468")
    assert result.returncode != 0


def test_set_pin_on_the_machine_is_the_way_back_in(app, client, school):
    """Locked out and PIN forgotten: ``muontra set-pin`` lifts every lock-out and ends every session."""
    other = app.test_client()
    assert login(other).status_code == 302
    for _ in range(app.config["PIN_MAX_ATTEMPTS"]):
        login(client, "000000")
    assert login(client, "1234").status_code == 429
    db.close()
    with_pin(app.config["DATA_DIR"], "864209")
    assert login(client, "864209").status_code == 302
    assert other.get("/admin/").status_code == 302


@pytest.mark.parametrize("page", ["/admin/login", "/staff/"])
def test_no_pin_hint_for_anonymous_visitors(client, page):
    text = client.get(page + "?lang=en").get_data(as_text=True)
    assert "1234" not in text and "default" not in text.lower()


def test_going_idle_ends_the_session_for_every_copy_of_the_cookie(app, school):
    """A librarian who walks away from the kiosk: the idle screen's reset logs her out, and a cookie
    copied from that tablet before opens nothing afterwards."""
    tablet = app.test_client()
    assert login(tablet).status_code == 302
    copied = tablet.get_cookie("session").value
    assert tablet.get("/reset").status_code == 302
    assert tablet.get("/admin/").status_code == 302
    thief = app.test_client()
    thief.set_cookie("session", copied)
    assert thief.get("/admin/").status_code == 302
