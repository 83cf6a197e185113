"""Checking a kiosk's signed request: who, when, never twice."""

from __future__ import annotations

from collections.abc import Mapping

from peewee import IntegrityError

from kiosk.db import write_transaction
from kiosk.errors import N_, MuontraError

from ..protocol import (
    CLOCK_WINDOW_SECONDS,
    HEADER_DEVICE,
    HEADER_NONCE,
    HEADER_SIGNATURE,
    HEADER_TIME,
    derive_device_secret,
    signature_matches,
)
from .models import Device, Nonce


class Unauthorized(MuontraError):
    """A 401 that tells the kiosk the server's time, so a wrong clock corrects itself."""

    code = "unauthorized"
    http_status = 401
    message = N_("This device is not allowed to sync: %(reason)s")


class ClockSkew(Unauthorized):
    code = "clock_skew"


def verify_request(headers: Mapping[str, str], method: str, path: str, body: bytes, master_key: bytes,
                   now_unix: float) -> Device:
    """The device that signed this request, or :class:`Unauthorized` (nothing else happens)."""
    device_id, timestamp = headers.get(HEADER_DEVICE, ""), headers.get(HEADER_TIME, "")
    nonce, signature = headers.get(HEADER_NONCE, ""), headers.get(HEADER_SIGNATURE, "")
    if not (device_id and timestamp and nonce and signature) or len(nonce) > 64:
        raise Unauthorized(reason="unsigned")
    device = Device.get_or_none(Device.id == device_id)
    if device is None or device.revoked:
        raise Unauthorized(reason="unknown or revoked device")
    secret = derive_device_secret(master_key, device.id, device.key_version)
    if not signature_matches(secret, method, path, timestamp, nonce, body, signature):
        raise Unauthorized(reason="bad signature")
    try:
        sent = int(timestamp)
    except ValueError as exc:
        raise Unauthorized(reason="bad timestamp") from exc
    if abs(sent - now_unix) > CLOCK_WINDOW_SECONDS:
        raise ClockSkew(reason="clock")
    try:
        with write_transaction():
            Nonce.create(device=device.id, nonce=nonce, seen_at=sent)
            # A nonce only needs remembering while its timestamp is inside the window.
            Nonce.delete().where(Nonce.seen_at < now_unix - 2 * CLOCK_WINDOW_SECONDS).execute()
            Device.update(clock_offset=sent - now_unix).where(Device.id == device.id).execute()
    except IntegrityError as exc:
        raise Unauthorized(reason="replayed request") from exc
    return device
