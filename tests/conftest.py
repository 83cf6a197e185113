"""Shared fixtures: every test gets a fresh real SQLite file in its own data directory."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

# mDNS (server discovery) stays on loopback in every test and every process a test starts: this
# machine may send nothing to the real network.
os.environ["MUONTRA_MDNS_INTERFACES"] = "127.0.0.1"

from kiosk.app import create_app  # noqa: E402
from kiosk.db import db
from kiosk.services import Circulation
from kiosk.store import open_store

ROOT = Path(__file__).resolve().parent.parent


class FakeClock:
    """A settable clock so due dates and overdue rules are tested on known days."""

    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment

    def set(self, moment: datetime) -> None:
        self.moment = moment


@pytest.fixture
def clock() -> FakeClock:
    # A Monday in term time, 09:00 in Hà Nội.
    return FakeClock(datetime(2026, 3, 2, 2, 0, tzinfo=UTC))


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    open_store(path, upgrade=True)
    db.close()
    return path


@pytest.fixture
def app(data_dir: Path, clock: FakeClock):
    return create_app({"DATA_DIR": str(data_dir), "TESTING": True, "CLOCK": clock})


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def circ(app) -> Iterator[Circulation]:
    """The app's own service object, with the database connected for direct calls."""
    db.connect(reuse_if_open=True)
    yield app.extensions["circulation"]
    db.close()


def patron_fact(code: str, name: str, class_name: str = "6A1", kind: str = "student", active: bool = True,
                **extra):
    return ("patron.upsert", {"code": code, "name": name, "class_name": class_name, "kind": kind,
                              "active": active, "school_year": "2025-2026", **extra})


def copy_fact(item: str, title: str, category: str = "TN", isbn: str | None = None, **extra):
    return ("catalog.upsert", {"item": item, "title": title, "category": category, "isbn": isbn,
                               "author": extra.pop("author", ""), **extra})


@pytest.fixture
def school(circ: Circulation) -> Circulation:
    """A tiny school: three students, a teacher, a helper, a few books of each category."""
    circ.record_facts([
        patron_fact("HS001", "Nguyễn Văn An"),
        patron_fact("HS002", "Trần Thị Bình"),
        patron_fact("HS003", "Lê Minh Châu", active=False),
        patron_fact("GV001", "Phạm Thu Hà", class_name="", kind="teacher"),
        patron_fact("CTV01", "Đỗ Quang Huy", class_name="7A2", kind="helper"),
        copy_fact("TN-0001", "Dế Mèn phiêu lưu ký", author="Tô Hoài"),
        copy_fact("TN-0002", "Đất rừng phương Nam", author="Đoàn Giỏi"),
        copy_fact("TN-0003", "Tuổi thơ dữ dội", author="Phùng Quán"),
        copy_fact("TN-0004", "Kính vạn hoa", author="Nguyễn Nhật Ánh"),
        copy_fact("STK-0001", "Từ điển Tiếng Việt", category="STK", isbn="9786040000019"),
        copy_fact("SGK-0001", "Toán 6 tập một", category="SGK", isbn="9786040000026"),
        copy_fact("SGK-0002", "Toán 6 tập một", category="SGK", isbn="9786040000026"),
        copy_fact("BAO-0001", "Báo Thiếu niên Tiền phong", category="periodical"),
    ])
    return circ


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def subprocess_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def muontra(*args: str, **kwargs) -> subprocess.CompletedProcess:
    """Run the real CLI in a child process, from this checkout (``env_extra``: more variables)."""
    return subprocess.run([sys.executable, "-m", "kiosk", *args], env=subprocess_env(**kwargs.pop("env_extra", {})),
                          capture_output=True, text=True, timeout=kwargs.pop("timeout", 120), **kwargs)


def wait_for_http(url: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=1)
            return
        except (requests.ConnectionError, requests.Timeout):  # a loaded machine: not up yet
            time.sleep(0.1)
    raise TimeoutError(url)


class KioskProcess:
    """A real kiosk server process (waitress) on loopback."""

    def __init__(self, data: Path, port: int | None = None, env: dict[str, str] | None = None,
                 args: list[str] | None = None) -> None:
        self.data, self.port = data, port or free_port()
        self.env = env or {}
        self.args = args or []  # extra `muontra kiosk` options, e.g. ["--camera", "0"]
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> KioskProcess:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kiosk", "kiosk", "--data", str(self.data), "--port", str(self.port), *self.args],
            env=subprocess_env(**self.env), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        wait_for_http(self.url + "/healthz")
        return self

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def kiosk_process(data_dir: Path) -> Iterator[KioskProcess]:
    proc = KioskProcess(data_dir)
    yield proc
    proc.stop()


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    """What systemd opens for a unit: a unix datagram socket named by $NOTIFY_SOCKET."""
    path = str(tmp_path / "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(20)
    yield sock, path
    sock.close()


def received(sock: socket.socket, seconds: float) -> list[str]:
    """Every message that arrives within ``seconds``."""
    messages, deadline = [], time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            messages.append(sock.recv(4096).decode())
        except TimeoutError:
            break
    return messages
