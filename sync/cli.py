"""``muontra server …`` on the school server, ``muontra pair`` and ``muontra sync`` on a kiosk."""

from __future__ import annotations

import json
import os
import sys

import click

from kiosk.cli import data_option, language, say
from kiosk.errors import N_

from .schema import DEFAULT_ROLE, ROLE_LABELS, ROLES

EXIT_SYNC_RUNNING = 3  # `muontra sync`: another sync holds this data directory's lock

db_option = click.option("--db", "db_url", envvar="MUONTRA_DB", default=None,
                         help="Database URL (postgresql://…); default: server.sqlite3 in the data directory.")


def _open(data: str, db_url: str | None, upgrade: bool = False):
    from .server.store import open_server_store

    return open_server_store(data, db_url, upgrade=upgrade)


def _utc_now():
    from kiosk.clock import as_stored, utc_now

    return as_stored(utc_now())


@click.group(invoke_without_command=True)
@data_option
@db_option
@click.option("--host", default="0.0.0.0", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=min(4, 2 * (os.cpu_count() or 1)), show_default=True, type=int)
@click.option("--wsgi", type=click.Choice(["gunicorn", "waitress"]), default=None,
              help="WSGI server (default: gunicorn where it runs, else waitress).")
@click.option("--announce/--no-announce", default=True, show_default=True,
              help="Announce the server on the LAN (mDNS) so kiosks find it without typing an address.")
@click.pass_context
def server(ctx: click.Context, data: str, db_url: str | None, host: str, port: int, workers: int,
           wsgi: str | None, announce: bool) -> None:
    """Run the central school server (or manage it with a sub-command)."""
    if ctx.invoked_subcommand is not None:
        return
    _open(data, db_url, upgrade=True).close()
    from .server.store import master_key

    master_key(data)  # made once, before workers start
    config = {"DATA_DIR": data, "DB": db_url}
    if wsgi is None:
        wsgi = "waitress" if sys.platform == "win32" else "gunicorn"
    click.echo(say(N_("Mượn Trả school server on %(url)s (%(wsgi)s, data: %(data)s)"),
                   url=f"http://{host}:{port}/", wsgi=wsgi, data=data))
    announcer = _announce(data, db_url, host, port) if announce else None
    try:
        _serve(config, wsgi, host, port, workers)
    finally:
        if announcer is not None:
            announcer.terminate()


def _announce(data: str, db_url: str | None, host: str, port: int):
    """Announce on the LAN from a small child process: zeroconf's threads must not live in the process
    gunicorn forks its workers from."""
    import subprocess

    from kiosk.ledger import get_setting
    from kiosk.tls import local_names

    database = _open(data, db_url)
    school = get_setting("school_name") or ""
    database.close()
    addresses = [host] if host not in ("0.0.0.0", "") else [a for a in local_names()[1] if ":" not in a]
    return subprocess.Popen([sys.executable, "-m", "sync.discovery", school, str(port), *addresses])


def _serve(config: dict, wsgi: str, host: str, port: int, workers: int) -> None:
    if wsgi == "gunicorn":
        from .server.wsgi import run_gunicorn

        run_gunicorn(config, host, port, workers)
    else:
        import waitress

        from kiosk.watchdog import database_check, start_for_systemd

        from .server.app import create_app
        from .server.store import database_url

        app = create_app(config)
        wsgi_server = waitress.create_server(app, host=host, port=port, threads=max(4, workers * 2), ident="muontra")
        start_for_systemd([database_check(database_url(config["DATA_DIR"], config["DB"]))])
        wsgi_server.run()


@server.command("migrate")
@data_option
@db_option
def server_migrate(data: str, db_url: str | None) -> None:
    """Create or upgrade the server database (SQLite keeps a backup)."""
    database = _open(data, db_url, upgrade=True)
    click.echo(say(N_("The server database is ready: %(database)s"), database=database.database))


role_option = click.option("--role", type=click.Choice(ROLES), default=DEFAULT_ROLE, show_default=True,
                           help="What the device may record: kiosk (self-check), helper (helper station) "
                                "or desk (librarian desk).")


def _show_code(name: str, code: str) -> None:
    from .server import service

    click.echo(say(N_("Pairing code for %(name)s (valid %(hours)s hours, once): %(code)s"), name=name,
                   hours=service.PAIRING_HOURS, code=code))
    click.echo(say(N_("On the kiosk: %(command)s"), command=f"muontra pair http://SERVER:PORT {code} --data DIR"))


@server.command("add-device")
@click.argument("name")
@role_option
@data_option
@db_option
def add_device(name: str, role: str, data: str, db_url: str | None) -> None:
    """Make a one-time pairing code for a new kiosk."""
    from .server import service

    _open(data, db_url, upgrade=True)
    _show_code(name, service.add_device(name, _utc_now(), role))


@server.command("pair-again")
@click.argument("device")
@data_option
@db_option
def pair_again(device: str, data: str, db_url: str | None) -> None:
    """A pairing code for a paired device (by name or id): its old key stops working now."""
    from .server import service

    _open(data, db_url)
    known, code = service.repair_device(device, _utc_now())
    _show_code(known.name, code)


@server.command("set-role")
@click.argument("device")
@click.argument("role", type=click.Choice(ROLES))
@data_option
@db_option
def set_role(device: str, role: str, data: str, db_url: str | None) -> None:
    """Change what a device may record (kiosk, helper or desk)."""
    from .server import service

    _open(data, db_url)
    changed = service.set_role(device, role)
    click.echo(say(N_("%(name)s is now: %(role)s."), name=changed.name, role=say(ROLE_LABELS[role])))


@server.command("revoke")
@click.argument("device")
@data_option
@db_option
def revoke(device: str, data: str, db_url: str | None) -> None:
    """Stop a kiosk from syncing (by name or id)."""
    from .server import service

    _open(data, db_url)
    revoked = service.revoke_device(device)
    click.echo(say(N_("%(name)s (%(device)s) can no longer sync."), name=revoked.name, device=revoked.id))


@server.command("status")
@data_option
@db_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def server_status(data: str, db_url: str | None, as_json: bool) -> None:
    """Loans, events, conflicts and each device's last sync."""
    from .server import service

    _open(data, db_url)
    report = service.status()
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False))
        return
    click.echo(say(N_("Open loans %(open)s of %(total)s, events applied %(events)s, open conflicts %(conflicts)s"),
                   open=report["loans_open"], total=report["loans_total"], events=report["events_applied"],
                   conflicts=report["conflicts_open"]))
    for device in report["devices"]:
        line = say(N_("last sync %(when)s, last event %(seq)s, waiting %(waiting)s"),
                   when=device["last_sync"] or say(N_("never")), seq=device["last_seq"], waiting=device["pending"])
        revoked = f"  ({say(N_('revoked'))})" if device["revoked"] else ""
        click.echo(f"  {device['name']:<20} {line}{revoked}")


@server.command("set-pin")
@data_option
@db_option
@click.option("--pin", prompt=True, hide_input=True, confirmation_prompt=True)
def server_set_pin(data: str, db_url: str | None, pin: str) -> None:
    """Set the librarian's PIN for the server's pages."""
    from kiosk.admin_auth import set_admin_pin

    _open(data, db_url, upgrade=True)
    set_admin_pin(pin)
    click.echo(say(N_("The librarian's PIN is set.")))


@click.command("pair")
@click.argument("server_url")
@click.argument("code")
@data_option
@click.option("--yes", is_flag=True, help="Pair again without asking when this kiosk is already paired.")
def pair(server_url: str, code: str, data: str, yes: bool) -> None:
    """Pair this kiosk with the school server using the librarian's one-time code."""
    from kiosk.store import open_kiosk

    from . import kiosk_state
    from .client import pair as pair_with

    device = open_kiosk(data).circulation.device
    current = kiosk_state.pairing()
    if current is not None and not yes:
        # As on the admin page: moving a kiosk to another server is a decision, not a typo.
        if not click.confirm(say(N_("This kiosk is already paired with %(server)s as “%(name)s”. Pair it again?"),
                                 server=current.server, name=current.name)):
            click.echo(say(N_("Nothing changed: this kiosk stays paired with %(server)s."), server=current.server))
            sys.exit(1)
    paired = pair_with(server_url, code, device)
    click.echo(say(N_("Paired: this kiosk is “%(name)s” on %(server)s."), name=paired.name, server=paired.server))


@click.command("sync")
@data_option
@click.option("--quiet", is_flag=True, help="No progress bars.")
def sync(data: str, quiet: bool) -> None:
    """Sync once with the school server; exit 0 only if everything was exchanged (2: not all of it,
    3: another sync of this data directory is running)."""
    from kiosk.store import open_kiosk

    from . import kiosk_state
    from .client import SyncAlreadyRunning, client_for

    open_kiosk(data)
    bars: dict[str, click.progressbar] = {}

    def progress(phase: str, done: int, total: int | None) -> None:
        if quiet or not total or total < 200:
            return
        bar = bars.get(phase)
        if bar is None:
            label = say(N_("Sending…")) if phase == "push" else say(N_("Receiving…"))
            bar = bars[phase] = click.progressbar(length=total, label=label, file=sys.stderr)
            bar.__enter__()
        bar.update(done - bar.pos)

    try:
        summary = client_for(progress=progress).sync()
    except SyncAlreadyRunning as exc:
        # The kiosk's background sync (or another `muontra sync`) has this data directory:
        # its own exit code, so a script can tell "try later" from "the server is not there".
        click.echo(exc.message_in(language()), err=True)
        sys.exit(EXIT_SYNC_RUNNING)
    for bar in bars.values():
        bar.__exit__(None, None, None)
    click.echo(say(N_("Sent %(sent)s, received %(received)s, conflicts %(conflicts)s, still waiting %(waiting)s"),
                   sent=summary.sent, received=summary.received, conflicts=summary.conflicts,
                   waiting=summary.waiting))
    if summary.repaired:
        click.echo(say(N_("Corrected from the server's records: %(count)s (see the sync page)"),
                       count=summary.repaired))
    if not summary.complete:
        click.echo(kiosk_state.error_text(language()) or say(N_("Some events are still waiting to be sent.")), err=True)
        sys.exit(2)


