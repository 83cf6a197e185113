"""A real kiosk process killed with SIGKILL mid-checkout loses no answered loan and never doubles one."""

from __future__ import annotations

import json
import random
import sqlite3
import threading
import time
from pathlib import Path

import pytest
import requests

from kiosk.db import db
from kiosk.services import Circulation
from kiosk.store import database_path, open_store
from sync.schema import POLICY_LIMITS
from tests.conftest import KioskProcess, copy_fact, patron_fact

ROUNDS = 5
ITEMS = [f"DUR-{n:05}" for n in range(3000)]
# The most a policy may let one card borrow (sync/schema.py POLICY_LIMITS), over enough teachers'
# cards that no run of fast checkouts reaches it: 20 x 200 > the 3000 copies. The public screen's
# card throttle (10 different cards a minute) is raised for it: this test is about SIGKILL.
TEACHERS = tuple(f"GV{n:03}" for n in range(1, 21))
MANY_CARDS = {"MUONTRA_CARD_LOOKUPS_PER_MINUTE": "100", "MUONTRA_CARD_LOOKUPS_PER_MINUTE_ALL": "100"}


def seed(data: Path) -> None:
    open_store(data)
    Circulation("seed").record_facts([
        # A general rule, as every valid policy has.
        ("policy.set", {"rules": [{"patron_kind": "teacher", "category": "*",
                                   "max_loans": POLICY_LIMITS["max_loans"], "loan_days": 30},
                                  {"patron_kind": "student", "category": "*", "max_loans": 3, "loan_days": 10}]}),
        *(patron_fact(code, f"Giáo viên {code}", kind="teacher") for code in TEACHERS),
        *(copy_fact(item, f"Sách {item}") for item in ITEMS),
    ])
    db.close()


class Client(threading.Thread):
    """Lends one copy after another until the server goes away."""

    def __init__(self, url: str, items: list[str]) -> None:
        super().__init__(daemon=True)
        self.url, self.items = url, items
        self.answered: list[str] = []
        self.unanswered: str | None = None
        self.refused: str | None = None  # an answer other than 200: the test says what it was

    def run(self) -> None:
        session = requests.Session()
        for number, item in enumerate(self.items):
            try:
                answer = session.post(self.url + "/api/checkout", json={"patron": TEACHERS[number % len(TEACHERS)], "item": item},
                                      timeout=5)
            except requests.RequestException:
                self.unanswered = item  # killed mid-request: committed or not, never twice
                return
            if answer.status_code != 200:
                self.refused = f"{item}: {answer.status_code} {answer.text[:300]}"
                return
            self.answered.append(item)


def check(path: Path, answered: list[str], unanswered: list[str]) -> None:
    connection = sqlite3.connect(path)
    try:
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        per_copy = dict(connection.execute(
            "SELECT c.code, count(*) FROM loan l JOIN copy c ON c.id = l.copy_id GROUP BY c.code").fetchall())
        assert all(per_copy.get(item) == 1 for item in answered), "an answered checkout was lost"
        assert max(per_copy.values(), default=1) == 1, "a copy was lent twice"
        assert set(per_copy) - set(answered) <= set(unanswered)
        open_loans = connection.execute("SELECT count(*) FROM loan WHERE returned_at IS NULL").fetchone()[0]
        assert open_loans == len(per_copy)
        statuses = dict(connection.execute("SELECT code, status FROM copy WHERE code LIKE 'DUR-%'").fetchall())
        assert all(statuses[item] == "on_loan" for item in per_copy)
        for device, in connection.execute("SELECT DISTINCT device FROM event").fetchall():
            seqs = [row[0] for row in connection.execute(
                "SELECT seq FROM event WHERE device = ? ORDER BY seq", (device,))]
            assert seqs == list(range(1, len(seqs) + 1)), f"gap in {device}'s outbox"
        checkouts = [json.loads(payload)["item"] for payload, in connection.execute(
            "SELECT payload FROM event WHERE type = 'loan.checkout'")]
        assert sorted(checkouts) == sorted(per_copy), "outbox and loans disagree"
    finally:
        connection.close()


@pytest.mark.slow
def test_sigkill_during_checkouts_keeps_every_answered_loan_exactly_once(data_dir):
    seed(data_dir)
    rng = random.Random(20260302)
    answered: list[str] = []
    unanswered: list[str] = []
    remaining = list(ITEMS)
    for _ in range(ROUNDS):
        kiosk = KioskProcess(data_dir, env=MANY_CARDS).start()
        client = Client(kiosk.url, remaining)
        client.start()
        # The kill lands while checkouts are flowing: after the first answer (a loaded machine may
        # take a while to answer the first request of a fresh process), then a random moment later.
        deadline = time.monotonic() + 30
        while not client.answered and client.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(rng.uniform(0.5, 2.0))
        kiosk.kill()
        client.join(10)
        assert not client.is_alive()
        assert client.refused is None, client.refused
        assert client.answered, "the kiosk answered nothing before it was killed"
        answered += client.answered
        if client.unanswered:
            unanswered.append(client.unanswered)
        done = set(client.answered) | {client.unanswered}
        remaining = [item for item in remaining if item not in done]
        check(database_path(data_dir), answered, unanswered)

    # A last restart: the kiosk comes back and serves on the killed database.
    kiosk = KioskProcess(data_dir, env=MANY_CARDS).start()
    try:
        next_item = remaining[0]
        answer = requests.post(kiosk.url + "/api/checkout", json={"patron": "GV001", "item": next_item}, timeout=5)
        assert answer.status_code == 200
        for item in unanswered:  # committed-but-unanswered loans are real loans: a retry is refused
            retry = requests.post(kiosk.url + "/api/checkout", json={"patron": "GV001", "item": item}, timeout=5)
            assert retry.status_code in (200, 409)
    finally:
        kiosk.stop()
    check(database_path(data_dir), [*answered, next_item], unanswered)
