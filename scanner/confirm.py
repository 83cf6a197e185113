"""Turning per-frame decodes into scans: confirmation and cooldown.

A camera sees the same code in many consecutive frames, and now and then misreads one. The
confirmer makes a code a *scan* only when it is confirmed, and then suppresses it while it stays
in view and for ``cooldown`` seconds after it was last seen, so a book held under the camera is
lent once.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from .common import Decoded
from .normalize import CODE128, EAN8, EAN13, QRCODE

# Symbologies whose own checksum/error correction makes a two-decoder agreement in one frame
# trustworthy. Code 39 (no mandatory check character) and ITF (partial reads of a longer
# code can be valid) always need a second frame.
CHECKED_SYMBOLOGIES = frozenset({EAN13, EAN8, CODE128, QRCODE})


@dataclass(frozen=True, slots=True)
class Scan:
    """A confirmed scan: what the kiosk treats exactly like a USB scanner's input."""

    symbology: str
    text: str
    polygon: tuple[tuple[int, int], ...]
    timestamp: float


class ScanConfirmer:
    """Confirms codes across frames and suppresses repeats.

    A code becomes a scan when it was read in ``frames`` frames within ``window`` seconds, or in
    a single frame when both decoders agreed on it and its symbology carries a checksum
    (``trust_agreement``). After a scan the same code is ignored until it has been out of sight
    for ``cooldown`` seconds. Timestamps are seconds on any monotonic clock (the frame source's).
    """

    def __init__(
        self,
        *,
        frames: int = 2,
        window: float = 1.0,
        cooldown: float = 2.0,
        trust_agreement: bool = True,
    ) -> None:
        if frames < 1 or window <= 0 or cooldown < 0:
            raise ValueError("frames >= 1, window > 0 and cooldown >= 0 are required")
        self.frames = frames
        self.window = window
        self.cooldown = cooldown
        self.trust_agreement = trust_agreement
        self._sightings: dict[tuple[str, str], deque[float]] = {}
        self._scanned_seen: dict[tuple[str, str], float] = {}
        # Every sighting of the last ``window`` seconds with where it was: (time, key, box).
        self._places: deque[tuple[float, tuple[str, str], _Box]] = deque()

    def feed(self, decoded: Iterable[Decoded], timestamp: float) -> list[Scan]:
        """Account for one frame's decodes (possibly none); return the scans it completes."""
        scans: list[Scan] = []
        seen_now: set[tuple[str, str]] = set()
        decoded = list(decoded)
        while self._places and timestamp - self._places[0][0] > self.window:
            self._places.popleft()
        for d in decoded:
            self._places.append((timestamp, (d.symbology, d.text), _box(d.polygon)))
        for d in decoded:
            key = (d.symbology, d.text)
            if key in seen_now:
                continue
            seen_now.add(key)
            last = self._scanned_seen.get(key)
            if last is not None and timestamp - last < self.cooldown:
                self._scanned_seen[key] = timestamp  # still in view: keep suppressing
                continue
            times = self._sightings.setdefault(key, deque())
            times.append(timestamp)
            while times and timestamp - times[0] > self.window:
                times.popleft()
            trusted = self.trust_agreement and d.agreed and d.symbology in CHECKED_SYMBOLOGIES
            if (len(times) >= self.frames or trusted) and len(times) > self._rivals(key, _box(d.polygon), times[0]):
                scans.append(Scan(d.symbology, d.text, d.polygon, timestamp))
                self._scanned_seen[key] = timestamp
                del self._sightings[key]
        self._expire(timestamp)
        return scans

    def _rivals(self, key: tuple[str, str], box: _Box, since: float) -> int:
        """Frames since ``key`` was first seen that read another text at its place and not it.

        A sporadic misread recurs now and then while the real code is read in the frames
        between (measured on clips of the public photos: an EAN misread twice in 0.3 s): it
        must outnumber what the same place showed meanwhile, which it never does. A code that
        replaces another at the same place (the next book) has no rivals after its first
        sighting and scans as fast as ever."""
        mine = {t for t, k, _ in self._places if k == key}
        return len({t for t, k, b in self._places
                    if k != key and t >= since and t not in mine and _same_place(b, box)})

    def reset(self) -> None:
        """Forget everything (e.g. when the kiosk screen resets for the next student)."""
        self._sightings.clear()
        self._scanned_seen.clear()
        self._places.clear()

    def _expire(self, now: float) -> None:
        for key in [k for k, t in self._sightings.items() if not t or now - t[-1] > self.window]:
            del self._sightings[key]
        for key in [k for k, t in self._scanned_seen.items() if now - t >= self.cooldown]:
            del self._scanned_seen[key]


_Box = tuple[float, float, float, float]


def _box(polygon: tuple[tuple[int, int], ...]) -> _Box:
    xs = [p[0] for p in polygon] or [0]
    ys = [p[1] for p in polygon] or [0]
    return min(xs), min(ys), max(xs), max(ys)


def _same_place(a: _Box, b: _Box) -> bool:
    """One box holds the other's centre: one physical code seen twice (a misread often covers
    only part of the code, so its box need not hold the whole code's centre)."""
    def holds(box: _Box, other: _Box) -> bool:
        cx, cy = (other[0] + other[2]) / 2, (other[1] + other[3]) / 2
        return box[0] <= cx <= box[2] and box[1] <= cy <= box[3]
    return holds(a, b) or holds(b, a)
