"""Scanner benchmark: raw pyzbar vs the pipeline (raw zxing-cpp as a reference), same frames.

    python bench/bench_scanner.py [--quick]

Prints markdown tables: per-frame median/p95 ms at 640x480 and 1280x720 for empty frames (noisy
sensor, cluttered scene, real photo without a code) and frames with one code; sustained frames
per second on one core; real-photo decode counts per set; frames from first sight to a confirmed
scan; resident memory. The process pins itself to one CPU and OpenCV to one thread, so the
figures are single-core figures. Not a test: numbers depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import cv2
import numpy as np
import zxingcpp
from pyzbar import pyzbar

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scanner import Decoder, DecoderWorker, ScanConfirmer, load_image  # noqa: E402
from scanner.decode import to_gray  # noqa: E402
from tests.scanner.conftest import Effects, background, finish, paste, quad_at, render_1d  # noqa: E402

PHOTOS = ROOT / "tests" / "data" / "barcodes"


def rss_mb(pid: int | str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def synth_scene(size: tuple[int, int], seed: int, code: str | None) -> np.ndarray:
    """A webcam-like 640x480 scene (optionally with an accession label), scaled to ``size``."""
    rng = np.random.default_rng(seed)
    bg = background(rng)
    if code is not None:
        label = render_1d("code128", code, module_px=2)
        paste(bg, label, quad_at(label, 320 + rng.normal(0, 30), 240 + rng.normal(0, 30), angle=rng.normal(0, 10)))
    frame = finish(bg, Effects(noise=4.0), rng)
    return cv2.resize(frame, size, interpolation=cv2.INTER_LINEAR) if size != (640, 480) else frame


def noisy_sensor(size: tuple[int, int], seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    base = 90 + 50 * xx / w + 30 * yy / h
    return np.clip(base + rng.normal(0, 12, (h, w)), 0, 255).astype(np.uint8)


def real_empties(size: tuple[int, int]) -> list[np.ndarray]:
    """The 640x480 photos of falsepositives-1 (scaled up for 1280x720)."""
    photos = sorted((PHOTOS / "falsepositives-1").glob("*.webp"))
    imgs = [img for p in photos if (img := load_image(p)).shape == (480, 640)]
    return [cv2.resize(i, size, interpolation=cv2.INTER_LINEAR) for i in imgs] if size != (640, 480) else imgs


def timed(fn: Callable[[np.ndarray], object], frames: list[np.ndarray], repeat: int) -> list[float]:
    """CPU milliseconds of this thread per call: all the decoders' work runs in the calling
    thread (OpenCV is set to one thread), and CPU time is what other load on a shared machine
    disturbs least. Wall-clock fps is measured separately."""
    out = []
    for _ in range(repeat):
        for f in frames:
            t = time.thread_time()
            fn(f)
            out.append((time.thread_time() - t) * 1000)
    return out


def p95(xs: list[float]) -> float:
    return float(np.percentile(xs, 95))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = ap.parse_args()
    repeat = 2 if args.quick else 6

    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    cv2.setNumThreads(1)

    pipeline = Decoder()
    decoders: dict[str, Callable[[np.ndarray], object]] = {
        "raw pyzbar": lambda f: pyzbar.decode(to_gray(f)),
        "raw zxing-cpp": lambda f: zxingcpp.read_barcodes(to_gray(f)),
        "pipeline (camera)": lambda f: pipeline.decode(f, still=False),
    }

    print(f"Load average at start: {os.getloadavg()[0]:.1f} (nproc {os.cpu_count()})\n")
    print("## Per-frame CPU time, ms (median / p95), one core\n")
    print("| frame | size | " + " | ".join(decoders) + " |")
    print("|---|---|" + "---|" * len(decoders))
    medians: dict[tuple[str, str, str], float] = {}
    for size in ((640, 480), (1280, 720)):
        sz = f"{size[0]}x{size[1]}"
        kinds = {
            "empty: noisy sensor": [noisy_sensor(size, s) for s in range(4)],
            "empty: cluttered scene": [synth_scene(size, s, None) for s in range(4)],
            "empty: real photo": real_empties(size),
            "one code (Code 128 label)": [synth_scene(size, s, f"SGK-{s:06d}") for s in range(4)],
        }
        for kind, frames in kinds.items():
            cells = []
            for name, fn in decoders.items():
                fn(frames[0])  # warm-up
                ts = timed(fn, frames, repeat if "photo" not in kind else max(1, repeat // 2))
                medians[(kind, sz, name)] = statistics.median(ts)
                cells.append(f"{statistics.median(ts):.1f} / {p95(ts):.1f}")
            print(f"| {kind} | {sz} | " + " | ".join(cells) + " |")
    print()
    print("Ratio raw pyzbar / pipeline (median):\n")
    for (kind, sz, name), v in medians.items():
        if name == "pipeline (camera)":
            raw = medians[(kind, sz, "raw pyzbar")]
            print(f"- {kind}, {sz}: {raw / v:.1f}x")
    print()

    # Sustained: a camera stream where a code is in view 1 frame in 5.
    stream = [synth_scene((640, 480), s, f"SGK-{s:06d}" if s % 5 == 0 else None) for s in range(20)]
    print("## Sustained frames per second on one core (640x480, code in 1 frame of 5)\n")
    print("fps by wall clock, and by CPU time (frames / CPU seconds spent: what one core free of")
    print("other load would sustain).\n")
    print("| decoder | fps wall | fps CPU |")
    print("|---|---|---|")
    seconds = 2.0 if args.quick else 5.0
    for name, fn in decoders.items():
        n, t0, c0 = 0, time.perf_counter(), time.thread_time()
        while time.perf_counter() - t0 < seconds:
            fn(stream[n % len(stream)])
            n += 1
        wall, cpu = time.perf_counter() - t0, time.thread_time() - c0
        print(f"| {name} | {n / wall:.0f} | {n / cpu:.0f} |")
    worker = DecoderWorker()
    try:
        assert worker.pid is not None
        n, t0, c0, w0 = 0, time.perf_counter(), time.thread_time(), cpu_seconds(worker.pid)
        while time.perf_counter() - t0 < seconds:
            worker.decode(stream[n % len(stream)])
            n += 1
        wall = time.perf_counter() - t0
        cpu = time.thread_time() - c0 + cpu_seconds(worker.pid) - w0
        print(f"| pipeline in worker process (incl. IPC, both processes' CPU) | {n / wall:.0f} | {n / cpu:.0f} |")
        print()
        print(f"Resident memory: benchmark process {rss_mb():.0f} MB, decoder worker {rss_mb(worker.pid):.0f} MB\n")
    finally:
        worker.close()
    print(f"Load average after: {os.getloadavg()[0]:.1f}\n")

    # First sight to confirmed scan: frames at 30 fps, code appears at frame 10.
    print("## First sight to confirmed scan (camera path, 30 fps)\n")
    print("| rule | frames after first sight | ms incl. decode |")
    print("|---|---|---|")
    seq = [synth_scene((640, 480), 100 + i, "SGK-000042" if i >= 10 else None) for i in range(30)]
    for label, conf in (("2 frames, or 1 frame if both decoders agree", ScanConfirmer()),
                        ("always 2 frames", ScanConfirmer(trust_agreement=False))):
        t0 = None
        for i, f in enumerate(seq):
            if i == 10:
                t0 = time.perf_counter()
            scans = conf.feed(pipeline.decode(f, still=False), i / 30)
            if scans:
                assert t0 is not None
                ms = (i - 10) * 1000 / 30 + (time.perf_counter() - t0) * 1000 / (i - 9)
                print(f"| {label} | {i - 10} | {ms:.0f} |")
                break
    print()

    rows = list(csv.DictReader((PHOTOS / "MANIFEST.tsv").open(encoding="utf-8"), delimiter="\t"))
    confirmation_rules(pipeline, rows)

    # Real photos: each decoder on the same files.
    photo_decoders: dict[str, Callable[[np.ndarray], list[str]]] = {
        # UPC-A given its EAN-13 leading zero, as the expected texts (and every EAN lookup) have it.
        "raw pyzbar": lambda g: [("0" if r.type == "UPCA" else "") + r.data.decode("utf-8", "replace")
                                 for r in pyzbar.decode(g)],
        "raw zxing-cpp": lambda g: [b.text for b in zxingcpp.read_barcodes(g)],
        "pipeline camera path": lambda g: [d.text for d in pipeline.decode(g, still=False)],
        "pipeline stills (scan-image)": lambda g: [d.text for d in pipeline.decode(g, still=True)],
    }
    correct: dict[str, Counter[str]] = {k: Counter() for k in photo_decoders}
    wrong: dict[str, Counter[str]] = {k: Counter() for k in photo_decoders}
    total: Counter[str] = Counter()
    for r in rows:
        p = PHOTOS / r["set"] / r["file"]
        g = load_image(p)
        txt = p.with_suffix(".txt")
        expected = txt.read_bytes().decode("utf-8") if txt.exists() else None
        total[r["set"]] += 1
        for name, fn in photo_decoders.items():
            texts = fn(g)
            correct[name][r["set"]] += expected in texts
            wrong[name][r["set"]] += sum(t != expected for t in texts)
    print("## Real photos: correct (wrong texts) per set\n")
    print("| set | images | " + " | ".join(photo_decoders) + " |")
    print("|---|---|" + "---|" * len(photo_decoders))
    for s in sorted(total):
        print(f"| {s} | {total[s]} | " + " | ".join(f"{correct[k][s]} ({wrong[k][s]})" for k in photo_decoders) + " |")
    print(f"| **total** | {sum(total.values())} | "
          + " | ".join(f"**{sum(correct[k].values())}** ({sum(wrong[k].values())})" for k in photo_decoders) + " |")
    print()
    versions = {m: metadata.version(m) for m in ("opencv-python-headless", "zxing-cpp", "pyzbar", "numpy")}
    print(f"Python {platform.python_version()}, " + ", ".join(f"{k} {v}" for k, v in versions.items()))


def confirmation_rules(pipeline: Decoder, rows: list[dict[str, str]]) -> None:
    """Each real photo held in front of the camera for 5 frames (fresh sensor noise per frame),
    decoded on the camera path and fed to several confirmation rules side by side."""
    rules = {
        "any single read": ScanConfirmer(frames=1, trust_agreement=False),
        "1 frame if both decoders agree, else 2 (default)": ScanConfirmer(),
        "always 2 frames": ScanConfirmer(frames=2, trust_agreement=False),
        "always 3 frames": ScanConfirmer(frames=3, trust_agreement=False),
    }
    good: Counter[str] = Counter()
    bad: Counter[str] = Counter()
    rng = np.random.default_rng(0)
    t = 0.0
    for r in rows:
        p = PHOTOS / r["set"] / r["file"]
        g = load_image(p)
        txt = p.with_suffix(".txt")
        expected = txt.read_bytes().decode("utf-8") if txt.exists() else None
        for _ in range(5):
            noisy = np.clip(g + rng.normal(0, 3, g.shape), 0, 255).astype(np.uint8)
            decoded = pipeline.decode(noisy, still=False)
            for name, conf in rules.items():
                for scan in conf.feed(decoded, t):
                    if scan.text == expected:
                        good[name] += 1
                    else:
                        bad[name] += 1
            t += 1 / 30
        t += 5.0  # the next photo comes after every cooldown has run out
    print("## Confirmation rules: real photos held 5 frames each (camera path)\n")
    print("| rule | correct scans | wrong scans |")
    print("|---|---|---|")
    for name in rules:
        print(f"| {name} | {good[name]} | {bad[name]} |")
    print()


if __name__ == "__main__":
    main()
