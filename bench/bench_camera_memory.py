"""Memory of the kiosk with its camera running, and what each import costs the camera worker.

    python bench/bench_camera_memory.py [--seconds 20] [--code DIR --python DIR/.venv/bin/python]

1. Import cost: a fresh Python imports the camera worker's modules one at a time; resident (RSS)
   and proportional (PSS) memory after each.
2. A real kiosk process (``python -m kiosk kiosk``, waitress) whose camera is a 640x480 15 fps
   recording of codes held under a webcam (put in place again each time it has ended), with one client reading the live preview (as
   the kiosk's own screen does), sampled every 0.2 s: peak RSS and PSS of the kiosk process, of
   its camera worker, of any other process it started (every descendant is counted: e.g.
   multiprocessing's resource tracker), and of all of them together; then the same kiosk
   without a camera.
``--code`` runs another checkout's kiosk (e.g. main's, with its own venv's ``--python``) in the
same way, to compare in one run. RSS counts a shared library fully in every process that maps
it; PSS splits it between them.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from bench.bench_camera import descendants, memory_kb  # noqa: E402
from tests.conftest import free_port, wait_for_http  # noqa: E402
from tests.kiosk.camera.conftest import footage, put_video  # noqa: E402

WORKER_IMPORTS = ["numpy", "cv2", "PIL.Image", "zxingcpp", "pyzbar.pyzbar", "scanner.camera_serve"]

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
    print("## What the camera worker's imports cost (fresh Python, cumulative)\n")
    print("| after importing | RSS MB | + RSS | PSS MB |")
    print("|---|---:|---:|---:|")
    prev = None
    for line in out.splitlines():
        name, rss, pss = line.split()
        delta = "" if prev is None else f"+{float(rss) - prev:.1f}"
        print(f"| {name} | {float(rss):.1f} | {delta} | {float(pss):.1f} |")
        prev = float(rss)
    print()


class Kiosk:
    """``python -m kiosk kiosk`` from a checkout (this one or ``--code``), on loopback."""

    def __init__(self, code: Path, python: str, data: Path, env: dict[str, str]) -> None:
        self.env = {**os.environ, "PYTHONPATH": str(code), **env}
        self.code, self.python, self.port = code, python, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        subprocess.run([python, "-c", "import sys; from kiosk.store import open_store; from kiosk.db import db; "
                        "open_store(sys.argv[1], upgrade=True); db.close()", str(data)],
                       env=self.env, cwd=code, check=True)
        self.proc = subprocess.Popen([python, "-m", "kiosk", "kiosk", "--data", str(data), "--port", str(self.port)],
                                     env=self.env, cwd=code, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_http(self.url + "/healthz", timeout=60)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def threads(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("Threads:"))


Row = tuple[float, float, int, float]


def sample(kiosk: Kiosk, seconds: float, replay: Callable[[], object] | None) -> dict[str, Row]:
    """Peak (RSS MB, PSS MB, threads) per process role, and of all the kiosk's processes together,
    with the CPU they used meanwhile (% of one core). ``replay`` puts the recording in place again
    whenever the camera says it ended."""
    camera = replay is not None
    peak: dict[str, tuple[float, float, int]] = {}
    cpu_first: dict[int, float] = {}
    cpu_last: dict[int, tuple[str, float]] = {}
    stop = threading.Event()

    def preview() -> None:  # the kiosk's screen shows the camera preview
        while not stop.is_set():
            try:
                with requests.get(kiosk.url + "/camera/preview.mjpg", stream=True, timeout=10) as r:
                    for _ in r.iter_content(65536):
                        if stop.is_set():
                            return
            except requests.RequestException:
                pass
            time.sleep(0.2)  # the page reopens an ended preview on the next "ok"

    reader = threading.Thread(target=preview, daemon=True)
    if camera:
        reader.start()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        health = requests.get(kiosk.url + "/healthz", timeout=5).json()
        worker = (health.get("camera") or {}).get("worker_pid")
        if replay is not None and health["camera"]["status"] == "ended":
            replay()
        now: dict[str, tuple[float, float, int]] = {}
        for pid in [kiosk.proc.pid, *descendants(kiosk.proc.pid)]:
            name = "kiosk" if pid == kiosk.proc.pid else "worker" if pid == worker else "other"
            try:
                rss, pss = memory_mb(pid)
                count = threads(pid)
                used = cpu_seconds(pid)
            except (OSError, StopIteration):
                continue
            cpu_first.setdefault(pid, used)
            cpu_last[pid] = (name, used)
            old = now.get(name, (0.0, 0.0, 0))
            now[name] = (old[0] + rss, old[1] + pss, old[2] + count)
        now["all"] = (sum(v[0] for v in now.values()), sum(v[1] for v in now.values()),
                      sum(v[2] for v in now.values()))
        for name, (rss, pss, count) in now.items():
            old = peak.get(name, (0.0, 0.0, 0))
            peak[name] = (max(old[0], rss), max(old[1], pss), max(old[2], count))
        time.sleep(0.2)
    stop.set()
    cpu: dict[str, float] = {}
    for pid, (name, used) in cpu_last.items():
        for role in (name, "all"):
            cpu[role] = cpu.get(role, 0.0) + 100 * (used - cpu_first[pid]) / seconds
    return {name: (*values, cpu.get(name, 0.0)) for name, values in peak.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--env", action="append", default=[], help="NAME=VALUE for the kiosk process")
    ap.add_argument("--code", type=Path, default=ROOT, help="the checkout whose kiosk to run (default: this one)")
    ap.add_argument("--python", default=sys.executable, help="its Python (e.g. DIR/.venv/bin/python)")
    ap.add_argument("--no-imports", action="store_true", help="skip the import-cost table")
    args = ap.parse_args()
    extra = dict(e.split("=", 1) for e in args.env)
    print(f"Load average at start: {os.getloadavg()[0]:.1f} (nproc {os.cpu_count()}); code: {args.code}\n")
    if not args.no_imports:
        import_table()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        frames = footage([(None, 20), ("TN-1000", 30), (None, 20), ("HS100", 30)])
        video = put_video(work / "camera.avi", frames)
        rows = {}
        for label, env in (("camera running", {"MUONTRA_CAMERA": str(video), **extra}), ("no camera", extra)):
            kiosk = Kiosk(args.code.resolve(), args.python, work / f"data-{len(rows)}", env)
            try:
                if "MUONTRA_CAMERA" in env:
                    deadline = time.monotonic() + 60
                    while not requests.get(kiosk.url + "/healthz", timeout=5).json()["camera"].get("worker_pid"):
                        assert time.monotonic() < deadline, "camera worker did not start"
                        time.sleep(0.2)
                camera = "MUONTRA_CAMERA" in env
                rows[label] = sample(kiosk, args.seconds, (lambda: put_video(video, frames)) if camera else None)
            finally:
                kiosk.stop()
    print(f"## Kiosk memory, peak over {args.seconds:.0f} s, MB\n")
    print("| process | RSS | PSS | threads | CPU % of a core |")
    print("|---|---:|---:|---:|---:|")
    cam = rows["camera running"]
    for name, label in (("kiosk", "kiosk process, camera running"), ("worker", "camera worker process"),
                        ("other", "other processes it started"), ("all", "**all together**")):
        if name in cam:
            print(f"| {label} | {cam[name][0]:.0f} | {cam[name][1]:.0f} | {cam[name][2]} | {cam[name][3]:.0f} |")
    bare = rows["no camera"]["all"]
    print(f"| the same kiosk without a camera (all its processes) | {bare[0]:.0f} | {bare[1]:.0f} | {bare[2]} "
          f"| {bare[3]:.0f} |")
    print(f"\nLoad average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
