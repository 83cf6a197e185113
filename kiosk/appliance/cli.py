"""``muontra appliance install|upgrade|uninstall|status``: the school's machine as a kiosk or server."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ..cli import say
from ..errors import N_
from .layout import ROLES, Layout

root_option = click.option(
    "--root", "root", default="/", show_default=True, type=click.Path(file_okay=False),
    help="Install under this directory instead of the system (tests, trying it out): the services "
         "then run as child processes instead of through systemd.")


@click.group("appliance")
def appliance() -> None:
    """Install Mượn Trả as system services on Debian 12 / Raspberry Pi OS (64-bit), upgrade it, remove it."""


@appliance.command("install")
@click.option("--role", type=click.Choice(ROLES), default="kiosk", show_default=True,
              help="kiosk: lending on this machine; server: the school server; both: one machine for both.")
@click.option("--wheel", "wheel", required=True, type=click.Path(exists=True, dir_okay=False),
              help="The Mượn Trả wheel to install (make dist).")
@click.option("--wheelhouse", type=click.Path(exists=True, file_okay=False), default=None,
              help="Install dependencies from this folder of wheels only (no internet).")
@click.option("--base-venv", type=click.Path(exists=True, file_okay=False), default=None,
              help="Reuse the packages of this venv (hard links) instead of downloading them.")
@click.option("--port", default=5000, show_default=True, type=int, help="The kiosk's port.")
@click.option("--server-port", default=8000, show_default=True, type=int, help="The server's port.")
@click.option("--tablets", is_flag=True,
              help="Let tablets on the network use this kiosk (listen on 0.0.0.0, HTTPS on --https-port).")
@click.option("--https-port", default=8443, show_default=True, type=int, help="The kiosk's HTTPS port for tablets.")
@click.option("--camera", default="", help='MUONTRA_CAMERA: /dev/video0, "browser" (tablets) or empty.')
@click.option("--no-screen", is_flag=True, help="No Chromium on this machine's own screen.")
@click.option("--no-apt", is_flag=True, help="Don't install Debian packages (they are there already).")
@click.option("--timeout", default=120, show_default=True, type=float, help="Seconds to wait for /healthz.")
@root_option
def install_command(role: str, wheel: str, wheelhouse: str | None, base_venv: str | None, port: int,
                    server_port: int, tablets: bool, https_port: int, camera: str, no_screen: bool, no_apt: bool, timeout: float,
                    root: str) -> None:
    """Install the kiosk and/or server as services that start at boot, restart, and back up daily."""
    from .install import install
    from .units import Options

    layout = Layout(Path(root).resolve())
    options = Options(role=role, kiosk_port=port, server_port=server_port,
                      listen="0.0.0.0" if tablets else "127.0.0.1", screen=not no_screen, camera=camera,
                      https_port=https_port)
    version = install(layout, options, Path(wheel).resolve(), base=Path(base_venv).resolve() if base_venv else None,
                      wheelhouse=Path(wheelhouse).resolve() if wheelhouse else None, apt=not no_apt,
                      timeout=timeout)
    click.echo(say(N_("Mượn Trả %(version)s is installed and running (%(role)s). Data: %(data)s"),
                   version=version, role=role, data=layout.data))


@appliance.command("uninstall")
@click.option("--purge", is_flag=True, help="Also delete the data (every loan!) and the settings.")
@root_option
def uninstall_command(purge: bool, root: str) -> None:
    """Stop and remove the services and the program; the data stays unless --purge."""
    from .install import uninstall

    layout = Layout(Path(root).resolve())
    uninstall(layout, purge=purge)
    if purge:
        click.echo(say(N_("Mượn Trả is removed, with its data.")))
    else:
        click.echo(say(N_("Mượn Trả is removed; its data stays in %(data)s."), data=layout.data))


@appliance.command("status")
@root_option
def status_command(root: str) -> None:
    """The installed version, role and the health of each service (JSON)."""
    from .install import current_version, load_options
    from .services import healthz_url, wait_healthy

    layout = Layout(Path(root).resolve())
    options = load_options(layout)
    report = {"version": current_version(layout), "role": options.role,
              "versions": sorted(p.name for p in layout.venvs.iterdir()),
              "services": {s: wait_healthy(healthz_url(options, s), 3) for s in options.services}}
    click.echo(json.dumps(report, ensure_ascii=False, indent=2, default=str))
    if not all(report["services"].values()):
        sys.exit(1)


@appliance.command("upgrade")
@click.argument("wheel", type=click.Path(exists=True, dir_okay=False))
@click.option("--wheelhouse", type=click.Path(exists=True, file_okay=False), default=None,
              help="Install new dependencies from this folder of wheels only (no internet).")
@click.option("--timeout", default=120, show_default=True, type=float,
              help="Seconds the new version has to answer /healthz before it is rolled back.")
@root_option
def upgrade_command(wheel: str, wheelhouse: str | None, timeout: float, root: str) -> None:
    """Install a newer wheel beside the current one, migrate, restart; roll back if it doesn't come up."""
    from .upgrade import upgrade

    layout = Layout(Path(root).resolve())
    done = upgrade(layout, Path(wheel).resolve(), wheelhouse=Path(wheelhouse).resolve() if wheelhouse else None,
                   timeout=timeout)
    click.echo(say(N_("Upgraded from %(old)s to %(new)s; the database was backed up first: %(backups)s"),
                   old=done.old, new=done.new, backups=", ".join(str(p) for p in done.backups.values())))
