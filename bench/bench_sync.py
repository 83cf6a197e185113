"""Sync benchmarks against a real server process (gunicorn on loopback). Prints a table.

    python bench/bench_sync.py                 # everything, SQLite (+ PostgreSQL if reachable)
    python bench/bench_sync.py --quick         # smaller sizes, for a smoke run

1. push of 10,000 events (target < 5 s)
2. first pull of a 50,000-copy catalogue (target < 15 s)
3. one new event synced (push + pull) against a server holding 10,000 and 1,000,000 loans
   (target < 50 ms, and not growing with the database)
4. 20 kiosks syncing at once (separate `muontra sync` processes) on SQLite and PostgreSQL
"""

from __future__ import annotations

import argparse
import os
import platform
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from kiosk.db import db, write_transaction  # noqa: E402
from kiosk.ledger import get_setting, iso, record  # noqa: E402
from kiosk.store import open_store  # noqa: E402
from sync.client import HttpTransport, SyncClient, SyncSummary, pair  # noqa: E402
from sync.server import service  # noqa: E402
from sync.server.store import open_server_store  # noqa: E402

PG_URL = "postgresql://postgres@127.0.0.1:5432/"


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def server_process(data: Path, url: str | None = None, workers: int = 2):
    port = free_port()
    args = [sys.executable, "-m", "kiosk", "server", "--data", str(data), "--host", "127.0.0.1",
            "--port", str(port), "--workers", str(workers)] + (["--db", url] if url else [])
    proc = subprocess.Popen(args, env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            requests.get(base + "/healthz", timeout=1)
            break
        except requests.RequestException:
            time.sleep(0.1)
    try:
        yield base
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(20)


@contextmanager
def postgres_database():
    import psycopg2

    name = "muontra_bench_" + secrets.token_hex(4)
    admin = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="test")
    admin.autocommit = True
    admin.cursor().execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_URL + name
    finally:
        admin.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def postgres_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


def seed_server(data: Path, url: str | None, patrons: int, copies: int) -> None:
    """Patrons and a catalogue written in bulk (seeding is not what is measured), then published."""
    from kiosk.models import Copy, Patron, Title
    from sync.server.changes import publish

    database = open_server_store(data, url, upgrade=True)
    with service.server_write():
        for start in range(0, patrons, 1000):
            Patron.insert_many([{"code": f"HS{n:06d}", "name": f"Học Sinh {n}", "class_name": "6A1"}
                                for n in range(start, min(patrons, start + 1000))]).execute()
        titles = max(1, copies // 4)
        for start in range(0, titles, 1000):
            Title.insert_many([{"title": f"Truyện {n}", "author": "Tác giả", "category": "TN"}
                               for n in range(start, min(titles, start + 1000))]).execute()
        first_title = Title.select(Title.id).order_by(Title.id).first().id
        for start in range(0, copies, 1000):
            Copy.insert_many([{"code": f"TN-{n:06d}", "title": first_title + n // 4}
                              for n in range(start, min(copies, start + 1000))]).execute()
        publish({("patron", f"HS{n:06d}") for n in range(patrons)} | {("copy", f"TN-{n:06d}") for n in range(copies)})
    database.close()


def new_kiosk(directory: Path, server_data: Path, server_url: str, db_url: str | None, name: str) -> SyncClient:
    """A fresh kiosk data directory paired with the server; leaves the global db bound to the kiosk."""
    database = open_server_store(server_data, db_url)
    code = service.add_device(name, datetime.now(UTC).replace(tzinfo=None))
    database.close()
    open_store(directory, upgrade=True)
    paired = pair(server_url, code, get_setting("device_id"))
    return SyncClient(HttpTransport(server_url), paired.device, paired.secret)


def loan_facts(device: str, count: int, copies: int, offset: int = 0) -> list[tuple[str, dict]]:
    """Alternating checkouts and returns, as the kiosk would record them."""
    facts = []
    now = iso(datetime.now(UTC).replace(tzinfo=None))
    for n in range(offset, offset + count // 2):
        loan = f"bench-{device}-{n}"
        item = f"TN-{n % copies:06d}"
        facts.append(("loan.checkout", {"loan": loan, "item": item, "patron": f"HS{n % 1000:06d}", "at": now,
                                        "due": "2026-03-12", "location": "main", "device": device}))
        facts.append(("loan.checkin", {"loan": loan, "item": item, "at": now, "device": device,
                                       "status": "available"}))
    return facts


def record_locally(device: str, facts) -> None:
    now = datetime.now(UTC).replace(tzinfo=None)
    with write_transaction():
        for event_type, payload in facts:
            record(event_type, payload, device=device, device_time=now)


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


# ---------------------------------------------------------------- benchmarks

def bench_push(tmp: Path, events: int, db_url: str | None = None, label: str = "sqlite") -> tuple[float, SyncSummary]:
    data = tmp / f"push-server-{label}"
    seed_server(data, db_url, 1000, 2000)
    with server_process(data, db_url) as url:
        client = new_kiosk(tmp / f"push-kiosk-{label}", data, url, db_url, "push")
        client.pull(SyncSummary())
        record_locally(client.device, loan_facts(client.device, events, 2000))
        summary = SyncSummary()
        seconds, _ = timed(lambda: client.push(summary))
    db.obj.close()
    assert summary.sent == events, summary
    return seconds, summary


def bench_first_pull(tmp: Path, copies: int) -> tuple[float, SyncSummary]:
    data = tmp / "pull-server"
    seed_server(data, None, 2000, copies)
    with server_process(data) as url:
        client = new_kiosk(tmp / "pull-kiosk", data, url, None, "pull")
        summary = SyncSummary()
        seconds, _ = timed(lambda: client.pull(summary))
    db.obj.close()
    assert summary.received == copies + 2000, summary
    return seconds, summary


def bulk_history(data: Path, loans: int, copies: int) -> None:
    """Closed loans, their applied events and change rows, written straight into the server's SQLite file."""
    database = open_server_store(data, None)
    device = "history-device"
    with database.atomic():
        database.execute_sql(
            f"""WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {loans})
            INSERT INTO loan (uuid, copy_id, patron_id, checked_out_at, due, returned_at, renewals, location,
                              checkout_device, checkin_device)
            SELECT 'old-' || i, 1 + i % {copies}, 1 + i % 1000, '2025-01-01 08:00:00', '2025-01-11',
                   '2025-01-05 08:00:00', 0, 'main', '{device}', '{device}' FROM n""")
        database.execute_sql(
            f"""WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {loans})
            INSERT INTO applied_event (device, seq, uuid, type, payload, device_time, received_at, outcome, reason)
            SELECT '{device}', i, 'ev-' || i, 'loan.checkout', '{{}}', '2025-01-01T08:00:00',
                   '2025-01-01 08:00:01', 'applied', '' FROM n""")
        top = database.execute_sql("SELECT change_seq FROM server_state WHERE id = 1").fetchone()[0]
        database.execute_sql(
            f"""WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {loans})
            INSERT INTO change (kind, key, seq, op, type, payload, in_snapshot)
            SELECT 'loan', 'old-' || i, {top} + i, 'upsert', 'loan.state', '{{}}', 0 FROM n""")
        database.execute_sql(f"UPDATE server_state SET change_seq = {top + loans} WHERE id = 1")
    database.execute_sql("ANALYZE")
    database.close()


def bench_one_event(tmp: Path, loans: int, copies: int = 50_000, rounds: int = 25) -> list[float]:
    data = tmp / f"one-server-{loans}"
    seed_server(data, None, 1000, copies)
    bulk_history(data, loans, copies)
    with server_process(data) as url:
        client = new_kiosk(tmp / f"one-kiosk-{loans}", data, url, None, f"one-{loans}")
        assert client.sync().complete
        times = []
        for n in range(rounds):
            checkout_then_return = loan_facts(client.device, 2, copies, offset=n // 2)
            record_locally(client.device, [checkout_then_return[n % 2]])
            seconds, summary = timed(client.sync)
            assert summary.complete and summary.sent == 1, summary
            times.append(seconds)
    db.obj.close()
    return times


def applied_on_server(data: Path, url: str | None):
    """A counter of the server's applied events, read over its own connection while kiosks sync."""
    from kiosk.db import connect
    from sync.server.store import database_url

    database = connect(database_url(data, url))
    return lambda: database.execute_sql("SELECT COUNT(*) FROM applied_event").fetchone()[0]


def bench_many_kiosks(tmp: Path, url: str | None, kiosks: int, events: int,
                      label: str) -> tuple[float, float, int, float]:
    """Wall time until the server has applied every event, until every kiosk is done, and the kiosks' CPU.

    The kiosks run on this machine's cores too, and each pulls every other kiosk's loans, so
    the first figure is the server's throughput and the second includes the kiosks' own work.
    """
    data = tmp / f"many-server-{label}"
    seed_server(data, url, 1000, 5000)
    with server_process(data, url, workers=4) as base:
        directories = []
        for n in range(kiosks):
            directory = tmp / f"many-{label}-{n}"
            client = new_kiosk(directory, data, base, url, f"{label}-{n}")
            client.pull(SyncSummary())
            record_locally(client.device, loan_facts(client.device, events, 5000, offset=n * events))
            db.obj.close()
            directories.append(directory)
        applied = applied_on_server(data, url)
        already = applied()
        children_before = os.times()
        start = time.perf_counter()
        procs = [subprocess.Popen([sys.executable, "-m", "kiosk", "sync", "--data", str(d), "--quiet"], env=env(),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for d in directories]
        server_done = None
        while server_done is None or any(proc.poll() is None for proc in procs):
            if server_done is None and applied() - already >= kiosks * events:
                server_done = time.perf_counter() - start
            time.sleep(0.02)
        outputs = [proc.communicate(timeout=600) for proc in procs]
        seconds = time.perf_counter() - start
        children = os.times()
        kiosk_cpu = (children.children_user - children_before.children_user
                     + children.children_system - children_before.children_system)
    failed = [out for proc, out in zip(procs, outputs, strict=True) if proc.returncode != 0]
    assert not failed, failed[:2]
    return server_done, seconds, kiosks * events, kiosk_cpu


def python_startup() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "kiosk", "--help"], env=env(), capture_output=True, check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--copies", type=int, default=50_000)
    parser.add_argument("--big-loans", type=int, default=1_000_000)
    parser.add_argument("--kiosks", type=int, default=20)
    args = parser.parse_args()
    q = args.quick
    rows = Rows()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        n = 2000 if q else args.events
        print("push…", file=sys.stderr, flush=True)
        seconds, _ = bench_push(tmp, n)
        rows.append((f"push {n:,} events (gzip batches of 500)", f"{seconds:.2f} s", f"{n / seconds:,.0f} events/s",
                     "< 5 s for 10,000"))
        if postgres_reachable():
            with postgres_database() as pg_url:
                seconds, _ = bench_push(tmp, n, pg_url, "postgresql")
            rows.append((f"push {n:,} events, PostgreSQL server", f"{seconds:.2f} s", f"{n / seconds:,.0f} events/s",
                         "< 5 s for 10,000"))
        copies = 5000 if q else args.copies
        seconds, summary = bench_first_pull(tmp, copies)
        rows.append((f"first pull, {copies:,} copies + 2,000 patrons", f"{seconds:.2f} s",
                     f"{summary.received / seconds:,.0f} records/s", "< 15 s for 50,000"))
        for loans in ((10_000, 100_000) if q else (10_000, args.big_loans)):
            times = bench_one_event(tmp, loans, copies=5000)
            rows.append((f"one new event synced, server with {loans:,} loans",
                         f"p50 {statistics.median(times) * 1000:.1f} ms",
                         f"p95 {sorted(times)[int(len(times) * 0.95) - 1] * 1000:.1f} ms", "< 50 ms"))
        startup = python_startup()
        kiosks, events = (5, 100) if q else (args.kiosks, 200)
        backends = [("SQLite", None)]
        pg = postgres_database() if postgres_reachable() else None
        with pg if pg else _nothing() as pg_url:
            if pg_url:
                backends.append(("PostgreSQL", pg_url))
            for label, url in backends:
                applied, seconds, total, kiosk_cpu = bench_many_kiosks(tmp, url, kiosks, events, label.lower())
                rows.append((f"{kiosks} kiosks × {events} events at once, {label}: all applied on the server",
                             f"{applied:.2f} s wall", f"{total / applied:,.0f} events/s",
                             f"incl. {kiosks} Python start-ups (~{startup:.2f} s each)"))
                rows.append((f"{kiosks} kiosks × {events} events at once, {label}: every kiosk done",
                             f"{seconds:.2f} s wall", f"kiosks' CPU {kiosk_cpu:.1f} s",
                             "each also pulls the others' loans, on the same 2 cores"))
    print(f"load average during the run: {os.getloadavg()}")
    width = max(len(r[0]) for r in rows)
    print(f"\n{'benchmark':<{width}}  {'time':>16}  {'rate':>18}  note")
    for what, time_text, rate, note in rows:
        print(f"{what:<{width}}  {time_text:>16}  {rate:>18}  {note}")


class Rows(list):
    """Each result is printed as soon as it is measured (a long run still leaves its numbers)."""

    def append(self, row) -> None:
        super().append(row)
        print(" | ".join(row), flush=True)


@contextmanager
def _nothing():
    yield None


if __name__ == "__main__":
    main()
