"""The systemd watchdog says "alive" only while the database answers and the camera worker lives;
a real datagram socket listens."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kiosk.camera import CameraRuntime, CameraSettings
from kiosk.store import database_path
from kiosk.watchdog import Watchdog, database_check, decoder_check, notify, watchdog_interval
from tests.conftest import free_port, received, subprocess_env, wait_for_http


def test_beats_while_the_database_answers_and_stops_when_it_is_gone(data_dir: Path, notify_socket):
    sock, path = notify_socket
    db_file = database_path(data_dir)
    dog = Watchdog([database_check(db_file)], interval=0.05, address=path).start()
    try:
        assert sum("WATCHDOG=1" in m for m in received(sock, 0.5)) >= 3
        aside = db_file.with_suffix(".aside")
        db_file.rename(aside)  # the SD card lost it, or someone deleted it
        time.sleep(0.2)  # a beat already under way may still land
        received(sock, 0.1)
        after = received(sock, 0.5)
        assert after and not any("WATCHDOG=1" in m for m in after)
        assert all(m.startswith("STATUS=database:") for m in after)
        assert not db_file.exists()  # the check never creates an empty database in its place
        aside.rename(db_file)
        assert any("WATCHDOG=1" in m for m in received(sock, 0.5))  # back: beats again
    finally:
        dog.stop()


def test_a_corrupt_database_is_not_alive(data_dir: Path, notify_socket):
    sock, path = notify_socket
    db_file = database_path(data_dir)
    for suffix in ("-wal", "-shm"):
        Path(str(db_file) + suffix).unlink(missing_ok=True)
    db_file.write_bytes(b"not a database" * 500)
    assert not Watchdog([database_check(db_file)], interval=1, address=path).beat()
    assert received(sock, 0.3)[0].startswith("STATUS=database:")


def test_the_interval_follows_systemd_and_ignores_another_process():
    assert watchdog_interval({"WATCHDOG_USEC": "60000000"}) == 20
    assert watchdog_interval({"WATCHDOG_USEC": "60000000", "WATCHDOG_PID": str(os.getpid())}) == 20
    assert watchdog_interval({"WATCHDOG_USEC": "60000000", "WATCHDOG_PID": "1"}) is None  # meant for pid 1
    assert watchdog_interval({}) is None and watchdog_interval({"WATCHDOG_USEC": "0"}) is None
    assert notify("READY=1", address="") is False  # not under systemd: nothing to tell


@pytest.mark.slow
def test_the_kiosk_command_says_ready_and_alive_to_systemd(data_dir: Path, notify_socket):
    sock, path = notify_socket
    port = free_port()
    kiosk = subprocess.Popen(
        [sys.executable, "-m", "kiosk", "kiosk", "--data", str(data_dir), "--port", str(port)],
        env=subprocess_env(NOTIFY_SOCKET=path, WATCHDOG_USEC="300000"), stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    try:
        first = sock.recv(4096).decode()
        assert first == "READY=1"
        wait_for_http(f"http://127.0.0.1:{port}/healthz")  # ready meant the port was open
        assert any("WATCHDOG=1" in m for m in received(sock, 1.0))
        database_path(data_dir).rename(data_dir / "gone.sqlite3")
        time.sleep(0.3)
        received(sock, 0.1)
        assert not any("WATCHDOG=1" in m for m in received(sock, 1.0))
    finally:
        kiosk.terminate()
        kiosk.wait(10)


def test_the_camera_worker_check_waits_for_a_replacement_and_fails_once_it_is_gone():
    runtime = CameraRuntime(CameraSettings(mode="device", device="/dev/video97")).start()
    try:
        deadline = time.monotonic() + 60
        while runtime.worker is None and time.monotonic() < deadline:  # the worker process starting
            time.sleep(0.05)
        check = decoder_check(runtime)
        assert check() is None
        old = runtime.worker.pid
        os.kill(old, signal.SIGKILL)  # ZBar crashing takes the whole camera worker with it
        time.sleep(0.2)
        assert check() is None  # replaced: the kiosk can still scan
        assert runtime.worker.pid not in (None, old) and runtime.worker.restarts == 1
    finally:
        runtime.close()
    assert check() == "decoder: worker process dead and not restartable"
