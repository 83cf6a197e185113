"""The server under systemd's watchdog, and a kiosk's daily backup pushing its outbox to the server."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from kiosk.ledger import get_setting
from kiosk.services import Circulation
from sync.server.models import AppliedEvent
from tests.conftest import copy_fact, muontra, patron_fact, received
from tests.sync.conftest import ServerProcess, bound, kiosk_database, pair_kiosk, seed_server, server_database

pytestmark = pytest.mark.slow


def test_the_server_says_ready_and_alive_only_while_its_database_answers(tmp_path: Path, notify_socket):
    sock, path = notify_socket
    data = tmp_path / "server"
    server = ServerProcess(data, env={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "300000"}).start()
    try:
        messages = received(sock, 1.5)
        assert any(m.startswith("READY=1") for m in messages)  # gunicorn's master, once it listens
        assert any("WATCHDOG=1" in m for m in messages)  # the watchdog thread in the master
        (data / "server.sqlite3").rename(data / "gone.sqlite3")
        time.sleep(0.3)
        received(sock, 0.1)
        assert not any("WATCHDOG=1" in m for m in received(sock, 1.0))
    finally:
        server.stop()


def _applied(server: ServerProcess) -> int:
    database = server_database(server.data)
    with bound(database):
        count = AppliedEvent.select().count()
    database.close()
    return count


def test_the_daily_backup_of_a_paired_kiosk_sends_its_unsynced_loans(tmp_path: Path):
    seed_server(tmp_path / "server", [patron_fact("HS001", "Nguyễn Văn An"), copy_fact("TN-0001", "Dế Mèn")])
    server = ServerProcess(tmp_path / "server").start()
    kiosk = tmp_path / "kiosk"
    try:
        pair_kiosk(server, kiosk, "Bàn thủ thư")
        assert muontra("sync", "--data", str(kiosk)).returncode == 0
        database = kiosk_database(kiosk)
        with bound(database):
            Circulation(device=get_setting("device_id")).checkout("HS001", "TN-0001")
        database.close()
        before = _applied(server)

        backup = muontra("--lang", "en", "backup", "--data", str(kiosk))
        assert backup.returncode == 0, backup.stderr
        assert "Unsynced loans sent to the server: 1." in backup.stdout
        assert _applied(server) == before + 1

        server.stop()  # offline: the backup is still made, and says why nothing was sent
        offline = muontra("--lang", "en", "backup", "--data", str(kiosk))
        assert offline.returncode == 0 and "Backup checked and saved" in offline.stdout
        assert len(list((kiosk / "backups").glob("kiosk-*.sqlite3"))) == 2
    finally:
        server.stop()


@pytest.mark.postgres
def test_a_postgresql_server_is_backed_up_with_pg_dump(tmp_path: Path):
    import stat
    import subprocess

    from kiosk.backup import back_up
    from sync.server.store import open_server_store
    from tests.sync.conftest import fresh_postgres_database

    with fresh_postgres_database() as url:
        seed_server(tmp_path / "server", [patron_fact("HS001", "Nguyễn Văn An")], url)
        open_server_store(tmp_path / "server", url).close()
        (dump,) = back_up(tmp_path / "server", db_url=url, usb_roots=[]).files
        assert dump.suffix == ".pgdump" and stat.S_IMODE(dump.stat().st_mode) == 0o600
        listing = subprocess.run(["pg_restore", "--list", str(dump)], capture_output=True, text=True, check=True)
        assert "TABLE DATA public patron" in listing.stdout
        # The kiosk beside it (same machine, same settings) is not dumped again with the server.
        kiosk = tmp_path / "kiosk"
        assert muontra("migrate", "--data", str(kiosk)).returncode == 0
        assert [p.suffix for p in back_up(kiosk, db_url=url, usb_roots=[]).files] == [".sqlite3"]


def test_the_servers_key_is_backed_up_and_put_back_only_where_it_is_missing(tmp_path: Path):
    import stat

    from kiosk.backup import back_up
    from sync.server.store import master_key

    data = tmp_path / "server"
    seed_server(data, [patron_fact("HS001", "Nguyễn Văn An")])
    key = master_key(data)
    files = back_up(data, usb_roots=[]).files
    (database,) = [p for p in files if p.suffix == ".sqlite3"]
    (keys,) = [p for p in files if p.name.endswith(".keys.tar")]
    assert stat.S_IMODE(keys.stat().st_mode) == 0o600

    (data / "server.key").unlink()  # the SD card died: a new machine has neither
    (data / "server.sqlite3").unlink()
    restored = muontra("--lang", "en", "restore", str(database), "--data", str(data), "--yes")
    assert restored.returncode == 0, restored.stderr
    assert "Restored the key" in restored.stdout
    assert (data / "server.key").read_bytes().strip() == key  # kiosks keep their pairing
    assert stat.S_IMODE((data / "server.key").stat().st_mode) == 0o600

    (data / "server.key").write_text("a newer key\n")
    again = muontra("--lang", "en", "restore", str(database), "--data", str(data), "--yes")
    assert again.returncode == 0 and "Restored the key" not in again.stdout
    assert (data / "server.key").read_text() == "a newer key\n"  # a present key is never replaced
