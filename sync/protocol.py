"""The wire format both ends share: signatures, gzip JSON bodies, cursors, entity keys.

Nothing here touches a database or Flask, so the kiosk client and the server
agree on every byte by importing the same functions.
"""

from __future__ import annotations

import gzip
import hashlib
import hmac
import json
import secrets
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kiosk.errors import N_, BadInput, MuontraError, PayloadTooLarge

PROTOCOL_VERSION = 1

HEADER_DEVICE = "X-Muontra-Device"
HEADER_TIME = "X-Muontra-Time"
HEADER_NONCE = "X-Muontra-Nonce"
HEADER_SIGNATURE = "X-Muontra-Signature"

CLOCK_WINDOW_SECONDS = 300
MAX_BATCH_EVENTS = 500
MAX_BODY_BYTES = 2 * 1024 * 1024  # compressed, as it arrives
MAX_JSON_BYTES = 16 * 1024 * 1024  # after gunzip: a bound against gzip bombs
MAX_PULL_LIMIT = 2000

EVENT_FIELDS = ("seq", "uuid", "type", "payload", "device_time")


class MalformedBody(BadInput):
    code = "malformed_body"
    message = N_("The sync message is malformed: %(reason)s")


class BadPairingCode(MuontraError):
    """The server's refusal of a pairing code; the kiosk shows the same message in its own language."""

    code = "bad_pairing_code"
    message = N_("This pairing code is wrong, already used or expired. Ask the librarian for a new one.")
    http_status = 403


class DeviceTaken(MuontraError):
    """A new pairing code redeemed with a device id the server knows (taking it over is not allowed)."""

    code = "device_taken"
    message = N_("The server already knows this kiosk. Ask the librarian to choose “Pair again” for it "
                 "on the server's devices page, and use that code.")
    http_status = 409


def body_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def canonical(method: str, path: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    """What is signed: every part an attacker could replay, redirect or alter."""
    return "\n".join([method.upper(), path, timestamp, nonce, body_digest(body)]).encode()


def sign(secret: str, method: str, path: str, timestamp: str, nonce: str, body: bytes) -> str:
    return hmac.new(secret.encode(), canonical(method, path, timestamp, nonce, body), hashlib.sha256).hexdigest()


def signed_headers(device: str, secret: str, method: str, path: str, body: bytes, unix_time: int) -> dict[str, str]:
    timestamp, nonce = str(unix_time), secrets.token_hex(16)
    return {
        HEADER_DEVICE: device,
        HEADER_TIME: timestamp,
        HEADER_NONCE: nonce,
        HEADER_SIGNATURE: sign(secret, method, path, timestamp, nonce, body),
    }


def signature_matches(secret: str, method: str, path: str, timestamp: str, nonce: str, body: bytes,
                      signature: str) -> bool:
    return hmac.compare_digest(sign(secret, method, path, timestamp, nonce, body), signature)


def derive_device_secret(master_key: bytes, device: str, key_version: int) -> str:
    """A device's secret is derived, never stored: HMAC(master key, device id + version).

    The server keeps only the master key (outside the database), so a copy of
    the database alone cannot forge requests; bumping the version re-keys a device.
    """
    return hmac.new(master_key, f"device:{device}:{key_version}".encode(), hashlib.sha256).hexdigest()


def encode_body(document: Mapping[str, Any]) -> bytes:
    return gzip.compress(json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode(), 6)


def decode_body(raw: bytes, limit: int = MAX_JSON_BYTES) -> dict[str, Any]:
    """gunzip (bounded) and parse a JSON object, or raise a 4xx error saying why."""
    if len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLarge()
    try:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        text = inflater.decompress(raw, limit + 1)
        if len(text) > limit or inflater.unconsumed_tail:
            raise PayloadTooLarge()
        document = json.loads(text)
    except (zlib.error, ValueError, UnicodeDecodeError, RecursionError) as exc:  # RecursionError: [[[[…]]]]
        raise MalformedBody(reason="not gzip JSON") from exc
    if not isinstance(document, dict):
        raise MalformedBody(reason="not an object")
    return document


MAX_SEQ = 2**53  # every number fits a database integer and a JSON number exactly


def _short_text(value: Any, most: int = 64) -> bool:
    """Text the server can store as a key: bounded, no NUL, no lone surrogate."""
    if not isinstance(value, str) or not value or len(value) > most or "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def validate_events(events: Any) -> list[dict[str, Any]]:
    """The events of a push, each with the fields and types the server relies on."""
    if not isinstance(events, list):
        raise MalformedBody(reason="events must be a list")
    if len(events) > MAX_BATCH_EVENTS:
        raise PayloadTooLarge()
    checked = []
    for event in events:
        if not isinstance(event, dict) or any(name not in event for name in EVENT_FIELDS):
            raise MalformedBody(reason="each event needs " + ", ".join(EVENT_FIELDS))
        if not isinstance(event["seq"], int) or isinstance(event["seq"], bool) or event["seq"] < 1:
            raise MalformedBody(reason="seq must be a positive integer")
        if event["seq"] > MAX_SEQ:
            raise MalformedBody(reason="seq is too large")
        if not all(_short_text(event[name]) for name in ("uuid", "type", "device_time")):
            raise MalformedBody(reason="uuid, type and device_time must be text of at most 64 characters")
        known = event.get("known", 0)
        if known is not None and (not isinstance(known, int) or isinstance(known, bool) or not 0 <= known <= MAX_SEQ):
            raise MalformedBody(reason="known must be a change number")
        if not isinstance(event["payload"], dict):
            raise MalformedBody(reason="payload must be an object")
        checked.append(event)
    seqs = [event["seq"] for event in checked]
    if seqs != sorted(set(seqs)):
        raise MalformedBody(reason="events must be in increasing seq order")
    return checked


# ---------------------------------------------------------------- cursors


@dataclass(frozen=True)
class Cursor:
    """Where a kiosk is in the server's change sequence; ``epoch`` names the server database.

    ``snapshot_until`` is non-zero while a kiosk is still reading a snapshot: up
    to that change number, closed loans and tombstones are skipped.
    """

    epoch: str
    seq: int
    snapshot_until: int = 0

    def encode(self) -> str:
        text = f"v1.{self.epoch}.{self.seq}"
        return f"{text}.s{self.snapshot_until}" if self.snapshot_until else text


def parse_cursor(text: str | None) -> Cursor | None:
    """None for an absent or unreadable cursor: the server then answers with a snapshot."""
    if not text or not isinstance(text, str):
        return None
    parts = text.split(".")
    if len(parts) not in (3, 4) or parts[0] != "v1" or not _change_number(parts[2]):
        return None
    until = 0
    if len(parts) == 4:
        if not parts[3].startswith("s") or not _change_number(parts[3][1:]):
            return None
        until = int(parts[3][1:])
    return Cursor(parts[1], int(parts[2]), until)


def _change_number(text: str) -> bool:
    """ASCII digits of a number a database stores ("²".isdigit() is true; 10**30 overflows SQLite)."""
    return text.isascii() and text.isdigit() and len(text) <= 16 and int(text) <= MAX_SEQ


# ---------------------------------------------------------------- entity keys


def keys_of(event_type: str, payload: Mapping[str, Any]) -> set[tuple[str, str]]:
    """The entities a fact touches, as (kind, key) pairs.

    The server re-publishes these after processing the fact (even a rejected
    one), and a kiosk holds back pulled state for entities its unsent facts
    touch: the server's answer to those facts is on its way.
    """
    keys: set[tuple[str, str]] = set()
    if isinstance(payload.get("item"), str):
        keys.add(("copy", payload["item"]))
    for name in ("items", "missing"):  # intake of several copies; a stock-take's missing list
        if isinstance(payload.get(name), list):
            keys |= {("copy", code) for code in payload[name] if isinstance(code, str)}
    if isinstance(payload.get("loan"), str):
        keys.add(("loan", payload["loan"]))
    if event_type == "patron.upsert" and isinstance(payload.get("code"), str):
        keys.add(("patron", payload["code"]))
    if event_type == "loan.checkout" and isinstance(payload.get("patron"), str):
        keys.add(("patron", payload["patron"]))
    if event_type == "policy.set":
        keys.add(("policy", "rules"))
    if event_type == "calendar.set":
        keys.add(("calendar", "calendar"))
    if event_type == "setting.set" and isinstance(payload.get("key"), str):
        keys.add(("setting", payload["key"]))
    if event_type in ("stocktake.open", "stocktake.finish") and isinstance(payload.get("session"), str):
        keys.add(("stocktake", payload["session"]))
    if event_type.startswith("hold.") and isinstance(payload.get("hold"), str):
        keys.add(("hold", payload["hold"]))
    if event_type == "stocktake.scan" and isinstance(payload.get("scan"), str):
        keys.add(("stocktake_scan", payload["scan"]))
    if event_type.startswith("rotation.") and isinstance(payload.get("batch"), str):
        if event_type in ("rotation.open", "rotation.close", "rotation.unreturn"):  # unreturn reopens the batch
            keys.add(("rotation", payload["batch"]))
        if event_type in ("rotation.add", "rotation.return", "rotation.unreturn") and isinstance(payload.get("item"), str):
            keys.add(("rotation_item", rotation_item_key(payload["batch"], payload["item"])))
    return keys


def rotation_item_key(batch: str, item: str) -> str:
    """A copy's place in a rotation batch, as the change log names it (a batch uuid has no slash)."""
    return f"{batch}/{item}"



# The pairing QR code: the server's page shows it, the kiosk reads it with its camera or a 2D USB
# scanner (a keyboard wedge types it), so nobody types an address. A URL-like text any scanner can
# type: muontra://pair?server=<server URL, percent-encoded>&code=<one-time code>.
PAIRING_QR_PREFIX = "muontra://pair?"
MAX_PAIRING_QR = 400


class BadPairingQr(BadInput):
    code = "bad_pairing_qr"
    message = N_("This is not a pairing code from the school server's Devices page. Make a new one there and scan it again.")


def pairing_qr(server: str, code: str) -> str:
    from urllib.parse import urlencode

    return PAIRING_QR_PREFIX + urlencode({"server": server, "code": code})


def parse_pairing_qr(text: str) -> tuple[str, str]:
    """(server URL, code) from a scanned pairing QR; :class:`BadPairingQr` for anything else.

    Scanners differ: some upper-case everything (caps lock), some add a prefix or a suffix; the
    prefix is found case-insensitively and the address is checked again when pairing."""
    from urllib.parse import parse_qs

    if not isinstance(text, str) or len(text) > MAX_PAIRING_QR:
        raise BadPairingQr()
    start = text.lower().find(PAIRING_QR_PREFIX)
    if start < 0:
        raise BadPairingQr()
    try:
        fields = {k.lower(): v for k, v in parse_qs(text[start + len(PAIRING_QR_PREFIX):].strip(),
                                                     strict_parsing=True).items()}
    except ValueError:
        raise BadPairingQr() from None
    server, code = fields.get("server", []), fields.get("code", [])
    if len(server) != 1 or len(code) != 1 or not server[0].strip() or not code[0].strip():
        raise BadPairingQr()
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(server[0].strip())
    # A caps-lock scanner types HTTP://HOST: scheme and host are case-insensitive, the path is not.
    address = urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path, parts.query, parts.fragment))
    return address, code[0].strip().upper()
