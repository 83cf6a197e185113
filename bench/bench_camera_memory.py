"""Memory of the kiosk with its camera running, and what each import costs the decoder worker.

    python bench/bench_camera_memory.py [--seconds 20]

1. Import cost: a fresh Python imports the worker's modules one at a time; resident (RSS) and
   proportional (PSS) memory after each.
2. A real kiosk process (``python -m kiosk kiosk``, waitress) whose camera is a looping 640x480
   30 fps recording of codes held under a webcam, with one client reading the live preview (as
   the kiosk's own screen does), sampled every 0.2 s: peak RSS and PSS of the kiosk process, of
   its decoder worker, and of both together; then the same kiosk without a camera.
RSS counts a shared library fully in every process that maps it; PSS splits it between them.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from bench.bench_camera import memory_kb  # noqa: E402
from kiosk.db import db  # noqa: E402
from kiosk.store import open_store  # noqa: E402
from tests.conftest import KioskProcess  # noqa: E402
from tests.kiosk.camera.conftest import footage, put_video  # noqa: E402

WORKER_IMPORTS = ["numpy", "cv2", "zxingcpp", "pyzbar.pyzbar", "scanner.worker"]

_PROBE = """
import importlib, sys
def mem():
    rss = pss = 0
    for l in open('/proc/self/status'):
        if l.startswith('VmRSS:'): rss = int(l.split()[1])
    for l in open('/proc/self/smaps_rollup'):
        if l.startswith('Pss:'): pss = int(l.split()[1])
    return rss / 1024, pss / 1024
print('python', *mem())
for m in sys.argv[1:]:
    importlib.import_module(m)
    print(m, *mem())
"""


def memory_mb(pid: int) -> tuple[float, float]:
    rss, pss = memory_kb(pid)
    return rss / 1024, pss / 1024


def import_table() -> None:
    out = subprocess.run([sys.executable, "-c", _PROBE, *WORKER_IMPORTS], capture_output=True, text=True,
                         check=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}).stdout
    print("## What the decoder worker's imports cost (fresh Python, cumulative)\n")
    print("| after importing | RSS MB | + RSS | PSS MB |")
    print("|---|---:|---:|---:|")
    prev = None
    for line in out.splitlines():
        name, rss, pss = line.split()
        delta = "" if prev is None else f"+{float(rss) - prev:.1f}"
        print(f"| {name} | {float(rss):.1f} | {delta} | {float(pss):.1f} |")
        prev = float(rss)
    print()


def sample(kiosk: KioskProcess, seconds: float, camera: bool) -> dict[str, tuple[float, float]]:
    peak: dict[str, tuple[float, float]] = {}
    stop = threading.Event()

    def preview() -> None:  # the kiosk's screen shows the camera preview
        try:
            with requests.get(kiosk.url + "/camera/preview.mjpg", stream=True, timeout=10) as r:
                for _ in r.iter_content(65536):
                    if stop.is_set():
                        return
        except requests.RequestException:
            pass

    reader = threading.Thread(target=preview, daemon=True)
    if camera:
        reader.start()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        health = requests.get(kiosk.url + "/healthz", timeout=5).json()
        pids = {"kiosk": kiosk.proc.pid}
        if camera and health["camera"].get("worker_pid"):
            pids["worker"] = health["camera"]["worker_pid"]
        now = {}
        for name, pid in pids.items():
            try:
                now[name] = memory_mb(pid)
            except OSError:
                continue
        if "worker" in now:
            now["both"] = (now["kiosk"][0] + now["worker"][0], now["kiosk"][1] + now["worker"][1])
        for name, (rss, pss) in now.items():
            old = peak.get(name, (0.0, 0.0))
            peak[name] = (max(old[0], rss), max(old[1], pss))
        time.sleep(0.2)
    stop.set()
    return peak


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--env", action="append", default=[], help="NAME=VALUE for the kiosk process")
    args = ap.parse_args()
    extra = dict(e.split("=", 1) for e in args.env)
    print(f"Load average at start: {os.getloadavg()[0]:.1f} (nproc {os.cpu_count()})\n")
    import_table()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        video = put_video(work / "camera.avi", footage([(None, 20), ("TN-1000", 30), (None, 20), ("HS100", 30)]))
        rows = {}
        for label, env in (("camera running", {"MUONTRA_CAMERA": str(video), **extra}), ("no camera", extra)):
            data = work / f"data-{len(rows)}"
            open_store(data, upgrade=True)
            db.close()
            kiosk = KioskProcess(data, env=env).start()
            try:
                if "MUONTRA_CAMERA" in env:
                    deadline = time.monotonic() + 60
                    while not requests.get(kiosk.url + "/healthz", timeout=5).json()["camera"].get("worker_pid"):
                        assert time.monotonic() < deadline, "decoder worker did not start"
                        time.sleep(0.2)
                rows[label] = sample(kiosk, args.seconds, "MUONTRA_CAMERA" in env)
            finally:
                kiosk.stop()
    print(f"## Kiosk memory, peak over {args.seconds:.0f} s, MB\n")
    print("| process | RSS | PSS |")
    print("|---|---:|---:|")
    cam = rows["camera running"]
    for name, label in (("kiosk", "kiosk process, camera running"), ("worker", "decoder worker process"),
                        ("both", "**both together**")):
        if name in cam:
            print(f"| {label} | {cam[name][0]:.0f} | {cam[name][1]:.0f} |")
    print(f"| the same kiosk without a camera | {rows['no camera']['kiosk'][0]:.0f} | {rows['no camera']['kiosk'][1]:.0f} |")
    print(f"\nLoad average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
