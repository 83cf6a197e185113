"""Backups of a data directory and restoring one: a kiosk's or a server's SQLite file, or pg_dump.

A SQLite backup is ``VACUUM INTO``: a consistent, compact copy read while the kiosk keeps lending
(WAL: readers don't block its writes). Every copy is checked (``PRAGMA integrity_check``) before
it counts, is readable by its owner only (0600, like the database: it holds readers' names), and
the oldest beyond ``keep`` are removed. A USB stick gets a copy when it has a ``muontra-backup``
folder at its top: only a stick prepared for it is ever written to.

A restore refuses a file that is damaged or was written by a newer Mượn Trả (its schema has
migrations this code doesn't know), keeps the current database aside, and migrates an older one.
"""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import subprocess
import tarfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from .errors import N_, MuontraError
from .migrations import KIOSK, Component, SchemaTooNew

BACKUP_DIRNAME = "backups"
USB_FOLDER = "muontra-backup"
MEDIA_ROOTS = ("/media", "/mnt", "/run/media")
LABELLED_STICK = "muontra-usb"
KEEP = 14

KIOSK_FILE = "muontra.sqlite3"
SERVER_FILE = "server.sqlite3"


class BackupFailed(MuontraError):
    code = "backup_failed"
    message = N_("The backup of %(source)s failed: %(reason)s")


class BackupDamaged(MuontraError):
    code = "backup_damaged"
    message = N_("%(path)s is not a sound Mượn Trả database (%(reason)s): nothing was restored.")


class NothingToBackUp(MuontraError):
    code = "nothing_to_back_up"
    message = N_("%(data)s holds no Mượn Trả database.")


def _components() -> dict[str, Component]:
    from sync.server.migrations import SERVER

    return {KIOSK.name: KIOSK, SERVER.name: SERVER}


def _stamp(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S%fZ")


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass
class Snapshot:
    """What a SQLite file holds, read without changing it."""

    path: Path
    migrations: dict[str, set[str]] = field(default_factory=dict)  # component -> applied names
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return "server" if "server" in self.migrations else "kiosk"

    def too_new(self) -> tuple[int, int] | None:
        """(found, known) for the first component with migrations this code doesn't know."""
        for name, applied in self.migrations.items():
            component = _components().get(name)
            known = {step for step, _ in component.migrations} if component else set()
            if applied - known:
                return len(applied), len(known)
        return None


def inspect(path: Path) -> Snapshot:
    """Integrity-check a SQLite file and read its schema and a few counts (raises BackupDamaged)."""
    try:
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
    except sqlite3.Error as exc:
        raise BackupDamaged(path=str(path), reason=str(exc)) from exc
    try:
        result = connection.execute("PRAGMA integrity_check").fetchall()
        if result != [("ok",)]:
            raise BackupDamaged(path=str(path), reason="; ".join(str(row[0]) for row in result[:3]))
        snapshot = Snapshot(path)
        for component, name in connection.execute("SELECT component, name FROM schema_migration"):
            snapshot.migrations.setdefault(component, set()).add(name)
        for table, where in (("patron", ""), ("copy", ""), ("loan", " WHERE returned_at IS NULL")):
            try:
                snapshot.counts[table] = connection.execute(f"SELECT count(*) FROM {table}{where}").fetchone()[0]
            except sqlite3.Error:
                snapshot.counts[table] = 0
    except sqlite3.Error as exc:  # "file is not a database", a missing schema_migration table…
        raise BackupDamaged(path=str(path), reason=str(exc)) from exc
    finally:
        connection.close()
    if not snapshot.migrations:
        raise BackupDamaged(path=str(path), reason="no schema")
    return snapshot


def backup_sqlite(source: Path, folder: Path, kind: str, now: datetime | None = None) -> Path:
    """A checked, 0600 copy of ``source`` in ``folder``: ``KIND-STAMP.sqlite3``."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    final = folder / f"{kind}-{_stamp(now)}.sqlite3"
    partial = folder / f".{final.name}.partial"
    partial.unlink(missing_ok=True)
    old_umask = os.umask(0o077)  # VACUUM INTO creates the file: born 0600, never readable by others
    try:
        connection = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
        try:
            connection.execute("VACUUM INTO ?", (str(partial),))
        finally:
            connection.close()
    except sqlite3.Error as exc:
        partial.unlink(missing_ok=True)
        raise BackupFailed(source=str(source), reason=str(exc)) from exc
    finally:
        os.umask(old_umask)
    try:
        inspect(partial)
    except BackupDamaged as exc:
        partial.unlink(missing_ok=True)
        raise BackupFailed(source=str(source), reason=exc.params.get("reason", "")) from exc
    os.chmod(partial, 0o600)
    with open(partial, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(partial, final)
    _fsync_dir(folder)
    return final


def backup_postgres(url: str, folder: Path, now: datetime | None = None) -> Path:
    """``pg_dump --format=custom`` of the server database, checked with ``pg_restore --list``."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    final = folder / f"server-{_stamp(now)}.pgdump"
    partial = folder / f".{final.name}.partial"
    old_umask = os.umask(0o077)
    try:
        subprocess.run(["pg_dump", "--format=custom", "--file", str(partial), url],
                       check=True, capture_output=True, text=True, timeout=3600)
        subprocess.run(["pg_restore", "--list", str(partial)], check=True, capture_output=True, timeout=600)
    except (OSError, subprocess.SubprocessError) as exc:
        partial.unlink(missing_ok=True)
        reason = getattr(exc, "stderr", None) or str(exc)
        raise BackupFailed(source="PostgreSQL", reason=str(reason).strip()) from exc
    finally:
        os.umask(old_umask)
    os.replace(partial, final)
    return final


def rotate(folder: Path, kind: str, keep: int) -> list[Path]:
    """Remove all but the ``keep`` newest backups of ``kind`` in ``folder``; returns the removed."""
    removed: list[Path] = []
    for suffix in (".sqlite3", ".pgdump", KEYS_SUFFIX):
        backups = sorted(p for p in folder.glob(f"{kind}-*{suffix}") if p.name.endswith(suffix))
        removed += backups[:-keep] if keep > 0 else []
    for path in removed:
        path.unlink()
    return removed


# Secrets kept beside the database: without server.key every kiosk must be paired again, without
# a kiosk's sync.key that kiosk must (as a new device), without the kiosk's CA every tablet must
# install a new certificate.
KEY_FILES = ("server.key", "sync.key", "tls/ca.crt", "tls/ca.key")
KEYS_SUFFIX = ".keys.tar"


def _keys_name(backup: Path) -> Path:
    return backup.with_name(backup.name.rsplit(".", 1)[0] + KEYS_SUFFIX)


def backup_keys(data: Path, beside: Path) -> Path | None:
    """The data directory's secrets in a 0600 tar next to the database backup ``beside``."""
    present = [name for name in KEY_FILES if (data / name).is_file()]
    if not present:
        return None
    target = _keys_name(beside)
    partial = target.with_name(f".{target.name}.partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle, tarfile.open(fileobj=handle, mode="w") as tar:
        for name in present:
            tar.add(data / name, arcname=name)
    os.replace(partial, target)
    return target


def restore_keys(backup: Path, data: Path) -> list[Path]:
    """Put back the secrets saved beside ``backup`` that the data directory lacks (never replaces one)."""
    keys = _keys_name(backup)
    if not keys.is_file():
        return []
    restored = []
    with tarfile.open(keys) as tar:
        for member in tar.getmembers():
            target = data / member.name
            if member.name not in KEY_FILES or not member.isfile() or target.exists():
                continue
            target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            content = tar.extractfile(member).read()
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(content)
            restored.append(target)
    return restored


def usb_folders(roots: Sequence[str] | None = None) -> list[Path]:
    """``muontra-backup`` folders at the top of mounted USB sticks (or of ``roots``, for tests)."""
    if roots is None:
        env = os.environ.get("MUONTRA_BACKUP_MOUNTS")
        roots = env.split(os.pathsep) if env else _mount_points()
    for root in roots:
        if Path(root).name == LABELLED_STICK:  # the appliance mounts a stick labelled MUONTRA here
            try:
                (Path(root) / USB_FOLDER).mkdir(exist_ok=True)
            except OSError:
                pass  # no stick plugged in: the automount found nothing
    return [Path(root) / USB_FOLDER for root in roots if (Path(root) / USB_FOLDER).is_dir()]


def _mount_points() -> list[str]:
    try:
        lines = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return []
    points = [line.split()[1].replace("\\040", " ") for line in lines if len(line.split()) > 2]
    return [p for p in points if any(p == root or p.startswith(root + "/") for root in MEDIA_ROOTS)]


def copy_to(folders: Iterable[Path], files: Iterable[Path], keep: int) -> list[Path]:
    """Copy backups into each USB folder (one sub-folder per machine), rotating there too."""
    copies = []
    host = socket.gethostname() or "muontra"
    for folder in folders:
        target = folder / host
        target.mkdir(parents=True, exist_ok=True)
        for path in files:
            copy = target / path.name
            shutil.copyfile(path, copy)
            os.chmod(copy, 0o600)  # ignored by FAT sticks; kept where the file system has owners
            copies.append(copy)
            rotate(target, path.name.split("-", 1)[0], keep)
    return copies


@dataclass
class BackupReport:
    files: list[Path]
    usb: list[Path]
    removed: list[Path]


def back_up(data: Path, *, db_url: str | None = None, keep: int = KEEP, usb_roots: Sequence[str] | None = None,
            now: datetime | None = None) -> BackupReport:
    """Back up every database of a data directory into DATA/backups (+ USB sticks)."""
    folder = data / BACKUP_DIRNAME
    made: list[Path] = []
    kiosk = (data / KIOSK_FILE).exists()
    if kiosk:
        made.append(backup_sqlite(data / KIOSK_FILE, folder, "kiosk", now))
    # A kiosk's directory never holds the server's PostgreSQL data, even when MUONTRA_DB is set
    # for a server on the same machine (the appliance's backup unit reads both settings files).
    if db_url and db_url.startswith(("postgres://", "postgresql://")) and not kiosk:
        made.append(backup_postgres(db_url, folder, now))
    elif (data / SERVER_FILE).exists():
        made.append(backup_sqlite(data / SERVER_FILE, folder, "server", now))
    if not made:
        raise NothingToBackUp(data=str(data))
    if keys := backup_keys(data, made[-1]):
        made.append(keys)
    removed = [old for kind in {path.name.split("-", 1)[0] for path in made} for old in rotate(folder, kind, keep)]
    usb = copy_to(usb_folders(usb_roots), made, keep)
    return BackupReport(made, usb, removed)


def restore(backup: Path, data: Path, now: datetime | None = None) -> tuple[Snapshot, Path | None]:
    """Put ``backup`` in place of the data directory's database of its kind; returns what was
    restored and where the replaced database was kept. Nothing changes when it refuses."""
    snapshot = inspect(backup)
    if found := snapshot.too_new():
        raise SchemaTooNew(found=found[0], known=found[1])
    target = data / (SERVER_FILE if snapshot.kind == "server" else KIOSK_FILE)
    data.mkdir(mode=0o700, parents=True, exist_ok=True)
    aside = None
    if target.exists():
        # The backup API copies what is still in the WAL too: the aside copy is the whole database.
        aside = target.with_name(f"{target.name}.before-restore-{_stamp(now)}")
        old_umask = os.umask(0o077)
        try:
            source = sqlite3.connect(target, timeout=30)
            copy = sqlite3.connect(aside)
            try:
                source.backup(copy)
            finally:
                copy.close()
                source.close()
        finally:
            os.umask(old_umask)
    partial = target.with_name(f".{target.name}.restoring")
    shutil.copyfile(backup, partial)
    os.chmod(partial, 0o600)
    with open(partial, "rb") as handle:
        os.fsync(handle.fileno())
    for suffix in ("-wal", "-shm"):  # they belong to the replaced file
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    os.replace(partial, target)
    _fsync_dir(data)
    return snapshot, aside
