"""What a paired device, a copied file or a slow client can do to a real ``muontra server`` process.

Each test is the regression test of a finding of issue 10 (see docs/security.md, "Server and sync").
"""

from __future__ import annotations

import json
import socket
import sqlite3
import stat
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from kiosk.ledger import get_setting
from kiosk.models import Loan, Patron, PolicyRule, Setting, Title
from sync.protocol import encode_body, signed_headers
from sync.server import service
from sync.server.models import AppliedEvent, Device
from tests.conftest import copy_fact, patron_fact
from tests.sync.conftest import ServerProcess, on_server, seed_server

POLICY = [{"patron_kind": "*", "category": "*", "max_loans": 3, "loan_days": 14}]


def http(url: str, body: bytes, headers: dict[str, str], timeout: float = 30) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        raw = error.read()
        try:
            return error.code, json.loads(raw or b"{}")
        except ValueError:
            return error.code, {"raw": raw[:200].decode(errors="replace")}


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def new_code(server: ServerProcess, name: str, role: str) -> str:
    return on_server(server, lambda: service.add_device(name, utc_now(), role))


def pair(server: ServerProcess, code: str, device: str) -> tuple[int, dict[str, Any]]:
    return http(server.url + "/sync/pair", json.dumps({"code": code, "device": device}).encode(),
                {"Content-Type": "application/json"})


class Device_:
    """A paired device speaking the wire protocol itself, so a test can send what a kiosk never would."""

    def __init__(self, server: ServerProcess, role: str, name: str | None = None) -> None:
        self.server, self.id, self.seq = server, f"kiosk-{uuid.uuid4().hex[:8]}", 0
        status, reply = pair(server, new_code(server, name or self.id, role), self.id)
        assert status == 200, reply
        self.secret = reply["secret"]

    def post(self, path: str, document: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        body = encode_body(document)
        headers = signed_headers(self.id, self.secret, "POST", path, body, int(time.time()))
        return http(self.server.url + path, body, {**headers, "Content-Type": "application/octet-stream"})

    def push(self, *facts: tuple[str, dict[str, Any]]) -> tuple[int, dict[str, Any]]:
        events = []
        for kind, payload in facts:
            self.seq += 1
            events.append({"seq": self.seq, "uuid": str(uuid.uuid4()), "type": kind, "payload": payload,
                           "device_time": utc_now().isoformat()})
        return self.post("/sync/push", {"events": events, "newest_seq": self.seq})

    def outcomes(self, *facts: tuple[str, dict[str, Any]]) -> list[tuple[str, str]]:
        status, reply = self.push(*facts)
        assert status == 200, reply
        assert reply["last_seq"] == self.seq  # every fact processed: the kiosk's outbox moves on
        return [(result["outcome"], result["reason"]) for result in reply["results"]]


def checkout(item: str, patron: str, device: str, loan: str | None = None) -> tuple[str, dict[str, Any]]:
    now = utc_now()
    return "loan.checkout", {"loan": loan or str(uuid.uuid4()), "item": item, "patron": patron,
                             "at": now.isoformat(), "due": (now + timedelta(days=7)).date().isoformat(),
                             "location": "main", "device": device}


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[ServerProcess]:
    data = tmp_path_factory.mktemp("trust-server")
    seed_server(data, [
        ("policy.set", {"rules": POLICY}),
        *[patron_fact(f"HS{n}", f"Học sinh {n}") for n in range(1, 6)],
        *[copy_fact(f"TN-{n:04d}", f"Sách {n}") for n in range(1, 30)],
    ])
    process = ServerProcess(data, workers=2).start()
    yield process
    process.stop()


def loan_of(server: ServerProcess, uuid_: str) -> Loan | None:
    return on_server(server, lambda: Loan.get_or_none(Loan.uuid == uuid_))


# ---------------------------------------------------------------- who a fact is from


def test_a_fact_is_the_signing_devices_whatever_its_payload_says(server):
    kiosk, other = Device_(server, "kiosk"), Device_(server, "kiosk")
    loan = str(uuid.uuid4())
    assert kiosk.outcomes(checkout("TN-0001", "HS1", device=other.id, loan=loan)) == [("applied", "")]
    assert loan_of(server, loan).checkout_device == kiosk.id
    stored = on_server(server, lambda: AppliedEvent.get(AppliedEvent.device == kiosk.id).payload)
    assert stored["device"] == kiosk.id


# ---------------------------------------------------------------- roles


def test_a_self_check_kiosk_may_not_change_the_policy_readers_links_or_books(server):
    kiosk = Device_(server, "kiosk")
    results = kiosk.outcomes(
        ("policy.set", {"rules": [{"patron_kind": "*", "category": "*", "max_loans": 200, "loan_days": 365}]}),
        ("patron.upsert", {"code": "HS2", "kind": "helper"}),
        ("setting.set", {"key": "class_links",
                         "value": {"chosen-by-the-kiosk-abcdef": {"class": "6A1", "created": "2026-03-02T01:00:00"}}}),
        ("catalog.upsert", {"item": "TN-0002", "title": "Renamed by a kiosk"}),
        checkout("TN-0003", "HS3", kiosk.id),  # and lending goes on in the same batch
    )
    assert [outcome for outcome, _reason in results] == ["rejected"] * 4 + ["applied"]
    assert all("Self-check kiosk" in reason for _outcome, reason in results[:4])
    assert on_server(server, lambda: [(r.max_loans, r.loan_days) for r in PolicyRule.select()]) == [(3, 14)]
    assert on_server(server, lambda: Patron.get(Patron.code == "HS2").kind) == "student"
    assert on_server(server, lambda: get_setting("class_links")) is None
    assert on_server(server, lambda: Title.select().where(Title.title == "Renamed by a kiosk").count()) == 0


def test_a_librarian_desk_may_but_only_with_values_that_mean_something(server):
    desk = Device_(server, "desk")
    results = desk.outcomes(
        ("policy.set", {"rules": [{"patron_kind": "*", "category": "*", "max_loans": 999, "loan_days": 365}]}),
        ("setting.set", {"key": "term_ends", "value": ["junk"]}),
        ("setting.set", {"key": "year_end", "value": "tomorrow"}),
        ("setting.set", {"key": "closed_weekdays", "value": [0, 1, 2, 3, 4, 5, 6]}),
        ("calendar.set", {"closed_weekdays": ["x"], "term_ends": [], "year_end": None, "closed_days": []}),
        ("setting.set", {"key": "class_links", "value": {"abc": {"class": "6A1", "created": "2026-03-02T01:00:00"}}}),
        ("setting.set", {"key": "school_name", "value": "Trường THCS Thử"}),
    )
    assert [outcome for outcome, _reason in results] == ["rejected"] * 6 + ["applied"]
    assert all(reason.startswith("invalid: ") for _outcome, reason in results[:6])
    assert on_server(server, lambda: [(r.max_loans, r.loan_days) for r in PolicyRule.select()]) == [(3, 14)]
    stored = on_server(server, lambda: {row.key: row.value for row in Setting.select()})
    assert "term_ends" not in stored and "year_end" not in stored and "class_links" not in stored
    assert stored["school_name"] == "Trường THCS Thử"


def test_a_15_mb_title_is_refused_and_never_stored(server):
    desk = Device_(server, "desk")
    results = desk.outcomes(("catalog.upsert", {"item": "TN-9001", "title": "x" * 15_000_000}),
                            ("catalog.upsert", {"item": "TN-9002", "title": "Sách thật"}))
    assert results[0][0] == "rejected" and results[0][1].startswith("invalid: title: longer than")
    assert results[1] == ("applied", "")
    stored = on_server(server, lambda: [len(json.dumps(row.payload)) for row in
                                        AppliedEvent.select().where(AppliedEvent.device == desk.id)])
    assert max(stored) < 1000
    assert on_server(server, lambda: Title.select().where(Title.title.startswith("xxxx")).count()) == 0


def test_a_malformed_event_is_refused_not_busy_forever(server):
    """300,000 copies in one intake met SQLite's bound-variable limit (250,000 in Debian's build;
    32,766 in others): an OperationalError, so 503 busy on every retry and a kiosk stuck for good."""
    desk = Device_(server, "desk")
    items = [f"Z{n}" for n in range(300_000)]
    results = desk.outcomes(("intake.receive", {"title": "Sách", "items": items}), checkout("TN-0004", "HS4", desk.id))
    assert results[0][0] == "rejected" and "items" in results[0][1]
    assert results[1] == ("applied", "")


# ---------------------------------------------------------------- pairing


def test_a_new_code_cannot_take_over_or_bring_back_a_known_device(server):
    victim = Device_(server, "desk")
    status, reply = pair(server, new_code(server, "rogue", "desk"), victim.id)
    assert status == 409 and reply["error"]["code"] == "device_taken"
    assert victim.outcomes(checkout("TN-0005", "HS5", victim.id)) == [("applied", "")]  # its key still works

    on_server(server, lambda: service.revoke_device(victim.id))
    status, reply = pair(server, new_code(server, "back again", "desk"), victim.id)
    assert status == 409 and "secret" not in reply
    assert on_server(server, lambda: Device.get_by_id(victim.id).revoked)
    assert victim.push(checkout("TN-0006", "HS5", victim.id))[0] == 401


def test_pairing_again_is_the_librarians_and_revokes_the_old_key_at_once(server):
    kiosk = Device_(server, "helper")
    _device, code = on_server(server, lambda: service.repair_device(kiosk.id, utc_now()))
    assert kiosk.push(checkout("TN-0007", "HS1", kiosk.id))[0] == 401  # the old key, e.g. on a stolen tablet
    kiosk.seq -= 1
    assert pair(server, code, "kiosk-someone-else")[0] == 403  # the code is for that device only
    status, reply = pair(server, code, kiosk.id)
    assert status == 200 and reply["role"] == "helper"
    kiosk.secret = reply["secret"]
    assert kiosk.outcomes(checkout("TN-0007", "HS1", kiosk.id)) == [("applied", "")]
    revoked = on_server(server, lambda: service.revoke_device(kiosk.id))
    with pytest.raises(service.DeviceRevoked):
        on_server(server, lambda: service.repair_device(revoked.id, utc_now()))


# ---------------------------------------------------------------- secrets and files


def _forged_cookie(secret: str) -> str:
    from flask import Flask
    from flask.sessions import SecureCookieSessionInterface

    app = Flask("forger")
    app.secret_key = secret
    until = (utc_now() + timedelta(minutes=30)).isoformat()
    return SecureCookieSessionInterface().get_signing_serializer(app).dumps({"server_admin_until": until})


def test_a_copy_of_the_database_alone_cannot_sign_a_librarians_cookie(server, tmp_path):
    """Whatever text the copied database holds, none of it signs a cookie the server accepts."""
    copy = tmp_path / "stolen.sqlite3"
    source = sqlite3.connect(server.data / "server.sqlite3")
    target = sqlite3.connect(copy)
    source.backup(target)
    source.close()
    candidates = {value for (value,) in target.execute("SELECT value FROM setting")}
    target.close()
    texts = {json.loads(value) for value in candidates if isinstance(json.loads(value), str)}
    assert texts  # the copy does hold settings (school name…): the attacker has something to try
    for text in texts:
        request = urllib.request.Request(server.url + "/devices",
                                         headers={"Cookie": f"session={_forged_cookie(text)}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.url.split("?")[0].endswith("/login"), text  # sent to the PIN page


def _private(path: Path) -> bool:
    return stat.S_IMODE(path.stat().st_mode) & 0o077 == 0


def test_the_servers_database_journal_and_key_are_readable_by_their_owner_only(server):
    reader = sqlite3.connect(server.data / "server.sqlite3")  # while open, the -wal and -shm files exist
    try:
        reader.execute("SELECT count(*) FROM device").fetchone()
        names = ("server.sqlite3", "server.sqlite3-wal", "server.sqlite3-shm", "server.key")
        files = [server.data / name for name in names]
        assert all(path.exists() and _private(path) for path in files), [oct(p.stat().st_mode) for p in files]
    finally:
        reader.close()


def test_files_made_world_readable_by_an_older_version_are_closed_on_start(tmp_path):
    from kiosk.db import connect
    from kiosk.migrations import backup_sqlite

    path = tmp_path / "old.sqlite3"
    sqlite3.connect(path).execute("CREATE TABLE t (x)").connection.close()
    path.chmod(0o644)
    database = connect(path)
    database.connect()
    assert _private(path)
    backup = backup_sqlite(database)
    database.close()
    assert backup is not None and _private(backup)


def test_the_kiosks_secret_lives_in_a_private_file_not_in_its_database(server, tmp_path):
    from kiosk.db import db
    from kiosk.store import open_store
    from sync import kiosk_state
    from sync.client import pair as pair_kiosk

    previous = db.obj
    database = open_store(tmp_path / "kiosk", upgrade=True)
    try:
        device = get_setting("device_id")
        paired = pair_kiosk(server.url, new_code(server, "Bàn", "kiosk"), device)
        row = get_setting(kiosk_state.PAIRING)
        assert "secret" not in row and paired.secret not in json.dumps(row)
        key = tmp_path / "kiosk" / kiosk_state.SECRET_FILENAME
        assert key.read_text() == paired.secret and _private(key) and _private(tmp_path / "kiosk" / "muontra.sqlite3")
        assert kiosk_state.pairing() == paired

        # Paired by an older version: the secret in the row moves to the file on first use.
        with database.atomic():
            kiosk_state.put_setting(kiosk_state.PAIRING, {**row, "secret": "old-secret"})
        key.unlink()
        assert kiosk_state.pairing().secret == "old-secret"
        assert "secret" not in get_setting(kiosk_state.PAIRING) and key.read_text() == "old-secret"
    finally:
        database.close()
        if previous is not None:
            db.initialize(previous)


# ---------------------------------------------------------------- slow clients


class SlowHeaders(threading.Thread):
    """A client that opens a request and sends its headers one byte every half second, for ever."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.stop = threading.Event()

    def run(self) -> None:
        try:
            self.sock.sendall(b"POST /sync/push HTTP/1.1\r\nHost: x\r\n")
            while not self.stop.wait(0.5):
                self.sock.sendall(b"X")
        except OSError:
            pass

    def close(self) -> None:
        self.stop.set()
        self.sock.close()


def test_slow_clients_do_not_stall_the_server(server):
    """Two workers once meant two slow sockets stalled every kiosk; four now leave it answering."""
    desk = Device_(server, "desk")
    slow = [SlowHeaders(server.port) for _ in range(4)]
    for client in slow:
        client.start()
    try:
        time.sleep(1.5)  # every slow socket is accepted and sending
        with urllib.request.urlopen(server.url + "/healthz", timeout=10) as response:
            assert response.status == 200
        assert desk.outcomes(checkout("TN-0010", "HS2", desk.id)) == [("applied", "")]
    finally:
        for client in slow:
            client.close()


def test_the_docs_say_where_the_server_listens():
    """The address and port ``muontra server`` binds by default are the ones docs/server.md gives."""
    from sync.cli import server as server_command

    defaults = {param.name: param.default for param in server_command.params}
    docs = (Path(__file__).resolve().parents[2] / "docs" / "server.md").read_text()
    assert f"`{defaults['host']}:{defaults['port']}`" in docs


def test_every_test_docs_security_names_exists():
    """A promise in docs/security.md links to its test: the test must be there (and keep its name)."""
    import re

    root = Path(__file__).resolve().parents[2]
    named = set(re.findall(r"`(test_\w+)`", (root / "docs" / "security.md").read_text(encoding="utf-8")))
    defined = set()
    for path in (root / "tests").rglob("test_*.py"):
        defined |= set(re.findall(r"^def (test_\w+)", path.read_text(encoding="utf-8"), re.MULTILINE))
    assert named and named <= defined, sorted(named - defined)
