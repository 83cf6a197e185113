"""The decoding pipeline on single frames."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import zxingcpp
from hypothesis import given, settings
from hypothesis import strategies as st

from scanner import Decoder, decode_image, load_image
from tests.conftest import ROOT
from tests.scanner.conftest import (
    Effects,
    H,
    W,
    background,
    finish,
    paste,
    quad_at,
    render_1d,
    render_qr,
    with_ean5_addon,
)

FALSE_POSITIVES = ROOT / "tests" / "data" / "barcodes" / "falsepositives-1"


def scene(item: np.ndarray | None, seed: int = 0, fx: Effects | None = None, **placement: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    bg = background(rng)
    if item is not None:
        paste(bg, item, quad_at(item, placement.pop("cx", W / 2), placement.pop("cy", H / 2), **placement))
    return finish(bg, fx or Effects(), rng)


@pytest.mark.parametrize("angle", [0, 20, 45, 70, 90, 135, 180])
def test_label_is_found_at_any_angle(angle: float) -> None:
    frame = scene(render_1d("code128", "SGK-004512", module_px=2), angle=angle, scale=0.9)
    assert [(d.symbology, d.text) for d in decode_image(frame, still=False)] == [("CODE128", "SGK-004512")]


def test_code_held_close_with_wide_bars_is_read() -> None:
    # Bars 6 px wide: at the localiser's work size their flat insides split the code in two.
    ean8 = render_1d("ean8", "5512345", module_px=6, bar_height=200)
    frame = scene(ean8, scale=min(1.0, 630 / ean8.shape[1]), angle=3)
    assert [(d.symbology, d.text) for d in decode_image(frame, still=False)] == [("EAN8", "55123457")]


def test_outline_surrounds_the_code() -> None:
    label = render_1d("ean13", "978604123456", module_px=3)
    frame = scene(label, cx=200, cy=300, angle=10)
    (d,) = decode_image(frame, still=False)
    poly = np.array(d.polygon, np.float32)
    assert cv2.pointPolygonTest(poly, (200.0, 300.0), False) >= 0
    x, y, w, h = cv2.boundingRect(poly)
    assert 150 < w < 330 and x > 40 and x + w < 360


@pytest.mark.parametrize("path", sorted(p for p in FALSE_POSITIVES.iterdir() if p.suffix != ".txt"), ids=lambda p: p.name)
def test_camera_path_finds_nothing_on_photos_without_codes(path: Path) -> None:
    assert decode_image(load_image(path), still=False) == []


@pytest.mark.parametrize("seed", range(4))
def test_empty_scenes_and_sensor_noise_decode_to_nothing(seed: int) -> None:
    assert decode_image(scene(None, seed), still=False) == []
    noise = np.random.default_rng(seed).normal(128, 25, (H, W)).clip(0, 255).astype(np.uint8)
    assert decode_image(noise, still=False) == []


def test_vietnamese_utf8_qr_reads_right_even_with_zbar_alone() -> None:
    text = "Nguyễn Thị Ánh · 10A2 · HS0042"
    frame = scene(render_qr(text, module_px=5))
    assert [d.text for d in Decoder(use_zxing=False).decode(frame, still=False)] == [text]
    assert [d.text for d in Decoder().decode(frame, still=False)] == [text]


def test_isbn_with_a_price_addon_reads_as_the_isbn_alone() -> None:
    label = with_ean5_addon(render_1d("ean13", "978604123456", module_px=3), "90000")
    # The rendered add-on is real: a decoder asked to require it reads it.
    found = zxingcpp.read_barcodes(label, ean_add_on_symbol=zxingcpp.EanAddOnSymbol.Require)
    assert [b.text for b in found] == ["978604123456790000"]
    frame = scene(label, scale=0.9, angle=5)
    for still in (False, True):
        assert [(d.symbology, d.text) for d in decode_image(frame, still=still)] == [("EAN13", "9786041234567")]


def test_symbologies_can_be_restricted() -> None:
    frame = scene(render_1d("code128", "SGK-1", module_px=2))
    assert Decoder({"QRCODE", "EAN13"}).decode(frame, still=True) == []
    assert [d.text for d in Decoder({"CODE128"}).decode(frame, still=True)] == ["SGK-1"]
    with pytest.raises(ValueError):
        Decoder({"PDF417"})


def test_upc_a_is_reported_in_its_ean13_form() -> None:
    frame = scene(render_1d("upca", "03600029145", module_px=3))
    assert [(d.symbology, d.text) for d in decode_image(frame, still=False)] == [("EAN13", "0036000291452")]


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 64), st.integers(1, 64), st.integers(0, 2**32 - 1), st.sampled_from([1, 3, 4]))
def test_any_small_image_decodes_without_error(h: int, w: int, seed: int, channels: int) -> None:
    shape = (h, w) if channels == 1 else (h, w, channels)
    img = np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)
    for still in (False, True):
        assert isinstance(decode_image(img, still=still), list)
