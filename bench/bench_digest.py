"""What the anti-entropy digest adds to a sync (sync/digest.py). Prints a table.

    python bench/bench_digest.py                  # 50,000 copies, 1,000,000 loans (5,000 open)
    python bench/bench_digest.py --quick          # 5,000 copies, 100,000 loans

A real server process (gunicorn on loopback, SQLite) and a kiosk that has pulled it all.
Measured, each as p50 over ``--rounds``:

1. the kiosk's bucket digests (reading its copies, open loans and cards);
2. the server's answer to POST /sync/digest when nothing differs, cold (its digests computed)
   and warm (cached for the change number);
3. a sync when nothing changed anywhere, with the comparison (forced) and without;
4. one new event synced as shipped (the comparison at most every 10 minutes) and with the
   comparison after every sync (MUONTRA_SYNC_CHECK_MINUTES=0);
5. a repair: one bucket differs (a copy's status changed on the kiosk behind the ledger).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_sync import (  # noqa: E402
    bulk_history,
    loan_facts,
    new_kiosk,
    record_locally,
    seed_server,
    server_process,
)
from kiosk.db import db, write_transaction  # noqa: E402
from sync import digest  # noqa: E402
from sync import kiosk_state as state  # noqa: E402
from sync.client import SyncClient, SyncSummary  # noqa: E402
from sync.server.store import open_server_store  # noqa: E402


def open_loans_on_server(data: Path, count: int, copies: int) -> None:
    """``count`` open loans of the first copies, written in bulk and published (a school mid-term)."""
    from kiosk.models import Copy, Loan
    from sync.server import service
    from sync.server.changes import publish

    database = open_server_store(data, None)
    with service.server_write():
        rows = [{"uuid": f"open-{n}", "copy": n + 1, "patron": 1 + n % 1000, "checked_out_at": "2026-03-01 08:00:00",
                 "due": "2026-03-15", "location": "main", "checkout_device": "history-device"} for n in range(count)]
        for start in range(0, count, 1000):
            Loan.insert_many(rows[start:start + 1000]).execute()
        Copy.update(status="on_loan").where(Copy.id <= count).execute()
        codes = [code for (code,) in Copy.select(Copy.code).where(Copy.id <= count).tuples()]
        publish({("copy", code) for code in codes})
    database.close()
    assert copies >= count


def p50(times: list[float]) -> float:
    return statistics.median(times) * 1000


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--copies", type=int, default=50_000)
    parser.add_argument("--loans", type=int, default=1_000_000)
    parser.add_argument("--open", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.copies, args.loans, args.open, args.rounds = 5_000, 100_000, 500, 5
    rows: list[tuple[str, float, str]] = []
    with tempfile.TemporaryDirectory() as tmp_text:
        tmp = Path(tmp_text)
        data = tmp / "server"
        seed_server(data, None, 1000, args.copies)
        bulk_history(data, args.loans, args.copies)
        open_loans_on_server(data, args.open, args.copies)
        with server_process(data) as url:
            client = new_kiosk(tmp / "kiosk", data, url, None, "digest")
            assert client.sync().complete
            kiosk_db = db.obj

            times = [timed(digest.bucket_digests) for _ in range(args.rounds)]
            rows.append(("kiosk: its 256 bucket digests", p50(times), "every comparison"))

            def ask() -> None:
                reply = client.call("/sync/digest", {"cursor": client_cursor(), "buckets": mine, "skip": []},
                                    lambda r: r)
                assert reply["differs"] == [] and not reply["moved"], reply

            mine = digest.bucket_digests()
            cold = []
            for _ in range(args.rounds):
                server_db = open_server_store(data, None)  # a change number the workers have not seen
                from sync.server.changes import publish

                with write_transaction():
                    publish({("policy", "rules")})
                server_db.close()
                db.initialize(kiosk_db)
                client.pull(SyncSummary())
                cold.append(timed(ask))
            rows.append(("server: POST /sync/digest, nothing differs, cold (digests computed)", p50(cold),
                         "once per change number and worker"))
            warm = [timed(ask) for _ in range(args.rounds)]
            rows.append(("server: POST /sync/digest, nothing differs, warm (cached)", p50(warm), ""))

            with_check = [timed(lambda: client.check(SyncSummary(), force=True)) for _ in range(args.rounds)]
            rows.append(("whole comparison (kiosk digests + request), nothing differs", p50(with_check),
                         "target < 100 ms"))

            quiet_plain = [timed(lambda: plain_sync(client)) for _ in range(args.rounds)]
            quiet_checked = [timed(lambda: forced_sync(client)) for _ in range(args.rounds)]
            rows.append(("sync, nothing changed anywhere, no comparison", p50(quiet_plain), ""))
            rows.append(("sync, nothing changed anywhere, comparison forced", p50(quiet_checked),
                         f"+{p50(quiet_checked) - p50(quiet_plain):.1f} ms"))

            plain, checked = [], []
            for n in range(args.rounds * 2):
                record_locally(client.device, [loan_facts(client.device, 2, args.copies, offset=args.open + 100 + n)[0]])
                client.check_gap = timedelta(0) if n % 2 else timedelta(minutes=10)
                (checked if n % 2 else plain).append(timed(client.sync))
            rows.append(("one new event synced, as shipped (compared at most every 10 min)", p50(plain), ""))
            rows.append(("one new event synced, compared every sync (CHECK_MINUTES=0)", p50(checked),
                         f"+{p50(checked) - p50(plain):.1f} ms"))

            repairs = []
            for n in range(args.rounds):
                code = f"TN-{(args.open + 1000 + n):06d}"
                with write_transaction():
                    from kiosk.models import Copy

                    Copy.update(status="damaged").where(Copy.code == code).execute()
                summary = SyncSummary()
                repairs.append(timed(lambda summary=summary: client.check(summary, force=True)))
                assert summary.repaired == 1, summary
            rows.append(("comparison with one bucket to repair (~200 copies sent)", p50(repairs), ""))
        db.obj.close()
    print(f"\n{platform.node()} · {platform.machine()} · Python {platform.python_version()} · "
          f"{args.copies:,} copies, {args.loans:,} closed + {args.open:,} open loans on the server, p50 of "
          f"{args.rounds}\n")
    width = max(len(row[0]) for row in rows)
    for label, ms, note in rows:
        print(f"{label:<{width}}  {ms:8.1f} ms  {note}")


def client_cursor() -> str:
    from kiosk.ledger import get_setting

    return get_setting(state.CURSOR)


def plain_sync(client: SyncClient) -> None:
    summary = SyncSummary()
    client.push(summary)
    client.pull(summary)


def forced_sync(client: SyncClient) -> None:
    summary = SyncSummary()
    client.push(summary)
    client.pull(summary)
    client.check(summary, force=True)


if __name__ == "__main__":
    main()
