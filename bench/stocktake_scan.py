"""How long one stock-take scan takes on a kiosk, by collection size.

    python bench/stocktake_scan.py [--sizes 2000,10000,20000] [--scans 200]

Each scan is one write transaction (fact + outbox, fsync) that also answers the live
progress (found / expected) from two grouped queries. Prints a table: copies, ms per
scan (median, p95); the alternative it replaced (recomputing the full result, every list,
on each scan: reads only, no write); and a plain check-in on the same database, the
kiosk's everyday write, as the yardstick.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kiosk.db import db  # noqa: E402
from kiosk.ledger import get_setting  # noqa: E402
from kiosk.services import Circulation  # noqa: E402
from kiosk.store import open_store  # noqa: E402
from kiosk.workflows.services import Workflows  # noqa: E402


def seed(circ: Circulation, copies: int) -> None:
    facts = [("patron.upsert", {"code": "HS001", "name": "Nguyễn Văn An", "class_name": "6A1", "kind": "student"})]
    for n in range(1, copies + 1):
        facts.append(("catalog.upsert", {"item": f"TN-{n:05d}", "title": f"Sách {n // 3}", "category": "TN",
                                         "isbn": None, "author": "", "location": "main",
                                         "shelf": f"{'ABCDEFGH'[n % 8]}{n % 20 + 1}"}))
    circ.record_facts(facts)


def timed(action, codes: list[str]) -> list[float]:
    times = []
    for code in codes:
        start = time.perf_counter()
        action(code)
        times.append((time.perf_counter() - start) * 1000)
    return times


def row(label: str, copies: int, times: list[float]) -> str:
    p95 = sorted(times)[int(len(times) * 0.95) - 1]
    return f"| {copies:>7} | {label:<22} | {statistics.median(times):>8.1f} | {p95:>8.1f} |"


def measure(copies: int, scans: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        open_store(tmp, upgrade=True)
        circ = Circulation(device=get_setting("device_id"))
        seed(circ, copies)
        wf = Workflows(circ)
        session = wf.open_stocktake("main", "A1", "D20", by="bench")
        step = max(1, copies // scans)
        codes = [f"TN-{n:05d}" for n in range(1, copies + 1, step)][:scans]
        print(row("stock-take scan", copies, timed(lambda c: wf.stocktake_scan(session, c, by="bench"), codes)))
        full = timed(lambda c: wf._result(wf._session(session)).progress, codes[:20])
        print(row("full recount (old way)", copies, full))
        print(row("check-in (yardstick)", copies, timed(circ.checkin, codes)))
        db.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="2000,10000,20000")
    parser.add_argument("--scans", type=int, default=200)
    args = parser.parse_args()
    print("| copies  | operation              | median ms | p95 ms   |")
    print("|---------|------------------------|-----------|----------|")
    for copies in [int(s) for s in args.sizes.split(",")]:
        measure(copies, args.scans)


if __name__ == "__main__":
    main()
