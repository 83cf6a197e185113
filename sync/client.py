"""The kiosk's sync client: push the outbox, then pull the server's changes.

Safe to interrupt anywhere: the outbox is only read, the server applies each
event once whatever is resent, and each pulled page is committed together with
the cursor that follows it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests

from kiosk.db import db, write_transaction
from kiosk.errors import N_, MuontraError
from kiosk.ledger import get_setting, iso, newest_seq, put_setting

from . import digest
from . import kiosk_state as state
from .messages import (
    BadReply,
    check_digest_reply,
    check_pull_reply,
    check_push_reply,
    check_server_time,
    split_records,
)
from .protocol import BadPairingCode, DeviceTaken, encode_body, parse_cursor, signed_headers

Progress = Callable[[str, int, int | None], None]  # phase ("push"/"pull"), done, total


class SyncFailed(MuontraError):
    code = "sync_failed"
    message = N_("Sync did not finish: %(reason)s")
    http_status = 502


class ServerBusy(SyncFailed):
    code = "server_busy"
    message = N_("Sync did not finish: the server stayed busy. It will be tried again later.")


class ServerUnreachable(SyncFailed):
    code = "server_unreachable"
    # ``reason`` (the exception's class) stays in the params for logs; the librarian reads words.
    message = N_("No answer from the server at %(url)s. Check the address, the network, "
                 "and that the server is running.")


class NoUsableAnswer(SyncFailed):
    code = "no_usable_answer"
    message = N_("The server's answer was cut off or unreadable (%(reason)s). Nothing was acknowledged; "
                 "the sync will be tried again.")


class SyncAlreadyRunning(MuontraError):
    code = "sync_already_running"
    message = N_("A sync is already running on this kiosk. Wait for it to finish.")
    http_status = 409


BUSY_WAITS = (1.0, 2.0, 4.0, 8.0)  # seconds, with jitter, before asking a busy server again
BAD_REPLY_WAITS = (0.5, 1.0)  # seconds before asking again after an answer that was no answer
LOCK_FILE = "sync.lock"
LOCK_WAIT = 5.0  # seconds a second sync waits for the first before giving up
DIGEST_ROUNDS = 3  # pull again and compare again at most this many times while the server moves on


def lock_path() -> Path:
    """The lock file next to the kiosk's database: one per data directory."""
    return Path(db.obj.database).resolve().parent / LOCK_FILE


@contextlib.contextmanager
def one_sync_at_a_time(wait: float = LOCK_WAIT, sleep: Callable[[float], None] = time.sleep) -> Iterator[None]:
    """Hold this data directory's sync lock for the whole exchange, across processes.

    ``muontra sync`` and the kiosk's own background sync (or its "Sync now") on one data
    directory must not interleave: a pull while another sync's push waits for its reply
    would step the cursor past state held back for events about to be acknowledged.
    ``flock`` is released by the OS if the process dies, so a SIGKILLed sync never
    leaves the kiosk locked. A second sync waits up to ``wait`` seconds, then raises
    :class:`SyncAlreadyRunning`.
    """
    fd = os.open(lock_path(), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise SyncAlreadyRunning() from None
                sleep(0.1)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


class NotPaired(MuontraError):
    code = "not_paired"
    message = N_("This kiosk is not paired with a server yet. Run: muontra pair SERVER_URL CODE")


class BadServerUrl(MuontraError):
    code = "bad_server_url"
    message = N_("“%(url)s” is not a server address. Write it like http://192.168.1.10:8000")


class NotAServer(MuontraError):
    code = "not_a_server"
    message = N_("%(url)s answers, but it is not a Mượn Trả school server. Check the address and the port.")
    http_status = 502


class PairingFailed(MuontraError):
    code = "pairing_failed"
    message = N_("The server could not pair this kiosk just now (%(reason)s). Try again in a moment.")
    http_status = 502


class Transport(Protocol):
    def post(self, path: str, body: bytes, headers: Mapping[str, str]) -> tuple[int, dict[str, Any]]: ...


def _not_a_header_warning(record: logging.LogRecord) -> bool:
    """urllib3 logs a reply cut inside its headers as a warning with a traceback; we say it ourselves
    (:class:`NoUsableAnswer`), and a traceback in the kiosk's log would read like a crash."""
    return not record.getMessage().startswith("Failed to parse headers")


for _name in ("urllib3.connection", "urllib3.connectionpool"):  # urllib3 2.x logs it from the first
    logging.getLogger(_name).addFilter(_not_a_header_warning)


class HttpTransport:
    """HTTP(S) to the server; any network trouble becomes :class:`ServerUnreachable`."""

    def __init__(self, base_url: str, timeout: tuple[float, float] = (5.0, 60.0)) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()

    def post(self, path: str, body: bytes, headers: Mapping[str, str]) -> tuple[int, dict[str, Any]]:
        try:
            response = self.session.post(self.base_url + path, data=body, headers=dict(headers),
                                         timeout=self.timeout)
        except requests.RequestException as exc:
            raise ServerUnreachable(url=self.base_url, reason=exc.__class__.__name__) from exc
        try:
            document = response.json()
        except (ValueError, requests.RequestException):  # not JSON, or cut off while reading it
            document = None
        if not isinstance(document, dict):
            if 200 <= response.status_code < 300:
                # A reply cut inside its headers arrives as a 200 with an empty body.
                raise NoUsableAnswer(reason=f"{response.status_code} without a JSON object")
            document = {}
        return response.status_code, document


@dataclass
class SyncSummary:
    sent: int = 0  # events the server processed for the first time in this sync
    received: int = 0  # pulled records applied here
    conflicts: int = 0  # this sync's events the server flagged or rejected
    waiting: int = 0  # events still not acknowledged by the server
    repaired: int = 0  # copies and cards made the server's again by the digest check
    refused: int = 0  # records the server sent that this kiosk did not believe (left out, on the panel)
    renumbered: int = 0  # facts made here after a restore, moved past the numbers the server already had
    complete: bool = False
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _now_text() -> str:
    return iso(datetime.now(UTC).replace(tzinfo=None)) + "Z"


class SyncClient:
    def __init__(self, transport: Transport, device: str, secret: str, *, clock: Callable[[], float] = time.time,
                 batch: int = 500, page: int = 1000, progress: Progress | None = None,
                 busy_waits: Sequence[float] = BUSY_WAITS, sleep: Callable[[float], None] = time.sleep,
                 check_gap: timedelta | None = None) -> None:
        self.transport, self.device, self.secret = transport, device, secret
        self.clock, self.batch, self.page = clock, batch, page
        self.busy_waits, self.sleep = busy_waits, sleep
        # The digest comparison's least gap when something moved (MUONTRA_SYNC_CHECK_MINUTES; 0: every sync).
        self.check_gap = check_gap if check_gap is not None else timedelta(
            minutes=float(os.environ.get("MUONTRA_SYNC_CHECK_MINUTES", state.DIGEST_GAP.total_seconds() / 60)))
        self.progress = progress or (lambda phase, done, total: None)

    # ------------------------------------------------------------ signed requests

    def call(self, path: str, document: Mapping[str, Any], check: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
        """A signed request whose reply passes ``check`` (see sync/messages.py).

        A busy server (503) is asked again a few times before giving up; so is a 2xx that
        is no answer (cut off, not JSON, missing what the protocol promises): nothing of
        it is believed, and after the last try the sync ends with :class:`NoUsableAnswer`.
        """
        bad_waits = list(BAD_REPLY_WAITS)
        busy_waits = list(self.busy_waits)
        while True:
            try:
                reply = self._call_once(path, document)
                try:
                    return check(reply)
                except BadReply as exc:
                    raise NoUsableAnswer(reason=str(exc)) from exc
            except ServerBusy:
                if not busy_waits:
                    raise
                self.sleep(busy_waits.pop(0) * random.uniform(0.5, 1.0))
            except NoUsableAnswer:
                if not bad_waits:
                    raise
                self.sleep(bad_waits.pop(0) * random.uniform(0.5, 1.0))

    def _call_once(self, path: str, document: Mapping[str, Any]) -> dict[str, Any]:
        body = encode_body(document)
        for attempt in (1, 2):
            offset = float(get_setting(state.CLOCK_OFFSET, 0))
            headers = signed_headers(self.device, self.secret, "POST", path, body, int(self.clock() + offset))
            headers["Content-Type"] = "application/gzip"
            status, reply = self.transport.post(path, body, headers)
            error = reply.get("error") or {}
            if status == 401 and isinstance(error, dict) and error.get("code") == "clock_skew" and attempt == 1:
                # Our clock is off: take the server's word for the time and sign again.
                try:
                    server_time = check_server_time(reply)
                except BadReply as exc:
                    raise NoUsableAnswer(reason=str(exc)) from exc
                with write_transaction():
                    put_setting(state.CLOCK_OFFSET, server_time - self.clock())
                continue
            if status == 503:
                raise ServerBusy()
            if not isinstance(error, dict):
                error = {}
            if status != 200:
                raise SyncFailed(reason=f"{status} {error.get('code', '')} {error.get('message', '')}".strip())
            return reply
        raise SyncFailed(reason="clock")  # unreachable: the loop returns or raises

    # ------------------------------------------------------------ push

    def push(self, summary: SyncSummary) -> None:
        total = state.waiting_events(self.device)
        done = 0
        self.progress("push", 0, total)
        while True:
            events = state.unsent(self.device, self.batch)
            if not events:
                return
            marks = get_setting(state.MARKS, [])
            sent = [e.seq for e in events]
            reply = self.call("/sync/push", {
                "device": self.device,
                "newest_seq": state.newest_seq(self.device),
                "events": [{"seq": e.seq, "uuid": e.uuid, "type": e.type, "payload": e.payload,
                            "device_time": iso(e.device_time), "known": state.known_seq(e.seq, marks)}
                           for e in events],
            }, partial(check_push_reply, sent=sent))
            before = state.acked_seq()
            rewound = state.first_reused_seq(events, reply["results"])
            if rewound is not None:
                # This database is older than what the server heard from this kiosk (restored
                # from a backup, or an SD card copied back): the server holds other facts under
                # our newest numbers. Ours move after the server's, and are sent as new.
                with write_transaction():
                    summary.renumbered += state.renumber_from(self.device, rewound, int(reply["last_seq"]))
                    summary.conflicts += state.remember_conflicts(
                        [r for r in reply["results"] if r["seq"] < rewound], _now_text())
                continue
            with write_transaction():
                put_setting(state.ACKED, int(reply["last_seq"]))
                summary.conflicts += state.remember_conflicts(reply["results"], _now_text())
            fresh = [r for r in reply["results"] if not r.get("duplicate")]
            summary.sent += len(fresh)
            done += len(fresh)
            self.progress("push", done, total)
            if int(reply["last_seq"]) <= before and not fresh:
                if reply.get("stopped") == "gap" and int(reply["last_seq"]) < before:
                    continue  # the server is behind what we thought (restored?): resend from its seq
                raise SyncFailed(reason=f"server stopped at {reply['last_seq']} ({reply.get('stopped')})")

    # ------------------------------------------------------------ pull

    def pull(self, summary: SyncSummary) -> None:
        cursor = get_setting(state.CURSOR)
        first, total = True, None
        while True:
            reply = self.call("/sync/pull", {"cursor": cursor, "limit": self.page, "total": first}, check_pull_reply)
            if first:
                total, first = reply.get("total"), False
            with write_transaction():
                held_back = state.pending_keys(self.device)
                usable, refused = split_records(reply["records"])
                summary.received += state.apply_records(usable, held_back)
                summary.refused += state.remember_refused(refused, _now_text())
                state.follow_snapshot(cursor, reply, held_back, self._server_now(reply))
                cursor = reply["cursor"]
                put_setting(state.CURSOR, cursor)
                put_setting(state.CONFLICTS_OPEN, int(reply.get("conflicts_open", 0)))
                if "role" in reply:
                    state.remember_role(reply["role"])
                parsed = parse_cursor(cursor)
                state.add_mark(self.device, parsed.seq if parsed else 0)
            self.progress("pull", summary.received, total)
            if not reply["more"]:
                return

    def _server_now(self, reply: Mapping[str, Any]) -> datetime:
        """The server's time of a reply (naive UTC, as the kiosk stores times)."""
        moment = reply.get("server_time") or self.clock() + float(get_setting(state.CLOCK_OFFSET, 0))
        return datetime.fromtimestamp(float(moment), UTC).replace(tzinfo=None)

    # ------------------------------------------------------------ both

    # ------------------------------------------------------------ anti-entropy

    def check(self, summary: SyncSummary, force: bool = False) -> None:
        """Compare digests with the server; make any bucket that differs the server's again.

        Runs once everything is sent and pulled: when either side moved since the last
        comparison (cursor, newest local event) and ``check_gap`` has passed since it, or a
        day has. A server that moved on since our pull is pulled from again first.
        """
        for _round in range(DIGEST_ROUNDS):
            cursor, newest = get_setting(state.CURSOR), newest_seq(self.device)
            if not force and not state.digest_due(cursor, newest, datetime.now(UTC).replace(tzinfo=None),
                                                  self.check_gap):
                return
            done: list[int] = []
            while True:
                reply = self.call("/sync/digest", {"cursor": cursor, "buckets": digest.bucket_digests(), "skip": done},
                                  lambda reply: check_digest_reply(reply, digest.BUCKETS))
                if reply["moved"] or not reply["buckets"]:
                    break
                usable, refused = split_records(reply["records"])
                with write_transaction():
                    summary.refused += state.remember_refused(refused, _now_text())
                    summary.repaired += state.repair(self.device, reply["buckets"], usable,
                                                     self._server_now(reply), _now_text(), reply["shelved"],
                                                     untrusted={(entry["kind"], entry["key"]) for entry in refused})
                done += reply["buckets"]
            if not reply["moved"]:
                with write_transaction():
                    state.digest_checked(cursor, newest, datetime.now(UTC).replace(tzinfo=None))
                return
            self.pull(summary)
            force = True

    # ------------------------------------------------------------ all of it

    def sync(self, lock_wait: float = LOCK_WAIT) -> SyncSummary:
        """One full exchange under this data directory's sync lock.

        Never raises for network or server trouble (see ``summary.error``); raises
        :class:`SyncAlreadyRunning` when another sync holds the lock for ``lock_wait`` s.
        """
        with one_sync_at_a_time(lock_wait, self.sleep):
            return self._sync()

    def _sync(self) -> SyncSummary:
        summary = SyncSummary()
        with write_transaction():
            put_setting(state.LAST_ATTEMPT, _now_text())
        try:
            self.push(summary)
            self.pull(summary)
            if state.waiting_events(self.device) == 0:
                self.check(summary)
        except SyncFailed as exc:
            summary.error = exc.message_in("en")
            failure = exc
        else:
            failure = None
        summary.waiting = state.waiting_events(self.device)
        summary.complete = summary.error is None and summary.waiting == 0
        with write_transaction():
            state.remember_error(failure)
            if summary.complete:
                put_setting(state.LAST_SUCCESS, _now_text())
        return summary


def client_for(transport: Transport | None = None, **options: Any) -> SyncClient:
    """The client of this kiosk's pairing (the database must be open)."""
    paired = state.pairing()
    if paired is None:
        raise NotPaired()
    return SyncClient(transport or HttpTransport(paired.server), paired.device, paired.secret, **options)


def server_address(text: str) -> str:
    """A server's base URL as a person types it: ``http://`` when no scheme is given, no trailing slash."""
    url = text.strip()
    if url and "://" not in url:
        url = "http://" + url
    parts = urlsplit(url)
    try:
        usable = (parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != 0
                  and not any(character.isspace() for character in url) and not (parts.query or parts.fragment))
    except ValueError:  # a port that is no number, or out of range
        usable = False
    if not usable:
        raise BadServerUrl(url=text.strip())
    return url.rstrip("/")


def pair(server_url: str, code: str, device: str, name: str = "",
         transport: Transport | None = None) -> state.Pairing:
    """Exchange a one-time pairing code for this kiosk's secret, and remember the server.

    Every failure is a :class:`MuontraError` (bad address, no answer, not a Mượn Trả server,
    a refused code…) and leaves the kiosk's pairing as it was.
    """
    server = server_address(server_url)
    transport = transport or HttpTransport(server)
    try:
        status, reply = transport.post("/sync/pair", json.dumps({"code": code.strip(), "device": device}).encode(),
                                       {"Content-Type": "application/json"})
    except NoUsableAnswer as exc:  # a web page, not JSON: some other web server at that address
        raise NotAServer(url=server) from exc
    error = reply.get("error") if isinstance(reply.get("error"), dict) else {}
    if "server_time" not in reply:  # every answer of the server's sync API carries its clock
        raise NotAServer(url=server)
    if error.get("code") == BadPairingCode.code:
        raise BadPairingCode()
    if error.get("code") == DeviceTaken.code:
        raise DeviceTaken()
    if status != 200:
        raise PairingFailed(reason=f"{status} {error.get('code', '')}".strip())
    if not (isinstance(reply.get("device"), str) and isinstance(reply.get("secret"), str)
            and isinstance(reply.get("last_seq", 0), int)):
        raise NotAServer(url=server)
    paired = state.Pairing(server=server, device=reply["device"], secret=reply["secret"],
                           name=str(reply.get("name", name)))
    with write_transaction():
        state.save_pairing(paired, int(reply.get("last_seq", 0)), reply.get("role"))
    return paired
