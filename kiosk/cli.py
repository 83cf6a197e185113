"""The ``muontra`` command line (click)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import click

from .errors import N_, MuontraError
from .i18n import DEFAULT_LANGUAGE, translate

data_option = click.option(
    "--data",
    "data",
    envvar="MUONTRA_DATA",
    default="data",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Data directory holding the kiosk's database (or set MUONTRA_DATA).",
)


def language() -> str:
    """The language chosen with ``muontra --lang`` (Vietnamese by default)."""
    context = click.get_current_context(silent=True)
    return context.find_root().meta.get("lang", DEFAULT_LANGUAGE) if context else DEFAULT_LANGUAGE


def say(message: str, **params: object) -> str:
    """A message in the language chosen with ``muontra --lang``."""
    return translate(message, language(), **params)


class Group(click.Group):
    """Loads sub-commands on first use; turns a domain error into its message and exit code 1."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        from .commands import COMMANDS

        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        from .commands import COMMANDS

        if name in COMMANDS and name not in self.commands:
            module_name, attribute = COMMANDS[name].split(":")
            self.add_command(getattr(importlib.import_module(module_name), attribute), name)
        return super().get_command(ctx, name)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except MuontraError as exc:
            click.echo(exc.message_in(ctx.meta.get("lang", DEFAULT_LANGUAGE)), err=True)
            sys.exit(1)


@click.group(cls=Group)
@click.option("--lang", type=click.Choice(["vi", "en"]), envvar="MUONTRA_LANG", default=DEFAULT_LANGUAGE,
              help="Language of messages (vi or en).")
@click.pass_context
def main(ctx: click.Context, lang: str) -> None:
    """Mượn Trả: offline-first barcode circulation kiosk for school libraries."""
    ctx.meta["lang"] = lang


@main.command()
@data_option
def migrate(data: str) -> None:
    """Create the database, or upgrade it to this version's schema (keeps a backup)."""
    from .migrations import KIOSK
    from .store import open_kiosk

    database = open_kiosk(data, upgrade=True).database
    click.echo(say(N_("Database %(path)s is at schema version %(version)s."),
                   path=database.database, version=KIOSK.latest))


@main.command()
@data_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
# Each page showing the camera holds a thread for its event stream and one for its preview.
@click.option("--threads", default=16, show_default=True, type=int)
@click.option("--camera", "camera", default=None, metavar="DEVICE",
              help='Camera for scanning: 0, /dev/video0, a video file, "browser" (tablet camera) '
                   'or "" for none (or set MUONTRA_CAMERA). See docs/camera.md.')
@click.option("--https-port", type=int, default=None, envvar="MUONTRA_HTTPS_PORT",
              help="Also serve HTTPS on this port with the school's own certificate (tablets' cameras "
                   "need it). See docs/network.md.")
def kiosk(data: str, host: str, port: int, threads: int, camera: str | None, https_port: int | None) -> None:
    """Serve the kiosk on an existing data directory (production WSGI server)."""
    import waitress

    from .app import create_app

    config: dict[str, str] = {"DATA_DIR": data}
    if camera is not None:
        config["CAMERA"] = camera
    if https_port:
        config["HTTPS_PORT"] = https_port
    app = create_app(config)
    click.echo(say(N_("Mượn Trả kiosk on %(url)s (data: %(data)s)"), url=f"http://{host}:{port}/", data=data))
    if https_port:
        from .tls import ensure_server_cert, start_https

        files = ensure_server_cert(Path(app.config["DATA_DIR"]), app.config.get("SCHOOL_NAME", ""))
        start_https(app, host, https_port, files, threads)
        click.echo(say(N_("Secure address for tablets: %(url)s (certificate: %(ca)s)"),
                       url=f"https://{host}:{https_port}/", ca=files.ca_cert))
    server = waitress.create_server(app, host=host, port=port, threads=threads, ident="muontra")
    # The port is open: a systemd unit of Type=notify is ready now (the kiosk browser waits for it).
    from .store import data_dir, database_path
    from .watchdog import database_check, decoder_check, start_for_systemd

    start_for_systemd([database_check(database_path(data_dir(data))),
                       decoder_check(app.extensions.get("camera"))])
    server.run()


@main.command("set-pin")
@data_option
@click.option("--pin", prompt=True, hide_input=True, confirmation_prompt=True)
def set_pin(data: str, pin: str) -> None:
    """Set the librarian's PIN (4 to 12 digits)."""
    from .admin_auth import set_admin_pin
    from .store import open_kiosk

    open_kiosk(data)
    set_admin_pin(pin)
    click.echo(say(N_("The librarian's PIN is set.")))

