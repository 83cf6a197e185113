"""Live camera path against raw pyzbar and raw zxing-cpp on the same frames, and motion clips.

    python bench/bench_live_frames.py [--repeat N] [--no-clips]

Frames: every public photo (tests/data/barcodes, a copy of ../shared/barcodes) shrunk to fit and
centred in a 640x480 grey frame, as a camera would see a code held in front of it. Per frame, in
the same run and interleaved (so the machine's load hits every decoder alike): raw pyzbar (ZBar,
all symbologies), raw zxing-cpp (defaults), either of the two, and ours,
``scanner.decode_image(frame, still=False)``, which is what the kiosk's decoder worker runs per
frame. Correct = the expected text is among the texts read; wrong = every other text. Times are
CPU milliseconds of the calling thread (process pinned to one CPU, OpenCV on one thread).
Held-out halves: the photos alternately split in two, so a choice made on one half can be
checked on the other.

Clips: each photo with a code sliding into view, held tilted, with motion blur, defocus, lower
light and JPEG at the tablet's quality (tests/scanner/conftest.py: photo_clip), played at 30 fps
through the kiosk's own objects: ``Scanner(..., worker=DecoderWorker())`` and its
``ScanConfirmer``. Empty clips: the false-positive photos (pages of text, fabric, textures) and
bookshelves built from them, drifting under the camera. Not a test: timings depend on the load.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scanner import DecoderWorker, PushedFrameSource, Scanner, decode_image, load_image  # noqa: E402
from tests.scanner.conftest import (  # noqa: E402
    FPS_CLIP,
    Effects,
    H,
    W,
    background,
    bookshelf,
    camera_frame,
    clip_readable,
    empty_clip,
    finish,
    photo_clip,
    play_clip,
    public_photos,
    raw_pyzbar_texts,
    raw_zxing_texts,
)

DECODERS: dict[str, Callable[[np.ndarray], list[str]]] = {
    "raw pyzbar": raw_pyzbar_texts,
    "raw zxing-cpp": raw_zxing_texts,
    "ours (live path)": lambda f: [d.text for d in decode_image(f, still=False)],
}


def noisy_sensor(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:H, 0:W]
    return np.clip(90 + 50 * xx / W + 30 * yy / H + rng.normal(0, 12, (H, W)), 0, 255).astype(np.uint8)


def cluttered_scene(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return cv2.cvtColor(finish(background(rng), Effects(noise=4.0), rng), cv2.COLOR_BGR2GRAY)


def measure(frames: list[np.ndarray], repeat: int) -> tuple[dict[str, list[list[str]]], dict[str, list[float]]]:
    """Texts per frame and CPU ms per call for every decoder, interleaved frame by frame."""
    texts: dict[str, list[list[str]]] = {k: [] for k in DECODERS}
    ms: dict[str, list[float]] = {k: [] for k in DECODERS}
    for f in frames:
        for r in range(repeat):
            for name, fn in DECODERS.items():
                t = time.thread_time()
                out = fn(f)
                ms[name].append((time.thread_time() - t) * 1000)
                if r == 0:
                    texts[name].append(out)
    return texts, ms


def p95(xs: list[float]) -> float:
    return float(np.percentile(xs, 95))


def frames_table(repeat: int) -> None:
    photos = [p for p in public_photos() if p.expected is not None]
    frames = [camera_frame(load_image(p.path)) for p in photos]
    texts, ms = measure(frames, repeat)
    expected = [p.expected for p in photos]
    rows: dict[str, tuple[list[bool], int]] = {}
    for name in DECODERS:
        ok = [e in t for e, t in zip(expected, texts[name], strict=True)]
        wrong = sum(x != e for e, t in zip(expected, texts[name], strict=True) for x in t)
        rows[name] = (ok, wrong)
    union_ok = [a or b for a, b in zip(rows["raw pyzbar"][0], rows["raw zxing-cpp"][0], strict=True)]
    ours_ok = rows["ours (live path)"][0]
    zbar_median = statistics.median(ms["raw pyzbar"])
    print(f"## {len(photos)} public photos with a code, as 640x480 frames\n")
    print("| decoder | correct | wrong texts | half A | half B | median ms | p95 ms | median / raw ZBar's |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name in [*DECODERS][:2] + ["either of the two", "ours (live path)"]:
        ok, wrong = (union_ok, None) if name == "either of the two" else rows[name]
        cells = [str(sum(ok)), "—" if wrong is None else str(wrong), str(sum(ok[0::2])), str(sum(ok[1::2]))]
        if name in ms:
            m = statistics.median(ms[name])
            cells += [f"{m:.1f}", f"{p95(ms[name]):.1f}", f"{m / zbar_median:.2f}"]
        else:
            cells += ["—", "—", "—"]
        bold = name.startswith("ours")
        print(f"| {'**' + name + '**' if bold else name} | " + " | ".join(cells) + " |")
    missed = [p.name for p, u, o in zip(photos, union_ok, ours_ok, strict=True) if u and not o]
    extra = [p.name for p, u, o in zip(photos, union_ok, ours_ok, strict=True) if o and not u]
    print(f"\nRead by either raw decoder but not by ours: {', '.join(missed) or 'none'}")
    print(f"Read by ours but by neither raw decoder: {', '.join(extra) or 'none'}\n")

    empties = {
        "false-positive photos (framed as above)": [camera_frame(load_image(p.path))
                                                    for p in public_photos() if p.expected is None],
        "noisy sensor (gradient, noise sigma 12)": [noisy_sensor(s) for s in range(4)],
        "cluttered desk (shapes, printed text)": [cluttered_scene(s) for s in range(4)],
    }
    print("## Frames without a code, 640x480: texts read; median / p95 ms\n")
    print("| frames | n | " + " | ".join(DECODERS) + " |")
    print("|---|---:|" + "---|" * len(DECODERS))
    for kind, fr in empties.items():
        texts, ms = measure(fr, repeat)
        cells = [f"{sum(len(t) for t in texts[k])} read; {statistics.median(ms[k]):.1f} / {p95(ms[k]):.1f}" for k in DECODERS]
        print(f"| {kind} | {len(fr)} | " + " | ".join(cells) + " |")
    print()


def clips_table(limit: int | None) -> None:
    photos = [p for p in public_photos() if p.expected is not None][:limit]
    textures = [g for p in public_photos() if p.expected is None and (g := load_image(p.path)).shape == (H, W)]
    worker = DecoderWorker()
    scanner = Scanner(PushedFrameSource(), lambda scan: None, worker=worker)  # process() only
    try:
        within, later, never, frames_to = 0, 0, [], []
        unreadable_confirmed, unreadable, wrong = 0, 0, []
        t0 = time.perf_counter()
        for i, p in enumerate(photos):
            clip = photo_clip(p, seed=i)
            first, bad = play_clip(scanner, clip)
            wrong += bad
            if not clip_readable(clip):
                unreadable += 1
                unreadable_confirmed += first is not None
                continue
            if first is None:
                never.append(p.name)
                continue
            n = first - clip.first_full_view
            frames_to.append(n)
            if n / FPS_CLIP <= 0.5:
                within += 1
            else:
                later += 1
        readable = len(photos) - unreadable
        empties = [empty_clip(t, f"texture {i}", seed=100 + i) for i, t in enumerate(textures)]
        empties += [empty_clip(bookshelf(textures, s), f"bookshelf {s}", seed=200 + s) for s in range(8)]
        empty_scans = []
        for clip in empties:
            empty_scans += play_clip(scanner, clip)[1]
        elapsed = time.perf_counter() - t0
    finally:
        worker.close()
    print(f"## Motion clips through Scanner + ScanConfirmer (decoder worker), 30 fps, {len(photos)} photos\n")
    print("| clips | n | result |")
    print("|---|---:|---|")
    print(f"| sharp frames readable by either raw decoder | {readable} | confirmed within 0.5 s of full view: "
          f"**{within}**; later: {later}; never: {len(never)} |")
    if frames_to:
        print(f"| frames from full view to the scan (readable clips) | {len(frames_to)} | median "
              f"{statistics.median(frames_to):.0f}, p95 {p95(frames_to):.0f}, max {max(frames_to)} |")
    print(f"| sharp frames readable by neither | {unreadable} | confirmed anyway: {unreadable_confirmed} |")
    print(f"| wrong texts confirmed (all code clips) | {len(photos)} | {len(wrong)} {wrong or ''} |")
    print(f"| empty scenes (false-positive photos, bookshelves) | {len(empties)} | confirmations: "
          f"**{len(empty_scans)}** {empty_scans or ''} |")
    print(f"\nNever confirmed: {', '.join(never) or 'none'}. Clips played in {elapsed:.0f} s wall.\n")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3, help="timed calls per frame and decoder")
    ap.add_argument("--no-clips", action="store_true")
    ap.add_argument("--clips", type=int, default=None, help="only the first N photo clips")
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    cv2.setNumThreads(1)
    print(f"Load average at start: {os.getloadavg()[0]:.1f} (nproc {os.cpu_count()})\n")
    frames_table(args.repeat)
    if not args.no_clips:
        clips_table(args.clips)
    versions = {m: metadata.version(m) for m in ("opencv-python-headless", "zxing-cpp", "pyzbar", "numpy")}
    print(f"Load average at end: {os.getloadavg()[0]:.1f}. Python {platform.python_version()}, "
          + ", ".join(f"{k} {v}" for k, v in versions.items()))


if __name__ == "__main__":
    main()
