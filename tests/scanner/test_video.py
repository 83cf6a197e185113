"""Synthetic camera footage, written to a video file and played back through cv2.VideoCapture
into the real pipeline (VideoFileSource -> Scanner -> Decoder -> ScanConfirmer)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from stdnum import ean

from scanner import Scan, ScanConfirmer, Scanner, VideoFileSource
from tests.scanner.conftest import (
    Effects,
    H,
    W,
    background,
    book_cover,
    finish,
    paste,
    quad_at,
    render_1d,
    render_qr,
    write_video,
)

FPS = 15.0
LABEL = "SGK-000123"  # accession label, Code 128
ISBN12 = "978604123456"
ISBN = ISBN12 + ean.calc_check_digit(ISBN12)
CARD = "HS2025-0042"  # student card, QR

# One placement per frame: (item, quad) pairs to paste.
Shot = list[tuple[np.ndarray, np.ndarray]]


def label_img() -> np.ndarray:
    return render_1d("code128", LABEL, module_px=2)


def isbn_img() -> np.ndarray:
    return render_1d("ean13", ISBN12, module_px=3)


def card_img() -> np.ndarray:
    return render_qr(CARD, module_px=6)


def clip(tmp_path: Path, shots: list[Shot], fx: Effects | Callable[[int], Effects] | None = None,
         seed: int = 0, name: str = "clip.avi") -> Path:
    rng = np.random.default_rng(seed)
    fx = fx or Effects()
    bg = background(rng)
    frames = []
    for i, shot in enumerate(shots):
        f = bg.copy()
        for item, quad in shot:
            paste(f, item, quad)
        frames.append(finish(f, fx(i) if callable(fx) else fx, rng))
    return write_video(tmp_path / name, frames, FPS)


def held(item: np.ndarray, n: int, rng: np.random.Generator, **placement: float) -> list[Shot]:
    """``item`` held for ``n`` frames by a slightly shaky hand."""
    cx, cy = placement.pop("cx", W / 2), placement.pop("cy", H / 2)
    return [[(item, quad_at(item, cx + rng.normal(0, 2), cy + rng.normal(0, 2), **placement))]
            for _ in range(n)]


def play(path: Path, confirmer: ScanConfirmer | None = None) -> list[Scan]:
    scans: list[Scan] = []
    scanner = Scanner(VideoFileSource(path), scans.append, confirmer=confirmer)
    scanner.start()
    assert scanner.wait(timeout=120), "video did not finish playing"
    assert scanner.frames > 0
    return scans


EFFECTS = {
    "clean": Effects(),
    "focus-blur": Effects(blur=1.0),
    "noisy": Effects(noise=9.0),
    "glare": Effects(glare=110.0, glare_at=(W // 2 + 40, H // 2 - 10)),
    "dim": Effects(gain=0.45, noise=4.0),
    "motion": Effects(motion=3),
}


@pytest.mark.parametrize("effect", sorted(EFFECTS))
def test_each_code_held_yields_exactly_one_scan(tmp_path: Path, effect: str) -> None:
    rng = np.random.default_rng(1)
    shots: list[Shot] = [[]] * 5
    shots += held(label_img(), 12, rng, angle=-8)
    shots += [[]] * 8
    shots += held(isbn_img(), 12, rng, angle=15, tilt=0.12)
    shots += [[]] * 8
    shots += held(card_img(), 12, rng, angle=10)
    shots += [[]] * 3
    scans = play(clip(tmp_path, shots, EFFECTS[effect]))
    assert [(s.symbology, s.text) for s in scans] == [("CODE128", LABEL), ("EAN13", ISBN), ("QRCODE", CARD)]


@pytest.mark.parametrize("n", [3, 40])
def test_code_held_n_frames_yields_one_scan(tmp_path: Path, n: int) -> None:
    rng = np.random.default_rng(2)
    shots = [[]] * 3 + held(label_img(), n, rng, angle=4) + [[]] * 3
    assert [s.text for s in play(clip(tmp_path, shots))] == [LABEL]


def test_code_scans_again_only_after_leaving_for_the_cooldown(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    label = label_img()
    shots = held(label, 10, rng) + [[]] * 6 + held(label, 10, rng)  # away 0.4 s: same loan
    shots += [[]] * 40 + held(label, 10, rng)  # away 2.7 s: a new scan
    scans = play(clip(tmp_path, shots), ScanConfirmer(cooldown=2.0))
    assert [s.text for s in scans] == [LABEL, LABEL]
    assert scans[1].timestamp - scans[0].timestamp > 2.0


def test_codes_never_fully_in_view_yield_nothing(tmp_path: Path) -> None:
    label, isbn, card = label_img(), isbn_img(), card_img()
    lw, iw, ch = label.shape[1], isbn.shape[1], card.shape[0]
    shots: list[Shot] = []
    # The label slides in from the right edge up to ~65% visible and back out.
    for x in [*range(0, 105, 5), *range(100, -5, -5)]:
        shots.append([(label, quad_at(label, W + lw / 2 - lw * 0.65 * x / 100, H / 2))])
    # The ISBN crosses the left edge, never more than ~60% inside.
    for x in range(0, 60, 4):
        shots.append([(isbn, quad_at(isbn, -iw / 2 + iw * x / 100, H / 3, angle=3))])
    # The card dips into the bottom edge, at most half of it visible.
    for y in [*range(0, 50, 5), *range(50, -5, -5)]:
        shots.append([(card, quad_at(card, W / 2, H + ch / 2 - ch * y / 100))])
    assert play(clip(tmp_path, shots, Effects(noise=4.0))) == []


def test_label_and_isbn_on_the_same_book_are_both_read(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    cover = book_cover(label_img(), isbn_img())
    shots = [[]] * 3 + held(cover, 15, rng, scale=0.95, angle=6, tilt=0.08) + [[]] * 3
    scans = play(clip(tmp_path, shots, Effects(gain=0.7, noise=5.0)))
    assert sorted((s.symbology, s.text) for s in scans) == [("CODE128", LABEL), ("EAN13", ISBN)]


def test_several_codes_at_once(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    label, isbn, card = label_img(), isbn_img(), card_img()
    shots = [[(label, quad_at(label, 190 + rng.normal(0, 1), 110, angle=-5)),
              (isbn, quad_at(isbn, 200 + rng.normal(0, 1), 350, angle=8)),
              (card, quad_at(card, 500, 240 + rng.normal(0, 1), angle=-12))] for _ in range(12)]
    scans = play(clip(tmp_path, [[]] * 2 + shots, Effects(blur=0.6, noise=5.0)))
    assert sorted(s.text for s in scans) == sorted([LABEL, ISBN, CARD])
