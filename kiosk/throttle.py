"""Limits on the public screen's look-ups, so nobody can walk the school's card codes.

A card is "looked up" when a request names it (/api/patron, /api/checkout, /api/renew). What is
counted is *different* cards in the last minute, per client address and for the whole kiosk: a
student scanning their own card and five books counts once, a queue of students at the break counts
a few a minute, a script trying 220 codes stops after the first few. Pure: the caller passes the
time; kept in memory (a restart forgets it, which only helps someone who can restart the kiosk).
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from dataclasses import dataclass, field

from .errors import N_, MuontraError

WINDOW_SECONDS = 60.0
MAX_CLIENTS = 1024


class TooManyCards(MuontraError):
    code = "too_many_cards"
    message = N_("Too many different cards in a short time. Please wait a minute, or see the librarian.")
    http_status = 429


class TooManyTries(MuontraError):
    code = "too_many_tries"
    message = N_("Too many tries. Please wait a few minutes, or see the librarian.")
    http_status = 429


@dataclass
class _Window:
    seen: deque = field(default_factory=deque)  # (time, key), oldest first

    def prune(self, now: float, window: float) -> None:
        while self.seen and now - self.seen[0][0] >= window:
            self.seen.popleft()

    def distinct(self) -> set[str]:
        return {key for _at, key in self.seen}

    def retry_after(self, now: float, window: float) -> float:
        return max(1.0, window - (now - self.seen[0][0])) if self.seen else 1.0


class DistinctLimiter:
    """At most ``per_client`` different keys per client, and ``overall`` for everyone, per window.
    A key already seen in the window is free (the same card again)."""

    def __init__(self, per_client: int, overall: int, window: float = WINDOW_SECONDS) -> None:
        self.per_client, self.overall, self.window = per_client, overall, window
        self._clients: OrderedDict[str, _Window] = OrderedDict()
        self._all = _Window()
        self._lock = threading.Lock()

    def admit(self, client: str, key: str, now: float, refusal: type[MuontraError] = TooManyCards) -> None:
        with self._lock:
            mine = self._clients.pop(client, None) or _Window()
            self._clients[client] = mine  # most recent last
            while len(self._clients) > MAX_CLIENTS:
                self._clients.popitem(last=False)
            mine.prune(now, self.window)
            self._all.prune(now, self.window)
            if key not in mine.distinct():
                if len(mine.distinct()) >= self.per_client:
                    raise refusal(retry_after=mine.retry_after(now, self.window))
                if key not in self._all.distinct() and len(self._all.distinct()) >= self.overall:
                    raise refusal(retry_after=self._all.retry_after(now, self.window))
            mine.seen.append((now, key))
            self._all.seen.append((now, key))


class FailureLimiter:
    """At most ``limit`` failures per client in ``window`` seconds (wrong cards at renewal, helper
    codes that are not a helper's): after that the client waits until the oldest one ages out."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit, self.window = limit, window
        self._clients: OrderedDict[str, _Window] = OrderedDict()
        self._lock = threading.Lock()

    def check(self, client: str, now: float) -> None:
        with self._lock:
            mine = self._clients.get(client)
            if mine is None:
                return
            mine.prune(now, self.window)
            if len(mine.seen) >= self.limit:
                raise TooManyTries(retry_after=mine.retry_after(now, self.window))

    def failed(self, client: str, now: float) -> None:
        with self._lock:
            mine = self._clients.pop(client, None) or _Window()
            self._clients[client] = mine
            while len(self._clients) > MAX_CLIENTS:
                self._clients.popitem(last=False)
            mine.seen.append((now, str(now)))
