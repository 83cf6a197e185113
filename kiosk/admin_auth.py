"""The librarian's PIN: stored only as a hash, locked out after repeated wrong tries."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from werkzeug.security import check_password_hash, generate_password_hash

from .db import write_transaction
from .errors import N_, MuontraError
from .ledger import get_setting, put_setting

DEFAULT_PIN = "1234"


class BadPinFormat(MuontraError):
    code = "bad_pin_format"
    message = N_("A PIN is 4 to 12 digits.")


class WrongPin(MuontraError):
    code = "wrong_pin"
    message = N_("Wrong PIN. %(left)s tries left.")
    http_status = 401


class PinLocked(MuontraError):
    code = "pin_locked"
    message = N_("Too many wrong PINs. Try again in %(minutes)s minutes.")
    http_status = 429


def set_admin_pin(pin: str) -> None:
    if not re.fullmatch(r"\d{4,12}", pin or ""):
        raise BadPinFormat()
    with write_transaction():
        put_setting("admin_pin_hash", generate_password_hash(pin))
        put_setting("admin_pin_failures", {"count": 0, "locked_until": None})


def pin_is_default() -> bool:
    return get_setting("admin_pin_hash") is None


def verify_admin_pin(pin: str, now: datetime, max_attempts: int, lockout_minutes: int) -> None:
    """Raise unless ``pin`` is right; count failures in the database so a restart doesn't reset them."""
    with write_transaction():
        state = get_setting("admin_pin_failures") or {"count": 0, "locked_until": None}
        locked_until = datetime.fromisoformat(state["locked_until"]) if state["locked_until"] else None
        if locked_until and now < locked_until:
            minutes = max(1, int((locked_until - now).total_seconds() // 60) + 1)
            raise PinLocked(minutes=minutes)
        stored = get_setting("admin_pin_hash")
        ok = check_password_hash(stored, pin) if stored else pin == DEFAULT_PIN
        if ok:
            put_setting("admin_pin_failures", {"count": 0, "locked_until": None})
            return
        count = state["count"] + 1
        if count >= max_attempts:
            until = now + timedelta(minutes=lockout_minutes)
            put_setting("admin_pin_failures", {"count": 0, "locked_until": until.isoformat()})
        else:
            put_setting("admin_pin_failures", {"count": count, "locked_until": None})
    # Raised after the transaction so the failure count is committed.
    if count >= max_attempts:
        raise PinLocked(minutes=lockout_minutes)
    raise WrongPin(left=max_attempts - count)
