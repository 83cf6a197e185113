"""The one clock and the one default time zone of the kiosk and the server.

Times are stored as naive UTC; the school day is computed in the configured time zone
(``TIMEZONE`` / ``MUONTRA_TIMEZONE``, Vietnam by default).
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"


def utc_now() -> datetime:
    """The real clock (tests and the apps' ``CLOCK`` setting put a fake one in its place)."""
    return datetime.now(UTC)


def as_stored(moment: datetime) -> datetime:
    """``moment`` as naive UTC, the way the databases store times."""
    return moment.astimezone(UTC).replace(tzinfo=None)


def default_timezone() -> ZoneInfo:
    return ZoneInfo(DEFAULT_TIMEZONE)
