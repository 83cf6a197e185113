"""``muontra backup`` and ``muontra restore``: the daily backup (a systemd timer runs it) and its undo."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .backup import (
    KEEP,
    KEYS_SUFFIX,
    KIOSK_FILE,
    SERVER_FILE,
    BackupDamaged,
    Snapshot,
    back_up,
    inspect,
    restore,
    restore_keys,
    usb_folders,
)
from .cli import data_option, language, say
from .errors import N_, MuontraError
from .migrations import SchemaTooNew


@click.command("backup")
@data_option
@click.option("--db", "db_url", envvar="MUONTRA_DB", default=None, metavar="URL",
              help="The server's PostgreSQL database (backed up with pg_dump).")
@click.option("--keep", default=KEEP, show_default=True, type=click.IntRange(1, 1000),
              help="How many backups of each database to keep.")
@click.option("--push/--no-push", default=True, show_default=True,
              help="Also send a paired kiosk's unsynced loans to its server, when it answers.")
def backup_command(data: str, db_url: str | None, keep: int, push: bool) -> None:
    """Back up the databases of a data directory into DATA/backups (and onto a prepared USB stick)."""
    report = back_up(Path(data), db_url=db_url, keep=keep)
    for path in report.files:
        if path.name.endswith(KEYS_SUFFIX):
            click.echo(say(N_("Its keys saved beside it: %(path)s"), path=path))
        else:
            click.echo(say(N_("Backup checked and saved: %(path)s"), path=path))
    for path in report.usb:
        click.echo(say(N_("Copied to the USB stick: %(path)s"), path=path))
    if not usb_folders():
        click.echo(say(N_("No USB stick with a “muontra-backup” folder is plugged in: the backups stay on this "
                          "machine only.")))
    if push and (Path(data) / KIOSK_FILE).exists():
        _push_outbox(data)


def _push_outbox(data: str) -> None:
    """A backup protects against a dead SD card; the server holding the loans protects better."""
    from sync import kiosk_state
    from sync.client import client_for

    from .store import open_store

    open_store(data)
    if kiosk_state.pairing() is None:
        return
    try:
        summary = client_for().sync()
    except MuontraError as exc:
        click.echo(exc.message_in(language()), err=True)
        return
    if summary.complete:
        click.echo(say(N_("Unsynced loans sent to the server: %(sent)s."), sent=summary.sent))
    else:
        click.echo(say(N_("The server did not take every loan (%(waiting)s still waiting): %(reason)s"),
                       waiting=summary.waiting, reason=kiosk_state.error_text(language())), err=True)


def _describe(snapshot: Snapshot) -> str:
    return say(N_("%(readers)s readers, %(copies)s copies, %(loans)s open loans (schema %(schema)s)"),
               readers=snapshot.counts.get("patron", 0), copies=snapshot.counts.get("copy", 0),
               loans=snapshot.counts.get("loan", 0),
               schema=", ".join(f"{name} {len(applied)}" for name, applied in sorted(snapshot.migrations.items())))


@click.command("restore")
@click.argument("backup_file", type=click.Path(exists=True, dir_okay=False))
@data_option
@click.option("--yes", is_flag=True, help="Don't ask before replacing the current database.")
def restore_command(backup_file: str, data: str, yes: bool) -> None:
    """Put a backup in place of the data directory's database (stop the kiosk or server first)."""
    backup = inspect(Path(backup_file))
    if found := backup.too_new():
        raise SchemaTooNew(found=found[0], known=found[1])
    target = Path(data) / (SERVER_FILE if backup.kind == "server" else KIOSK_FILE)
    click.echo(say(N_("The backup holds %(what)s."), what=_describe(backup)))
    if target.exists():
        try:
            click.echo(say(N_("The database now holds %(what)s."), what=_describe(inspect(target))))
        except BackupDamaged as exc:
            click.echo(exc.message_in(language()))
        if not yes and not click.confirm(say(N_("Replace it? The current database is kept beside it."))):
            click.echo(say(N_("Nothing changed.")))
            sys.exit(1)
    restored, aside = restore(Path(backup_file), Path(data))
    if restored.kind == "server":
        from sync.server.store import open_server_store

        open_server_store(data, str(target), upgrade=True).close()
    else:
        from .store import open_store

        open_store(data, upgrade=True).close()
    click.echo(say(N_("Restored %(path)s."), path=target))
    for key in restore_keys(Path(backup_file), Path(data)):
        click.echo(say(N_("Restored the key %(path)s."), path=key))
    if aside is not None:
        click.echo(say(N_("The replaced database is kept as %(path)s."), path=aside))

