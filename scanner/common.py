"""The scanner's plain data types, importable without numpy, OpenCV or the decoders.

The kiosk process receives decoded codes and camera status words from the camera worker process
and confirms them itself; importing them from here keeps OpenCV and numpy out of the kiosk
(tests/kiosk/camera/test_layout.py checks the kiosk process's mapped libraries).
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from enum import StrEnum

Point = tuple[int, int]


@dataclass(frozen=True, slots=True)
class Decoded:
    """One decoded code: stable symbology name, normalised text, outline in frame pixels.

    ``agreed`` is True when ZBar and zxing-cpp independently read the same text at this place.
    """

    symbology: str
    text: str
    polygon: tuple[Point, ...]
    agreed: bool = False


class SourceStatus(StrEnum):
    OK = "ok"
    MISSING = "missing"  # no such camera / nothing pushed recently
    BUSY = "busy"  # the device exists but cannot be opened (another program holds it)
    RECONNECTING = "reconnecting"  # it was working and stopped delivering frames
    ENDED = "ended"  # a recording or folder has been played to the end


class WorkerError(RuntimeError):
    """A decoder or camera worker process could not be (re)started."""


def limit_malloc_arenas(arenas: int = 2) -> bool:
    """Cap glibc's malloc arenas for this process (``MALLOC_ARENA_MAX``, set from inside).

    glibc gives busy threads arenas of their own, up to 8 per core, and each keeps freed memory
    for itself; a threaded web server decoding camera frames ends up holding many half-empty
    ones. Measured on the kiosk with its camera running: 11 MB less resident memory with 2.
    Only arenas created afterwards are affected; False where this is not glibc."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(_M_ARENA_MAX, arenas))
    except (OSError, AttributeError):
        return False


_M_ARENA_MAX = -8  # glibc malloc.h
