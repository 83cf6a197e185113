"""Normalisation and validation of decoded barcode texts.

Every decoder result passes through :func:`normalize_code` before it can become a scan, so a
code reads the same whichever decoder or camera produced it: UPC-A becomes its 13-digit EAN form,
an EAN-13 with a 2- or 5-digit add-on yields the main code, and a retail code whose check digit
does not hold is rejected.
"""

from __future__ import annotations

import re

#: Stable symbology names used throughout the scanner and by the kiosk.
EAN13 = "EAN13"
EAN8 = "EAN8"
UPCA = "UPCA"
CODE128 = "CODE128"
CODE39 = "CODE39"
ITF = "ITF"
QRCODE = "QRCODE"

#: What a school library prints or finds on books and cards.
LIBRARY_SYMBOLOGIES: frozenset[str] = frozenset({EAN13, EAN8, UPCA, CODE128, CODE39, ITF, QRCODE})

def _ean_valid(digits: str) -> bool:
    """EAN-8/13 check digit (weights 3,1 from the right, excluding the check digit). Written
    out rather than imported from python-stdnum: the decoder worker would otherwise load
    stdnum's registry for this one sum (about 6 MB of its resident memory)."""
    body, check = digits[:-1], int(digits[-1])
    total = sum(int(c) * (3 if i % 2 == 0 else 1) for i, c in enumerate(reversed(body)))
    return (10 - total % 10) % 10 == check


# Decoders report an add-on either glued to the main digits or after a space/dash.
_EAN13_ADDON = re.compile(r"^(\d{13})(?:[ -]?(?:\d{2}|\d{5}))?$")
_UPCA_ADDON = re.compile(r"^(\d{12})(?:[ -]?(?:\d{2}|\d{5}))?$")


def normalize_code(symbology: str, text: str) -> tuple[str, str] | None:
    """Return the canonical ``(symbology, text)`` of a decoded code, or None if it is invalid.

    UPC-A is reported as ``EAN13`` with a leading zero (that is what it is inside the EAN
    system, and how a cover ISBN lookup sees it). EAN/UPC add-ons are dropped. EAN-13 and EAN-8
    must carry a valid check digit. ITF must be an even number of digits (anything else is a
    decoder glitch). Other symbologies are returned unchanged: their checksums, where the
    symbology has one, are verified by the decoders themselves.
    """
    if symbology == UPCA:
        m = _UPCA_ADDON.match(text)
        if not m:
            return None
        symbology, text = EAN13, "0" + m.group(1)
    if symbology == EAN13:
        m = _EAN13_ADDON.match(text)
        if not m or not _ean_valid(m.group(1)):
            return None
        return EAN13, m.group(1)
    if symbology == EAN8:
        if len(text) != 8 or not text.isdigit() or not _ean_valid(text):
            return None
        return EAN8, text
    if symbology == ITF:
        if not text.isdigit() or len(text) % 2:
            return None
        return ITF, text
    if not text:
        return None
    return symbology, text


def is_isbn(ean13: str) -> bool:
    """True if a normalised EAN-13 is a Bookland code (a book's ISBN): prefix 978 or 979."""
    return len(ean13) == 13 and ean13[:3] in ("978", "979")
