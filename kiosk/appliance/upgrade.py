"""``muontra appliance upgrade WHEEL``: a new version beside the old one, with a way back.

1. The new version gets its own venv (``venvs/VERSION``, cloned from the current one, so only
   what changed is installed: a wheel on a USB stick upgrades a kiosk with no internet) and must
   answer ``muontra --help``. Nothing is stopped before that.
2. The services stop; each data directory is backed up (the pre-migration backup);
   ``current`` points at the new venv; the database is migrated (named migrations: a kiosk
   that missed several versions applies every one it lacks); the services start.
3. If a service doesn't answer ``/healthz`` in time (or the migration fails), everything goes
   back: the old venv, the pre-migration database, the old services, and the command fails.
4. Success: venvs other than the new and the previous one are removed (an SD card is small).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from packaging.version import Version

from ..backup import BACKUP_DIRNAME, back_up, restore
from ..errors import N_, MuontraError
from .install import (
    ApplianceError,
    StepFailed,
    clean_env,
    current_version,
    load_options,
    make_venv,
    migrate_data,
    run,
    switch_current,
    wheel_version,
)
from .layout import USER, Layout
from .services import healthz_url, manager, read_env_file, wait_healthy


class NotNewer(ApplianceError):
    code = "not_newer"
    message = N_("Version %(new)s is not newer than the installed %(old)s: nothing changed.")


class RolledBack(ApplianceError):
    code = "rolled_back"
    message = N_("Version %(new)s did not come up (%(reason)s). Version %(old)s and its data from before the "
                 "upgrade are back and running.")


def version_key(version: str) -> Version:
    """PEP 440 order: 0.10.2 after 0.9.9, 0.2.0rc1 before 0.2.0 (packaging comes with matplotlib)."""
    return Version(version)


@dataclass
class Upgrade:
    old: str
    new: str
    backups: dict[str, Path]
    removed: list[str]


def upgrade(layout: Layout, wheel: Path, *, wheelhouse: Path | None = None, timeout: float = 120) -> Upgrade:
    options = load_options(layout)
    old, new = current_version(layout), wheel_version(wheel)
    if old is None:
        raise StepFailed(step="upgrade", reason=f"{layout.current} is missing")
    if version_key(new) <= version_key(old):
        raise NotNewer(new=new, old=old)
    old_venv, new_venv = layout.venvs / old, layout.venvs / new
    make_venv(new_venv, wheel, old_venv, wheelhouse)
    run("muontra --help (new version)", [str(new_venv / "bin" / "muontra"), "--help"], env=clean_env(),
        timeout=120)

    services = manager(layout)
    for service in options.services:
        services.stop(service)
    backups: dict[str, Path] = {}
    try:
        for service in options.services:
            data = layout.data_for(service)
            report = back_up(data, db_url=_database_url(layout, service), usb_roots=[])
            backups[service] = report.files[0]
            _give_back(layout, [data / BACKUP_DIRNAME, *report.files])
    except (MuontraError, OSError):
        for service in options.services:  # nothing changed yet: the old version goes on lending
            services.start(service, options)
        shutil.rmtree(new_venv, ignore_errors=True)
        raise
    switch_current(layout, new_venv)
    try:
        migrate_data(layout, options)
        for service in options.services:
            services.start(service, options)
        for service in options.services:
            if wait_healthy(healthz_url(options, service), timeout,
                            lambda service=service: services.running(service)) is None:
                raise StepFailed(step=f"muontra-{service} {new}", reason=f"no answer from {healthz_url(options, service)}")
    except ApplianceError as failure:
        _roll_back(layout, options, old_venv, backups, timeout)
        shutil.rmtree(new_venv, ignore_errors=True)  # an SD card is small; the wheel is still there
        reason = failure.params.get("reason") or failure.params.get("step") or failure.code
        raise RolledBack(new=new, old=old, reason=str(reason)[-500:]) from failure
    removed = [venv.name for venv in layout.venvs.iterdir() if venv.name not in (old, new)]
    for name in removed:
        shutil.rmtree(layout.venvs / name)
    return Upgrade(old, new, backups, removed)


def _roll_back(layout: Layout, options, old_venv: Path, backups: dict[str, Path], timeout: float) -> None:
    services = manager(layout)
    for service in options.services:
        services.stop(service)
    switch_current(layout, old_venv)
    for service, backup in backups.items():
        data = layout.data_for(service)
        if backup.suffix == ".pgdump":  # the server's PostgreSQL database, as pg_dump saved it
            run("pg_restore", ["pg_restore", "--clean", "--if-exists", "--single-transaction",
                               "--dbname", _database_url(layout, service) or "", str(backup)], env=clean_env())
            continue
        _snapshot, aside = restore(backup, data)
        _give_back(layout, [p for p in (aside, *data.glob("*.sqlite3")) if p is not None])
    for service in options.services:
        services.start(service, options)
    for service in options.services:
        if wait_healthy(healthz_url(options, service), timeout,
                            lambda service=service: services.running(service)) is None:
            raise StepFailed(step=f"rollback of muontra-{service}",
                             reason=f"no answer from {healthz_url(options, service)}; see journalctl -u muontra-{service}")


def _database_url(layout: Layout, service: str) -> str | None:
    """A server's PostgreSQL URL from its settings file (MUONTRA_DB), if it has one."""
    if service != "server":
        return None
    return read_env_file(layout.etc / "server.env").get("MUONTRA_DB") or None


def _give_back(layout: Layout, paths: list[Path]) -> None:
    """Files root made in a data directory belong to the service user (it must write them later)."""
    if layout.real:
        for path in paths:
            shutil.chown(path, USER, USER)

