"""Cleaning and classifying scanned codes (USB scanner, camera or typed)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from stdnum import ean, isbn
from stdnum.exceptions import ValidationError

from .errors import N_, MuontraError

# AIM symbology identifiers some scanners prepend: "]C0" (Code 128), "]E0" (EAN)…
_AIM_PREFIX = re.compile(r"^\][A-Za-z][0-9A-Za-z]")
MAX_CODE_LENGTH = 64


class EmptyCode(MuontraError):
    code = "empty_code"
    message = N_("Nothing was scanned. Please scan again.")


class CodeTooLong(MuontraError):
    code = "code_too_long"
    message = N_("That code is too long to be a library card or label.")


class BadCheckDigit(MuontraError):
    code = "bad_check_digit"
    message = N_("The barcode was misread (wrong check digit). Please scan it again.")


def clean(raw: str, prefixes: Iterable[str] = (), suffixes: Iterable[str] = ()) -> str:
    """Strip whitespace, control characters and scanner-added prefixes/suffixes."""
    text = "".join(ch for ch in raw if unicodedata.category(ch)[0] != "C")
    text = unicodedata.normalize("NFC", text).strip()
    text = _AIM_PREFIX.sub("", text)
    for prefix in prefixes:
        if prefix and text.startswith(prefix):
            text = text[len(prefix):]
    for suffix in suffixes:
        if suffix and text.endswith(suffix):
            text = text[: -len(suffix)]
    text = text.strip().upper()
    if not text:
        raise EmptyCode()
    if len(text) > MAX_CODE_LENGTH:
        raise CodeTooLong()
    return text


def isbn13(text: str) -> str | None:
    """ISBN-13 digits for an ISBN-10 or -13 in any usual spelling (hyphens, spaces).

    None when the check digit is wrong, so a mistyped ISBN is never taken for another title.
    """
    try:
        return isbn.to_isbn13(isbn.validate(text)).replace("-", "")
    except ValidationError:
        return None


def book_number(text: str) -> str | None:
    """The ISBN-13 a cleaned code stands for, None if it is not a book number.

    A code shaped like an ISBN/EAN whose check digit is wrong is a misread, not an
    unknown code: say so, so the student scans again instead of asking the librarian.
    """
    compact = text.replace("-", "")
    if re.fullmatch(r"97[89]\d{10}", compact) or re.fullmatch(r"\d{9}[\dX]", compact):
        number = isbn13(compact)
        if number is None:
            raise BadCheckDigit()
        return number
    if re.fullmatch(r"\d{8}|\d{12,13}", compact):
        try:
            ean.validate(compact)
        except ValidationError as exc:
            raise BadCheckDigit() from exc
    return None
