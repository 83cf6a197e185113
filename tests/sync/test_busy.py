"""A busy server: a real server process whose SQLite file is write-locked by this test.

The server waits its busy timeout for the lock, then answers 503 with Retry-After and applies
nothing; the kiosk's client backs off and asks again, and gives up with ``server_busy`` (its
outbox untouched) when the lock never goes.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import requests

from kiosk.db import db
from kiosk.i18n import translate
from kiosk.ledger import get_setting, iso
from kiosk.models import Event
from kiosk.services import Circulation
from kiosk.store import open_store
from sync import kiosk_state
from sync.client import HttpTransport, ServerBusy, SyncClient, pair
from sync.protocol import encode_body, signed_headers
from sync.server import service
from sync.server.models import AppliedEvent
from sync.server.store import SERVER_DB_FILENAME
from tests.conftest import copy_fact, patron_fact
from tests.sync.conftest import ServerProcess, on_server, seed_server

pytestmark = pytest.mark.slow

BUSY_TIMEOUT_MS = 300  # the server's SQLite busy timeout here: each locked request answers within a second
BOOKS = ("TN-0001", "TN-0002", "TN-0003")


@pytest.fixture
def server(tmp_path) -> Iterator[ServerProcess]:
    data = tmp_path / "server"
    seed_server(data, [patron_fact("HS001", "Nguyễn Văn An")]
                + [copy_fact(book, f"Truyện {book}") for book in BOOKS])
    proc = ServerProcess(data, env={"MUONTRA_SQLITE_BUSY_TIMEOUT_MS": str(BUSY_TIMEOUT_MS)}).start()
    yield proc
    proc.stop()


@contextlib.contextmanager
def write_locked(server: ServerProcess) -> Iterator[sqlite3.Connection]:
    """Hold the server database's write lock (as a long import or a stuck writer would) until released."""
    connection = sqlite3.connect(server.data / SERVER_DB_FILENAME, isolation_level=None, timeout=10)
    connection.execute("BEGIN EXCLUSIVE")
    try:
        yield connection
    finally:
        release(connection)
        connection.close()


def release(connection: sqlite3.Connection) -> None:
    if connection.in_transaction:
        connection.execute("ROLLBACK")


def applied_on_server(server: ServerProcess, device: str) -> list[tuple[int, str]]:
    return on_server(server, lambda: [(row.seq, row.uuid) for row in AppliedEvent.select()
                                      .where(AppliedEvent.device == device).order_by(AppliedEvent.seq)])


def outbox(device: str) -> list[tuple[int, str]]:
    return [(event.seq, event.uuid) for event in Event.select().where(Event.device == device).order_by(Event.seq)]


BUSY_WAITS = (0.5, 1.0, 2.0, 4.0)


def client_of(server: ServerProcess, paired: kiosk_state.Pairing, sleep=time.sleep) -> SyncClient:
    return SyncClient(HttpTransport(server.url), paired.device, paired.secret, busy_waits=BUSY_WAITS, sleep=sleep)


@pytest.fixture
def kiosk(server, tmp_path) -> Iterator[kiosk_state.Pairing]:
    """A kiosk paired over HTTP, with the catalogue pulled and three loans waiting to be sent.

    Its database stays bound for the length of the test.
    """
    open_store(tmp_path / "kiosk", upgrade=True)
    device = get_setting("device_id")
    code = on_server(server, lambda: service.add_device("Bàn thủ thư", datetime.now(UTC).replace(tzinfo=None)))
    paired = pair(server.url, code, device)
    assert client_of(server, paired).sync().complete  # the catalogue arrives
    circulation = Circulation(device=device)
    for book in BOOKS:
        circulation.checkout("HS001", book)
    assert kiosk_state.waiting_events(device) == len(BOOKS)
    yield paired
    db.close()


def test_a_push_meeting_the_write_lock_gets_503_with_retry_after_and_applies_nothing(server, kiosk):
    events = list(Event.select().where(Event.device == kiosk.device).order_by(Event.seq))
    body = encode_body({"device": kiosk.device, "newest_seq": events[-1].seq, "events": [
        {"seq": e.seq, "uuid": e.uuid, "type": e.type, "payload": e.payload, "device_time": iso(e.device_time)}
        for e in events]})
    before = on_server(server, service.status)
    replies = {}
    with write_locked(server):
        for lang in ("vi", "en"):
            headers = signed_headers(kiosk.device, kiosk.secret, "POST", "/sync/push", body, int(time.time()))
            headers["Content-Type"] = "application/gzip"
            replies[lang] = requests.post(f"{server.url}/sync/push?lang={lang}", data=body, headers=headers,
                                          timeout=30)
    for lang, reply in replies.items():
        assert reply.status_code == 503 and reply.headers["Content-Type"] == "application/json"
        assert int(reply.headers["Retry-After"]) > 0
        error = reply.json()["error"]
        assert error["code"] == "busy"
        assert error["message"] == translate("The server is busy. Please try again shortly.", lang)
    assert replies["vi"].json()["error"]["message"] != replies["en"].json()["error"]["message"]

    after = on_server(server, service.status)
    assert after["events_applied"] == before["events_applied"] and after["loans_open"] == before["loans_open"]
    assert applied_on_server(server, kiosk.device) == []
    # The refused request left nothing half-done: the same events go through once the lock is gone.
    assert client_of(server, kiosk).sync().complete
    assert applied_on_server(server, kiosk.device) == outbox(kiosk.device)


def test_the_kiosk_backs_off_and_finishes_once_the_lock_is_released(server, kiosk):
    waits: list[float] = []
    with write_locked(server) as lock:

        def back_off(seconds: float) -> None:
            waits.append(seconds)
            release(lock)  # the other writer finishes while the kiosk waits

        summary = client_of(server, kiosk, sleep=back_off).sync()
    assert len(waits) == 1 and 0.25 <= waits[0] <= 0.5  # one back-off, the first wait with its jitter
    assert summary.complete and summary.error is None and summary.sent == len(BOOKS)
    assert applied_on_server(server, kiosk.device) == outbox(kiosk.device)  # each event once, in order
    assert on_server(server, service.status)["loans_open"] == len(BOOKS)


def test_a_lock_that_never_goes_ends_the_sync_with_server_busy_and_the_outbox_intact(server, kiosk):
    events_before = outbox(kiosk.device)
    waits: list[float] = []
    with write_locked(server):
        summary = client_of(server, kiosk, sleep=waits.append).sync()
        assert applied_on_server(server, kiosk.device) == []
    assert len(waits) == len(BUSY_WAITS)  # asked again after every back-off, then gave up
    assert not summary.complete and summary.sent == 0 and summary.waiting == len(BOOKS)
    assert summary.error == ServerBusy().message_in("en")
    assert kiosk_state.error_text("en") == summary.error != kiosk_state.error_text("vi")
    assert outbox(kiosk.device) == events_before and kiosk_state.acked_seq() == 0
    # Nothing was lost: the next sync sends all of it.
    assert client_of(server, kiosk).sync().complete
    assert applied_on_server(server, kiosk.device) == events_before
