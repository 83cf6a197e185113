"""What checking every pushed fact costs (sync/schema.py): the same pushes with and without the checks.

    python bench/bench_schema.py            # 10,000 events, 3 rounds
    python bench/bench_schema.py --quick

Both variants run ``service.push`` in this process on a fresh SQLite server database, alternating,
so the machine's load hits both alike; "without" replaces ``BatchApplier._screen`` (the schema and
role checks) by a pass-through, which is how the server pushed before the checks existed.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_sync import loan_facts, seed_server  # noqa: E402

from kiosk.db import db  # noqa: E402
from sync import schema  # noqa: E402
from sync.server import service  # noqa: E402
from sync.server.batch import BatchApplier  # noqa: E402
from sync.server.store import open_server_store  # noqa: E402

CHECKED = BatchApplier._screen


def _unchecked(self, event):
    return event


def push_all(data: Path, events: int) -> float:
    database = open_server_store(data)
    now = datetime.now(UTC).replace(tzinfo=None)
    device = "kiosk-bench"
    service.pair(service.add_device(device, now, schema.DESK), device, b"bench", now)
    due = (now.date() + timedelta(days=10)).isoformat()  # bench_sync's fixed due day is behind today by now
    facts = [(kind, {**payload, "due": due} if kind == "loan.checkout" else payload)
             for kind, payload in loan_facts(device, events, 2000)]
    batches = [[{"seq": seq, "uuid": str(uuid.uuid4()), "type": kind, "payload": payload,
                 "device_time": now.isoformat()} for seq, (kind, payload) in enumerate(facts, start=1)][i:i + 500]
               for i in range(0, events, 500)]
    start = time.perf_counter()
    for batch in batches:
        reply = service.push(device, batch, now)
        assert all(result["outcome"] == "applied" for result in reply["results"]), reply["results"][:1]
    seconds = time.perf_counter() - start
    database.close()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    events, rounds = (2000, 2) if args.quick else (10_000, 4)
    times: dict[str, list[float]] = {"with the checks": [], "without (as before)": []}
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    with tempfile.TemporaryDirectory() as name:
        for round_ in range(rounds):
            variants = [("with the checks", CHECKED), ("without (as before)", _unchecked)]
            for number, (label, screen) in enumerate(variants if round_ % 2 == 0 else variants[::-1]):
                BatchApplier._screen = screen
                data = Path(name) / f"round-{round_}-{number}"
                seed_server(data, None, 1000, 2000)
                times[label].append(push_all(data, events))
                db.initialize(None)
    BatchApplier._screen = CHECKED
    print(f"\n| push {events:,} plain events in batches of 500, SQLite, in-process | median | events/s | runs |")
    print("|---|---|---|---|")
    for label, values in times.items():
        median = statistics.median(values)
        print(f"| {label} | {median:.2f} s | {events / median:,.0f} | {', '.join(f'{v:.2f}' for v in values)} |")
    ratio = statistics.median(times["with the checks"]) / statistics.median(times["without (as before)"])
    print(f"\nwith / without: {ratio:.2f}×")
    payload = {**loan_facts("kiosk-bench", 2, 10)[0][1], "due": (datetime.now(UTC) + timedelta(days=10)).date().isoformat()}
    start, n = time.perf_counter(), 20_000
    for _ in range(n):
        schema.check_fact("loan.checkout", payload)
    print(f"schema.check_fact(loan.checkout): {(time.perf_counter() - start) / n * 1e6:.1f} µs per fact")
    print(f"load average during the run: {os.getloadavg()}")


if __name__ == "__main__":
    main()
