"""Confirmation across frames and cooldown, driven by frame timestamps."""

from __future__ import annotations

import pytest

from scanner.confirm import ScanConfirmer
from scanner.decode import Decoded

BOX = ((0, 0), (10, 0), (10, 10), (0, 10))


def code(text: str, symbology: str = "CODE128", agreed: bool = False) -> Decoded:
    return Decoded(symbology, text, BOX, agreed)


def run(confirmer: ScanConfirmer, frames: list[list[Decoded]], fps: float = 15.0) -> list[tuple[int, str]]:
    """Feed one list of decodes per frame; return (frame index, text) of each scan."""
    out = []
    for i, decoded in enumerate(frames):
        out += [(i, s.text) for s in confirmer.feed(decoded, i / fps)]
    return out


def test_a_single_unconfirmed_read_is_not_a_scan() -> None:
    assert run(ScanConfirmer(), [[], [code("A1")], [], [], []]) == []


def test_two_reads_within_the_window_make_one_scan() -> None:
    assert run(ScanConfirmer(frames=2, window=1.0), [[code("A1")], [], [code("A1")]]) == [(2, "A1")]


def test_reads_further_apart_than_the_window_do_not_confirm() -> None:
    frames = [[code("A1")]] + [[]] * 20 + [[code("A1")]]  # 21 frames = 1.4 s apart
    assert run(ScanConfirmer(frames=2, window=1.0), frames) == []


@pytest.mark.parametrize("held", [2, 5, 30, 200])
def test_a_code_held_for_any_time_scans_once(held: int) -> None:
    assert run(ScanConfirmer(), [[code("A1")]] * held) == [(1, "A1")]


def test_same_code_again_after_cooldown_out_of_sight_scans_again() -> None:
    c = ScanConfirmer(cooldown=2.0)
    frames = [[code("A1")]] * 10 + [[]] * 31 + [[code("A1")]] * 5  # gone for 31 frames ≈ 2.07 s
    assert [t for _, t in run(c, frames)] == ["A1", "A1"]


def test_cooldown_runs_from_last_sight_not_from_the_scan() -> None:
    # Held 10 s with brief drop-outs (a hand moving): still one loan.
    frames = ([[code("A1")]] * 12 + [[]] * 3) * 10
    assert run(ScanConfirmer(cooldown=2.0), frames) == [(1, "A1")]


def test_agreed_checksummed_code_scans_from_one_frame() -> None:
    c = ScanConfirmer(frames=2)
    assert run(c, [[code("9786041234567", "EAN13", agreed=True)]]) == [(0, "9786041234567")]


@pytest.mark.parametrize("symbology", ["CODE39", "ITF"])
def test_agreement_is_not_enough_without_a_checksum(symbology: str) -> None:
    c = ScanConfirmer(frames=2)
    assert run(c, [[code("12345678", symbology, agreed=True)], []]) == []


def test_agreement_trust_can_be_switched_off() -> None:
    c = ScanConfirmer(frames=2, trust_agreement=False)
    assert run(c, [[code("9786041234567", "EAN13", agreed=True)]]) == []


def test_several_codes_in_view_each_scan_once() -> None:
    both = [code("SGK-000123"), code("9786041234567", "EAN13")]
    assert sorted(t for _, t in run(ScanConfirmer(), [both] * 20)) == ["9786041234567", "SGK-000123"]


def test_alternating_misreads_never_confirm_the_wrong_text() -> None:
    # A misread appearing in isolated frames while the real code is read: only the real one.
    frames = [[code("SGK-000123")], [code("SGK-000128")], [code("SGK-000123")]] + [[]] * 30 + [[code("SGK-000128")]]
    assert [t for _, t in run(ScanConfirmer(window=1.0), frames)] == ["SGK-000123"]


def test_reset_forgets_cooldown() -> None:
    c = ScanConfirmer()
    assert run(c, [[code("A1")]] * 3) == [(1, "A1")]
    c.reset()
    assert [s.text for s in c.feed([code("A1")], 1.0) + c.feed([code("A1")], 1.1)] == ["A1"]


@pytest.mark.parametrize("kwargs", [{"frames": 0}, {"window": 0}, {"cooldown": -1}])
def test_invalid_settings_are_refused(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        ScanConfirmer(**kwargs)


def at(text: str, box: tuple[int, int, int, int], symbology: str = "EAN13") -> Decoded:
    x0, y0, x1, y1 = box
    return Decoded(symbology, text, ((x0, y0), (x1, y0), (x1, y1), (x0, y1)), False)


def test_a_misread_recurring_at_the_place_of_the_real_code_is_not_scanned() -> None:
    # Seen on a clip of upca-2/39.webp: ZBar misread the right half of the code twice in 0.3 s
    # while the whole code was read in the frames between.
    real, misread = at("0012546619592", (230, 220, 418, 272)), at("0022121000066", (331, 234, 419, 253))
    frames = [[misread], [real], [real], [real], [real], [], [], [], [misread], [real], [], [misread]]
    assert [t for _, t in run(ScanConfirmer(), frames, fps=30.0)] == ["0012546619592"]


def test_codes_at_different_places_read_in_alternate_frames_both_scan() -> None:
    label, isbn = at("SGK-000123", (100, 50, 400, 100), "CODE128"), at("9786041234567", (100, 150, 400, 260))
    frames = [[label], [isbn]] * 4
    assert sorted(t for _, t in run(ScanConfirmer(), frames, fps=30.0)) == ["9786041234567", "SGK-000123"]


def test_the_next_code_held_at_the_same_place_scans_at_once() -> None:
    first, second = at("SGK-000010", (200, 200, 440, 260), "CODE128"), at("SGK-000011", (201, 200, 441, 260), "CODE128")
    frames = [[first]] * 12 + [[second]] * 3
    assert run(ScanConfirmer(), frames, fps=30.0) == [(1, "SGK-000010"), (13, "SGK-000011")]
