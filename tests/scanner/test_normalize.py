"""Code normalisation and check digits."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum import ean

from kiosk.codes import isbn13
from scanner.cli import escape_text
from scanner.normalize import is_isbn, normalize_code


@pytest.mark.parametrize(
    ("symbology", "text", "expected"),
    [
        ("UPCA", "036602301467", ("EAN13", "0036602301467")),
        ("EAN13", "9780140013993", ("EAN13", "9780140013993")),
        ("EAN13", "9780140013993 51299", ("EAN13", "9780140013993")),  # 5-digit add-on
        ("EAN13", "978014001399312", ("EAN13", "9780140013993")),  # 2-digit add-on, glued
        ("UPCA", "036602301467 12", ("EAN13", "0036602301467")),
        ("EAN13", "9780140013994", None),  # wrong check digit
        ("EAN13", "978014001399", None),  # too short
        ("UPCA", "036602301468", None),
        ("EAN8", "55123457", ("EAN8", "55123457")),
        ("EAN8", "55123458", None),
        ("ITF", "0829220875", ("ITF", "0829220875")),
        ("ITF", "082922087", None),  # ITF encodes digit pairs
        ("CODE128", "SGK-000123", ("CODE128", "SGK-000123")),
        ("CODE39", " WWW.CITRONSOFT.COM ", ("CODE39", " WWW.CITRONSOFT.COM ")),
        ("QRCODE", "", None),
    ],
)
def test_normalize_code(symbology: str, text: str, expected: tuple[str, str] | None) -> None:
    assert normalize_code(symbology, text) == expected


@given(st.text(alphabet="0123456789", min_size=12, max_size=12), st.integers(0, 12), st.integers(1, 9))
def test_any_single_digit_error_in_an_ean13_is_rejected(body: str, pos: int, delta: int) -> None:
    code = body + ean.calc_check_digit(body)
    assert normalize_code("EAN13", code) == ("EAN13", code)
    damaged = code[:pos] + str((int(code[pos]) + delta) % 10) + code[pos + 1:]
    assert normalize_code("EAN13", damaged) is None


@given(st.text(alphabet="0123456789", min_size=11, max_size=11))
def test_upca_and_its_ean13_form_normalise_alike(body: str) -> None:
    upc = body + ean.calc_check_digit(body)
    assert normalize_code("UPCA", upc) == normalize_code("EAN13", "0" + upc) == ("EAN13", "0" + upc)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0-306-40615-2", "9780306406157"),
        ("0306406152", "9780306406157"),
        ("978-0-306-40615-7", "9780306406157"),
        ("604-1-00000-1", None),  # a typo'd check digit must not map onto another title
        ("0-306-40615-3", None),
        ("979-10-90636-07-1", "9791090636071"),
    ],
)
def test_isbn13(text: str, expected: str | None) -> None:
    assert isbn13(text) == expected


def test_is_isbn() -> None:
    assert is_isbn("9786041234567")
    assert is_isbn("9791090636071")
    assert not is_isbn("8934574061234")
    assert not is_isbn("978604123456")


@given(st.text())
def test_escape_keeps_one_code_on_one_tab_separated_field(text: str) -> None:
    escaped = escape_text(text)
    assert "\n" not in escaped and "\t" not in escaped
    # Unambiguous: unescaping gives the original back.
    out, i = [], 0
    while i < len(escaped):
        if escaped[i] == "\\":
            out.append({"n": "\n", "t": "\t", "\\": "\\"}[escaped[i + 1]])
            i += 2
        else:
            out.append(escaped[i])
            i += 1
    assert "".join(out) == text


@given(st.sampled_from([8, 13]).flatmap(lambda n: st.text("0123456789", min_size=n, max_size=n)))
def test_ean_check_digit_agrees_with_python_stdnum(digits: str) -> None:
    from stdnum import ean

    from scanner.normalize import _ean_valid

    assert _ean_valid(digits) == ean.is_valid(digits)
