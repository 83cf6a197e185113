"""Pairing from the kiosk's admin page (/admin/sync/pair) with a real server process on loopback.

The librarian types the server's address and the one-time code; every failure is a clear
message in Vietnamese or English on the same page, with what was typed kept and the kiosk
left as it was.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from kiosk.app import create_app
from kiosk.db import db
from sync import kiosk_state
from sync.client import BadServerUrl, NotAServer, ServerUnreachable
from sync.protocol import BadPairingCode
from sync.server import service
from sync.server.models import AppliedEvent
from tests.conftest import copy_fact, free_port, patron_fact
from tests.sync.conftest import ServerProcess, on_server, seed_server

pytestmark = pytest.mark.slow

SCHOOL = [patron_fact("HS001", "Nguyễn Văn An"), patron_fact("HS002", "Trần Thị Bình"),
          copy_fact("TN-0001", "Dế Mèn phiêu lưu ký"), copy_fact("TN-0002", "Đất rừng phương Nam")]


def _start_server(data) -> ServerProcess:
    seed_server(data, SCHOOL)
    return ServerProcess(data).start()


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[ServerProcess]:
    proc = _start_server(tmp_path_factory.mktemp("server"))
    yield proc
    proc.stop()


def new_code(server: ServerProcess, name: str, made_at: datetime | None = None) -> str:
    """What the librarian's "Make a pairing code" does on the server."""
    moment = made_at or datetime.now(UTC).replace(tzinfo=None)
    return on_server(server, lambda: service.add_device(name, moment))


def token(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


class Librarian:
    """The kiosk's admin pages through Flask's test client, with real CSRF tokens and the PIN."""

    def __init__(self, data_dir) -> None:
        self.app = create_app({"DATA_DIR": str(data_dir), "TESTING": True})
        self.web = self.app.test_client()
        login = self.web.get("/admin/login").get_data(as_text=True)
        assert self.web.post("/admin/login", data={"pin": "1234", "csrf_token": token(login)}).status_code == 302

    def pair(self, server_url: str, code: str, lang: str = "vi", **extra: str):
        page = self.web.get("/admin/sync/").get_data(as_text=True)
        return self.web.post(f"/admin/sync/pair?lang={lang}", data={"server": server_url, "code": code,
                                                                    "csrf_token": token(page), **extra})

    def status(self) -> dict:
        return self.web.get("/admin/sync/status").get_json()

    def sync_now(self) -> dict:
        page = self.web.get("/admin/sync/").get_data(as_text=True)
        return self.web.post("/admin/sync/now", headers={"X-CSRFToken": token(page)}).get_json()

    def pairing(self) -> kiosk_state.Pairing | None:
        with self.app.app_context():
            db.connect(reuse_if_open=True)
            try:
                return kiosk_state.pairing()
            finally:
                db.close()


def applied_on(server: ServerProcess, device: str) -> int:
    return on_server(server, lambda: AppliedEvent.select().where(AppliedEvent.device == device).count())


def test_pair_from_the_form_then_sync_now_works(server, data_dir):
    librarian = Librarian(data_dir)
    page = librarian.web.get("/admin/sync/?lang=vi").get_data(as_text=True)
    assert "Ghép nối với máy chủ" in page and 'id="pair-form"' in page and 'id="sync-now"' not in page

    response = librarian.pair(f"  {server.url}/ ", new_code(server, "Bàn thủ thư").lower())
    assert response.status_code == 302
    page = librarian.web.get(response.location).get_data(as_text=True)
    assert f'id="sync-server">{server.url}<' in page and 'id="sync-device-name">Bàn thủ thư<' in page
    assert "Đã ghép nối" in page and 'id="sync-now"' in page

    reply = librarian.sync_now()
    assert reply["summary"]["complete"] and reply["summary"]["received"] == len(SCHOOL)
    response = librarian.web.post("/api/checkout", json={"patron": "HS001", "item": "TN-0001"})
    assert response.status_code == 200
    reply = librarian.sync_now()
    assert reply["summary"]["sent"] == 1 and reply["status"]["waiting"] == 0 and reply["status"]["online"]
    assert applied_on(server, librarian.pairing().device) == 1


class NotMuontra(BaseHTTPRequestHandler):
    """Some other web server at the address typed (a router's page, another program): 200 and HTML."""

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = b"<html><body>Router login</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def other_web_server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), NotMuontra)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _used_code(server: ServerProcess) -> str:
    code = new_code(server, "Lớp 6A1")
    taken = requests.post(server.url + "/sync/pair", json={"code": code, "device": "kiosk-other"}, timeout=10)
    assert taken.status_code == 200
    return code


def _expired_code(server: ServerProcess) -> str:
    made = datetime.now(UTC).replace(tzinfo=None) - timedelta(hours=service.PAIRING_HOURS, minutes=1)
    return new_code(server, "Lớp 6A2", made_at=made)


def _unreachable(server: ServerProcess, other: str):
    address = f"http://127.0.0.1:{free_port()}"  # nothing listens there: the connection is refused
    return address, "ABCD-EFGH", ServerUnreachable(url=address, reason="ConnectionError")


CASES = {  # what the librarian typed, and the refusal it must show: (address, code, error)
    "malformed address": lambda s, o: ("ftp://thu-vien.local", "ABCD-EFGH", BadServerUrl(url="ftp://thu-vien.local")),
    "port is no number": lambda s, o: ("http://127.0.0.1:80a0", "ABCD-EFGH", BadServerUrl(url="http://127.0.0.1:80a0")),
    "server unreachable": _unreachable,
    "wrong code": lambda s, o: (s.url, "ABCD-EFGH", BadPairingCode()),
    "code already used": lambda s, o: (s.url, _used_code(s), BadPairingCode()),
    "code expired": lambda s, o: (s.url, _expired_code(s), BadPairingCode()),
    "another web server": lambda s, o: (o, "ABCD-EFGH", NotAServer(url=o)),
    "a page of the server, not its address": lambda s, o: (s.url + "/devices", "ABCD-EFGH",
                                                           NotAServer(url=s.url + "/devices")),
}


@pytest.mark.parametrize("case", CASES)
def test_each_failure_is_a_clear_message_and_leaves_the_kiosk_unpaired(case, server, other_web_server, data_dir):
    address, code, error = CASES[case](server, other_web_server)
    librarian = Librarian(data_dir)
    messages = {}
    for lang in ("vi", "en"):
        response = librarian.pair(address, code, lang=lang)
        page = response.get_data(as_text=True)
        assert response.status_code == error.http_status and response.status_code in (400, 403, 502), page
        messages[lang] = re.search(r'id="pair-error">([^<]+)<', page).group(1)
        assert messages[lang] == error.message_in(lang)
        assert f'value="{address}"' in page and f'value="{code}"' in page  # nothing typed is lost
    assert messages["vi"] != messages["en"]
    assert "Error" not in messages["vi"]  # words for the librarian, not "(ConnectionError)"
    assert librarian.pairing() is None and not librarian.status()["paired"]


def test_pairing_again_needs_the_tick_and_then_moves_to_the_new_server(server, data_dir, tmp_path):
    librarian = Librarian(data_dir)
    assert librarian.pair(server.url, new_code(server, "Bàn thủ thư")).status_code == 302
    assert librarian.sync_now()["summary"]["complete"]
    assert librarian.web.post("/api/checkout", json={"patron": "HS002", "item": "TN-0002"}).status_code == 200
    assert librarian.sync_now()["summary"]["sent"] == 1
    first = librarian.pairing()

    replacement = _start_server(tmp_path / "new-server")  # the school's server was replaced
    try:
        code = new_code(replacement, "Bàn thủ thư (máy mới)")
        page = librarian.web.get("/admin/sync/?lang=en").get_data(as_text=True)
        assert 'id="pair-again"' in page and 'name="confirm"' in page
        refused = librarian.pair(replacement.url, code, lang="en")
        assert refused.status_code == 400 and "Tick the box" in refused.get_data(as_text=True)
        assert librarian.pairing() == first  # still the old server, and the code is still unused

        assert librarian.pair(replacement.url, code, confirm="yes").status_code == 302
        paired = librarian.pairing()
        assert (paired.server, paired.name, paired.device) == (replacement.url, "Bàn thủ thư (máy mới)", first.device)
        reply = librarian.sync_now()
        # The new server gets this kiosk's whole history, once.
        assert reply["summary"]["complete"] and reply["summary"]["sent"] == 1
        assert applied_on(replacement, first.device) == 1
    finally:
        replacement.stop()


def test_pairing_again_from_the_command_line_asks_first(server, tmp_path):
    from tests.conftest import muontra

    data = str(tmp_path / "kiosk")
    assert muontra("migrate", "--data", data).returncode == 0
    first = muontra("pair", server.url, new_code(server, "Lớp 6A1"), "--data", data)
    assert first.returncode == 0, first.stderr
    declined = muontra("--lang", "en", "pair", server.url, new_code(server, "Lớp 6A2"), "--data", data, input="n\n")
    assert declined.returncode != 0 and "already paired" in declined.stdout and "Lớp 6A1" in declined.stdout
    assert "Nothing changed" in declined.stdout and "Aborted" not in declined.stdout + declined.stderr
    asked_vi = muontra("pair", server.url, new_code(server, "Lớp 6A2"), "--data", data, input="n\n")
    assert asked_vi.returncode != 0 and "Lớp 6A1" in asked_vi.stdout and "already paired" not in asked_vi.stdout
    # On the same server, a new code can't take the kiosk's id: the librarian's "pair again" code can.
    taken = muontra("--lang", "en", "pair", server.url, new_code(server, "Lớp 6A3"), "--data", data, "--yes")
    assert taken.returncode != 0 and "Pair again" in taken.stderr
    with sqlite3.connect(f"{data}/muontra.sqlite3") as kiosk_db:
        device = json.loads(kiosk_db.execute("SELECT value FROM setting WHERE key = 'device_id'").fetchone()[0])
    repair = muontra("server", "pair-again", device, "--data", str(server.data))
    code = re.search(r"[A-Z0-9]{4}-[A-Z0-9]{4}", repair.stdout).group(0)
    again = muontra("--lang", "en", "pair", server.url, code, "--data", data, "--yes")
    assert again.returncode == 0 and "Lớp 6A1" in again.stdout
