"""The librarian's PIN: stored only as a hash, locked out per client after repeated wrong tries, and the
sessions it opened kept on this machine so logging out or changing the PIN ends them.

Kept in the local settings table (never synced): ``admin_pin_hash``, ``admin_pin_short`` (the PIN in
use is shorter than new PINs may be), ``admin_pin_failures`` (per client: wrong tries, strikes, locked
until) and ``admin_sessions`` (session id → when it was opened).
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta

from werkzeug.security import check_password_hash, generate_password_hash

from .db import write_transaction
from .errors import N_, MuontraError
from .ledger import get_setting, put_setting

DEFAULT_PIN = "1234"
NEW_PIN_DIGITS = 6  # new PINs; a shorter PIN set earlier keeps working until it is changed
MAX_LOCK = timedelta(hours=24)
MAX_CLIENTS = 256  # failure records kept; the oldest unlocked ones go first
MAX_SESSIONS = 64


class BadPinFormat(MuontraError):
    code = "bad_pin_format"
    message = N_("A PIN is 6 to 12 digits.")


class WrongPin(MuontraError):
    code = "wrong_pin"
    message = N_("Wrong PIN. %(left)s tries left.")
    http_status = 401


class PinLocked(MuontraError):
    code = "pin_locked"
    message = N_("Too many wrong PINs. Try again in %(minutes)s minutes.")
    http_status = 429


class CurrentPinWrong(MuontraError):
    code = "current_pin_wrong"
    message = N_("The current PIN is not right; the PIN was not changed.")
    http_status = 401


def set_admin_pin(pin: str) -> None:
    """Set a new PIN; every open session ends and every lock-out is lifted (the CLI's way back in)."""
    if not re.fullmatch(rf"\d{{{NEW_PIN_DIGITS},12}}", pin or ""):
        raise BadPinFormat()
    with write_transaction():
        put_setting("admin_pin_hash", generate_password_hash(pin))
        put_setting("admin_pin_short", False)
        put_setting("admin_pin_failures", {})
        put_setting("admin_sessions", {})


def pin_is_default() -> bool:
    return get_setting("admin_pin_hash") is None


def pin_is_short() -> bool:
    """The default PIN, or a PIN set before new ones needed NEW_PIN_DIGITS digits."""
    return pin_is_default() or bool(get_setting("admin_pin_short"))


def _pin_matches(pin: str) -> bool:
    stored = get_setting("admin_pin_hash")
    return check_password_hash(stored, pin) if stored else secrets.compare_digest(pin, DEFAULT_PIN)


def _failures() -> dict:
    state = get_setting("admin_pin_failures")
    # Before per-client lock-outs the setting held one global {"count", "locked_until"}: start afresh.
    if not isinstance(state, dict) or "count" in state:
        return {}
    return {key: value for key, value in state.items() if isinstance(value, dict)}


def _prune(failures: dict, now: datetime) -> dict:
    if len(failures) <= MAX_CLIENTS:
        return failures

    def still_locked(item: tuple[str, dict]) -> bool:
        until = item[1].get("locked_until")
        return bool(until) and datetime.fromisoformat(until) > now

    ordered = sorted(failures.items(), key=lambda item: (still_locked(item), item[1].get("last", "")))
    return dict(ordered[-MAX_CLIENTS:])


def verify_admin_pin(pin: str, now: datetime, max_attempts: int, lockout_minutes: int, client: str) -> str:
    """A new session id when ``pin`` is right, else :class:`WrongPin` / :class:`PinLocked`.

    Wrong tries count per ``client`` (its address), in the database so a restart doesn't reset them:
    after ``max_attempts`` that client waits ``lockout_minutes``, doubled at each further lock-out
    (up to a day). Another client — the librarian at her own desk — is not affected."""
    pin = pin if isinstance(pin, str) else ""
    with write_transaction():
        failures = _failures()
        mine = failures.get(client, {"count": 0, "strikes": 0, "locked_until": None})
        locked_until = datetime.fromisoformat(mine["locked_until"]) if mine.get("locked_until") else None
        if locked_until and now < locked_until:
            minutes = max(1, int((locked_until - now).total_seconds() // 60) + 1)
            raise PinLocked(minutes=minutes, retry_after=(locked_until - now).total_seconds())
        if _pin_matches(pin):
            failures.pop(client, None)
            put_setting("admin_pin_failures", failures)
            if len(pin) < NEW_PIN_DIGITS:
                put_setting("admin_pin_short", True)
            return _open_session(now)
        count = int(mine.get("count", 0)) + 1
        strikes = int(mine.get("strikes", 0))
        until = None
        if count >= max_attempts:
            strikes += 1
            until = now + min(timedelta(minutes=lockout_minutes) * 2 ** (strikes - 1), MAX_LOCK)
            count = 0
        failures[client] = {"count": count, "strikes": strikes, "last": now.isoformat(),
                            "locked_until": until.isoformat() if until else None}
        put_setting("admin_pin_failures", _prune(failures, now))
    # Raised after the transaction so the failure count is committed.
    if until is not None:
        minutes = max(1, int((until - now).total_seconds() // 60))
        raise PinLocked(minutes=minutes, retry_after=(until - now).total_seconds())
    raise WrongPin(left=max_attempts - count)


def check_current_pin(pin: str) -> None:
    """Before a PIN change: the one who asks must know the PIN in use (a session left open is not enough)."""
    if not _pin_matches(pin if isinstance(pin, str) else ""):
        raise CurrentPinWrong()


def _open_session(now: datetime) -> str:
    sessions = get_setting("admin_sessions")
    sessions = dict(sessions) if isinstance(sessions, dict) else {}
    session_id = secrets.token_urlsafe(18)
    sessions[session_id] = now.isoformat()
    if len(sessions) > MAX_SESSIONS:  # the oldest logins, long expired on a school's one or two desks
        sessions = dict(sorted(sessions.items(), key=lambda item: item[1])[-MAX_SESSIONS:])
    put_setting("admin_sessions", sessions)
    return session_id


def session_is_live(session_id: str) -> bool:
    sessions = get_setting("admin_sessions")
    return isinstance(sessions, dict) and session_id in sessions


def end_session(session_id: str | None) -> None:
    if not session_id:
        return
    with write_transaction():
        sessions = get_setting("admin_sessions")
        if isinstance(sessions, dict) and session_id in sessions:
            sessions = {key: value for key, value in sessions.items() if key != session_id}
            put_setting("admin_sessions", sessions)


def change_admin_pin(current: str, new: str, now: datetime) -> str:
    """Check the current PIN, set the new one (ending every session), and open one for the librarian
    who changed it so she stays signed in here. Returns that session's id."""
    check_current_pin(current)
    set_admin_pin(new)
    with write_transaction():
        return _open_session(now)
