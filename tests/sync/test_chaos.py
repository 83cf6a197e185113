"""Chaos: three kiosk processes and the server through a faulty network, killed at random, then healed.

Random circulation at three real kiosks (their own background sync every second) while the
fault proxy drops, delays, resets and cuts replies (inside the headers too), `muontra sync`
runs over the kiosk's own background sync, and kiosks and the server are SIGKILLed and
restarted. Then the network heals and every kiosk syncs until nothing changes. Whatever
happened, the server must hold every kiosk's every fact exactly once and in order, at most
one open loan per copy, and every kiosk the server's open loans and copy statuses; no
reply may be a 5xx other than the protocol's 503 "busy", and no process may print a traceback.

Seeded: ``MUONTRA_CHAOS_SEED=N`` replays one run's choices (process timing still varies),
``MUONTRA_CHAOS_SEEDS=20`` runs twenty seeds from it, ``MUONTRA_CHAOS_SECONDS`` sets how
long the chaos lasts (default 40). The seed is printed with every failure.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from kiosk.models import Copy
from tests.conftest import copy_fact, free_port, patron_fact, subprocess_env, wait_for_http
from tests.sync.conftest import (
    ServerProcess,
    bound,
    fresh_postgres_database,
    kiosk_database,
    kiosk_events,
    open_loans,
    pair_kiosk,
    seed_server,
    server_applied,
    server_database,
)
from tests.sync.faultproxy import FaultProxy

pytestmark = pytest.mark.slow

PATRONS = [patron_fact(f"HS{n:03d}", f"Học Sinh {n}") for n in range(1, 13)]
COPIES = [copy_fact(f"TN-{n:04d}", f"Truyện số {n}") for n in range(1, 11)]  # few: kiosks collide
CHECK_ALWAYS = {"MUONTRA_SYNC_CHECK_MINUTES": "0"}  # the digest comparison in every sync that moved
FAULTS = ["pass"] * 6 + ["drop_request", "drop_reply", "truncate", "cut_headers", "cut_headers", "reset", "delay"]


def _seeds() -> list[int]:
    """The same on every collecting process (no randomness at collection): a day's seed, or the chosen one."""
    first = int(os.environ.get("MUONTRA_CHAOS_SEED") or datetime.now(UTC).strftime("%Y%m%d"))
    return [first + n for n in range(int(os.environ.get("MUONTRA_CHAOS_SEEDS", "1")))]


class Kiosk:
    """A kiosk process on its own data directory; its stderr kept for the traceback check."""

    def __init__(self, data: Path, log: Path) -> None:
        self.data, self.log = data, log
        self.proc: subprocess.Popen | None = None
        self.url = ""

    def start(self) -> None:
        port = free_port()
        env = subprocess_env(MUONTRA_SYNC_INTERVAL="1", MUONTRA_SYNC_MAX_BACKOFF="2", **CHECK_ALWAYS)
        with open(self.log, "ab") as stderr:
            self.proc = subprocess.Popen([sys.executable, "-m", "kiosk", "kiosk", "--data", str(self.data),
                                          "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=stderr)
        self.url = f"http://127.0.0.1:{port}"
        wait_for_http(self.url + "/healthz", timeout=60)

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


class Chaos:
    def __init__(self, seed: int, tmp: Path, servers: list[ServerProcess]) -> None:
        self.seed, self.tmp, self.servers = seed, tmp, servers
        self.rng = random.Random(seed)
        self.proxy = FaultProxy([server.port for server in servers], choose=self.rng.choice, delay=0.4)
        self.kiosks: list[Kiosk] = []
        self.syncs: list[tuple[subprocess.Popen, Path]] = []
        self.api_statuses: list[int] = []
        self.cli_results: list[tuple[int, str]] = []
        self.actions: dict[str, int] = {}

    def fail(self, message: str) -> None:
        pytest.fail(f"chaos seed {self.seed} (rerun: MUONTRA_CHAOS_SEED={self.seed}): {message}", pytrace=False)

    def count(self, action: str) -> None:
        self.actions[action] = self.actions.get(action, 0) + 1

    # ------------------------------------------------------------ set-up

    def add_kiosk(self, name: str) -> Kiosk:
        data = self.tmp / name
        pair_kiosk(self.servers[0], data, name, url=self.proxy.url)
        kiosk = Kiosk(data, self.tmp / f"{name}.log")
        kiosk.start()
        self.kiosks.append(kiosk)
        return kiosk

    # ------------------------------------------------------------ the chaos

    def circulate(self, kiosk: Kiosk) -> None:
        patron, item = f"HS{self.rng.randint(1, 12):03d}", f"TN-{self.rng.randint(1, 10):04d}"
        action = self.rng.choice(["checkout", "checkout", "checkin", "checkin", "renew"])
        body = {"checkout": {"patron": patron, "item": item}, "checkin": {"item": item},
                "renew": {"patron": patron, "item": item}}[action]
        try:
            reply = requests.post(f"{kiosk.url}/api/{action}", json=body, timeout=10)
        except requests.RequestException:
            return  # the kiosk was just killed
        self.api_statuses.append(reply.status_code)
        self.count(f"{action} {reply.status_code}")

    def cli_sync(self, kiosk: Kiosk) -> None:
        """`muontra sync` on a kiosk whose own background sync runs too."""
        err = self.tmp / f"cli-{len(self.syncs)}.err"
        with open(err, "wb") as stderr:
            proc = subprocess.Popen([sys.executable, "-m", "kiosk", "--lang", "en", "sync", "--data",
                                     str(kiosk.data), "--quiet"], env=subprocess_env(**CHECK_ALWAYS),
                                    stdout=subprocess.DEVNULL, stderr=stderr)
        self.syncs.append((proc, err))
        self.count("muontra sync")

    def kill_kiosk(self, kiosk: Kiosk) -> None:
        kiosk.kill()
        self.count("kiosk SIGKILL")
        time.sleep(self.rng.uniform(0, 0.5))
        kiosk.start()

    def kill_server(self) -> None:
        server = self.rng.choice(self.servers)
        server.kill()
        self.count("server SIGKILL")
        time.sleep(self.rng.uniform(0.2, 1.5))
        server.start()

    def run(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.proxy.schedule = [self.rng.choice(FAULTS) for _ in range(8)]
            roll = self.rng.random()
            kiosk = self.rng.choice(self.kiosks)
            if roll < 0.70:
                self.circulate(kiosk)
            elif roll < 0.82:
                self.cli_sync(kiosk)
            elif roll < 0.90:
                self.kill_kiosk(kiosk)
            elif roll < 0.94:
                self.kill_server()
            else:
                time.sleep(self.rng.uniform(0.2, 1.0))  # let background syncs run into the faults

    # ------------------------------------------------------------ heal and check

    def heal(self) -> None:
        self.proxy.schedule, self.proxy.default = [], "pass"
        for proc, err in self.syncs:
            try:
                proc.wait(120)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
                self.fail(f"a `muontra sync` hung: {err.read_text()}")
            self.cli_results.append((proc.returncode, err.read_text()))
        for kiosk in self.kiosks:
            kiosk.stop()  # the last rounds without background syncs: nothing moves but what we run
        quiet = 0
        for _round in range(8):
            received = 0
            for kiosk in self.kiosks:
                result = subprocess.run([sys.executable, "-m", "kiosk", "--lang", "en", "sync", "--data",
                                         str(kiosk.data), "--quiet"], env=subprocess_env(**CHECK_ALWAYS),
                                        capture_output=True, text=True, timeout=120)
                self.cli_results.append((result.returncode, result.stderr))
                if result.returncode != 0:
                    self.fail(f"sync after healing failed ({result.returncode}): {result.stderr}")
                received += int(re.search(r"received (\d+)", result.stdout).group(1))
            quiet = quiet + 1 if received == 0 else 0
            if quiet == 2:
                return
        self.fail("the kiosks never stopped receiving changes after healing")

    def check(self) -> None:
        server = self.servers[0]
        applied = server_applied(server)
        for kiosk in self.kiosks:
            device, events = kiosk_events(kiosk.data)
            if applied.get(device, []) != events:
                self.fail(f"{kiosk.data.name}: the server's events differ from the kiosk's "
                          f"({len(applied.get(device, []))} on the server, {len(events)} at the kiosk)")
        on_server = open_loans(server_database(server.data, server.db_url))
        copies = [item for _, item, _ in on_server]
        if len(copies) != len(set(copies)):
            self.fail(f"two open loans of one copy on the server: {sorted(on_server)}")
        statuses = _statuses(server_database(server.data, server.db_url))
        for kiosk in self.kiosks:
            mine = open_loans(kiosk_database(kiosk.data))
            if mine != on_server:
                self.fail(f"{kiosk.data.name} open loans differ: only here {sorted(mine - on_server)}, "
                          f"only on the server {sorted(on_server - mine)}")
            if _statuses(kiosk_database(kiosk.data)) != statuses:
                self.fail(f"{kiosk.data.name} copy statuses differ from the server's")
        errors = [status for status in self.api_statuses if status >= 500]
        if errors:
            self.fail(f"the kiosks answered {errors}")
        errors = [status for status in self.proxy.statuses if status >= 500 and status != 503]
        if errors:
            self.fail(f"the server answered {errors}")
        for code, err in self.cli_results:
            if code not in (0, 2, 3) or "Traceback" in err:
                self.fail(f"`muontra sync` exited {code}: {err}")
        for path in [kiosk.log for kiosk in self.kiosks] + [server.log for server in self.servers]:
            if "Traceback" in path.read_text(errors="replace"):
                self.fail(f"a traceback in {path.name}: {path.read_text(errors='replace')[-3000:]}")

    def close(self) -> None:
        for proc, _err in self.syncs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
        for kiosk in self.kiosks:
            kiosk.stop()
        self.proxy.close()


def _statuses(database) -> dict[str, str]:
    with bound(database):
        result = {copy.code: copy.status for copy in Copy.select()}
    database.close()
    return result


def _setting(data: Path, key: str, default):
    from kiosk.ledger import get_setting

    database = kiosk_database(data)
    with bound(database):
        value = get_setting(key, default)
    database.close()
    return value


@contextlib.contextmanager
def _servers(tmp: Path, backend: str, count: int) -> Iterator[list[ServerProcess]]:
    """``count`` app servers on one database (one data directory: they share the master key)."""
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(fresh_postgres_database()) if backend == "postgres" else None
        data = tmp / "server"
        seed_server(data, PATRONS + COPIES, url)
        servers = [ServerProcess(data, db_url=url, log=tmp / f"server-{n}.log") for n in range(count)]
        try:
            for server in servers:
                server.start()
            yield servers
        finally:
            for server in servers:
                server.stop()


def _chaos(seed: int, tmp: Path, backend: str, server_count: int) -> None:
    print(f"chaos seed {seed}: MUONTRA_CHAOS_SEED={seed} replays it")
    with _servers(tmp, backend, server_count) as servers:
        chaos = Chaos(seed, tmp, servers)
        try:
            for name in ("a", "b", "c"):
                chaos.add_kiosk(name)
            chaos.run(float(os.environ.get("MUONTRA_CHAOS_SECONDS", "40")))
            chaos.heal()
            chaos.check()
        finally:
            chaos.close()
        repaired = {kiosk.data.name: len(_setting(kiosk.data, "sync.repairs", [])) for kiosk in chaos.kiosks}
        print(f"chaos seed {seed}: {sorted(chaos.actions.items())}; {len(chaos.proxy.seen)} connections, "
              f"{sum(fault != 'pass' for fault in chaos.proxy.seen)} broken; repaired by the digest {repaired}")


@pytest.mark.parametrize("seed", _seeds())
def test_three_kiosks_and_a_server_converge_whatever_the_network_and_the_kills(seed, tmp_path):
    _chaos(seed, tmp_path, "sqlite", 1)


@pytest.mark.postgres
@pytest.mark.parametrize("seed", _seeds())
def test_two_app_servers_on_one_postgresql_give_the_same_guarantees(seed, tmp_path):
    """The district deployment: two `muontra server` processes on one database, each connection of
    each kiosk to either at random, either killed at random."""
    _chaos(seed, tmp_path, "postgres", 2)
