"""The kiosk's sync client: push the outbox, then pull the server's changes.

Safe to interrupt anywhere: the outbox is only read, the server applies each
event once whatever is resent, and each pulled page is committed together with
the cursor that follows it.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests

from kiosk.db import write_transaction
from kiosk.errors import N_, MuontraError
from kiosk.ledger import get_setting, iso, put_setting

from . import kiosk_state as state
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
    message = N_("No answer from the server at %(url)s (%(reason)s). Check the address, the network, "
                 "and that the server is running.")


BUSY_WAITS = (1.0, 2.0, 4.0, 8.0)  # seconds, with jitter, before asking a busy server again


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
        except ValueError:
            document = {}
        return response.status_code, document if isinstance(document, dict) else {}


@dataclass
class SyncSummary:
    sent: int = 0  # events the server processed for the first time in this sync
    received: int = 0  # pulled records applied here
    conflicts: int = 0  # this sync's events the server flagged or rejected
    waiting: int = 0  # events still not acknowledged by the server
    complete: bool = False
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _now_text() -> str:
    return iso(datetime.now(UTC).replace(tzinfo=None)) + "Z"


class SyncClient:
    def __init__(self, transport: Transport, device: str, secret: str, *, clock: Callable[[], float] = time.time,
                 batch: int = 500, page: int = 1000, progress: Progress | None = None,
                 busy_waits: Sequence[float] = BUSY_WAITS, sleep: Callable[[float], None] = time.sleep) -> None:
        self.transport, self.device, self.secret = transport, device, secret
        self.clock, self.batch, self.page = clock, batch, page
        self.busy_waits, self.sleep = busy_waits, sleep
        self.progress = progress or (lambda phase, done, total: None)

    # ------------------------------------------------------------ signed requests

    def call(self, path: str, document: Mapping[str, Any]) -> dict[str, Any]:
        """A signed request; a busy server (503) is asked again a few times before giving up."""
        for wait in self.busy_waits:
            try:
                return self._call_once(path, document)
            except ServerBusy:
                self.sleep(wait * random.uniform(0.5, 1.0))
        return self._call_once(path, document)

    def _call_once(self, path: str, document: Mapping[str, Any]) -> dict[str, Any]:
        body = encode_body(document)
        for attempt in (1, 2):
            offset = float(get_setting(state.CLOCK_OFFSET, 0))
            headers = signed_headers(self.device, self.secret, "POST", path, body, int(self.clock() + offset))
            headers["Content-Type"] = "application/gzip"
            status, reply = self.transport.post(path, body, headers)
            error = reply.get("error") or {}
            if status == 401 and error.get("code") == "clock_skew" and attempt == 1:
                # Our clock is off: take the server's word for the time and sign again.
                with write_transaction():
                    put_setting(state.CLOCK_OFFSET, float(reply["server_time"]) - self.clock())
                continue
            if status == 503:
                raise ServerBusy()
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
            reply = self.call("/sync/push", {
                "device": self.device,
                "newest_seq": state.newest_seq(self.device),
                "events": [{"seq": e.seq, "uuid": e.uuid, "type": e.type, "payload": e.payload,
                            "device_time": iso(e.device_time), "known": state.known_seq(e.seq, marks)}
                           for e in events],
            })
            before = state.acked_seq()
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
            reply = self.call("/sync/pull", {"cursor": cursor, "limit": self.page, "total": first})
            if first:
                total, first = reply.get("total"), False
            with write_transaction():
                held_back = state.pending_keys(self.device)
                summary.received += state.apply_records(reply["records"], held_back)
                state.follow_snapshot(cursor, reply, held_back, self._server_now(reply))
                cursor = reply["cursor"]
                put_setting(state.CURSOR, cursor)
                put_setting(state.CONFLICTS_OPEN, int(reply.get("conflicts_open", 0)))
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

    def sync(self) -> SyncSummary:
        """One full exchange; never raises for network or server trouble (see ``summary.error``)."""
        summary = SyncSummary()
        with write_transaction():
            put_setting(state.LAST_ATTEMPT, _now_text())
        try:
            self.push(summary)
            self.pull(summary)
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
    status, reply = transport.post("/sync/pair", json.dumps({"code": code.strip(), "device": device}).encode(),
                                   {"Content-Type": "application/json"})
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
        state.save_pairing(paired, int(reply.get("last_seq", 0)))
    return paired
