"""``muontra demo``: load the demo school into an empty data directory and print its barcode sheet."""

from __future__ import annotations

from pathlib import Path

import click

from .cli import data_option
from .errors import N_, MuontraError
from .i18n import DEFAULT_LANGUAGE, translate

SHEET_NAME = "demo-sheet.pdf"


class NotEmpty(MuontraError):
    code = "demo_not_empty"
    message = N_("%(data)s already has readers: the demo school is only loaded into an empty data directory. "
                 "Use another --data directory.")


@click.command("demo")
@data_option
@click.option("--if-empty", is_flag=True, help="Do nothing if the data directory already has readers.")
@click.option("--sheet", type=click.Path(dir_okay=False), default=None,
              help=f"Where to write the barcode sheet (PDF); default DATA/{SHEET_NAME}.")
@click.option("--lang", type=click.Choice(["vi", "en"]), default=None, help="Language of messages (vi or en).")
def demo_command(data: str, if_empty: bool, sheet: str | None, lang: str | None) -> None:
    """Load the demo school (90 students, 300 copies) and write a sheet of cards and labels to scan."""
    from . import demo
    from .admin_auth import DEFAULT_PIN
    from .models import Patron
    from .store import open_kiosk

    ctx = click.get_current_context()
    lang = lang or ctx.meta.get("lang", DEFAULT_LANGUAGE)
    ctx.meta["lang"] = lang
    circulation = open_kiosk(data, upgrade=True).circulation
    if Patron.select().exists():
        if if_empty:
            click.echo(translate(N_("%(data)s already has readers: demo school not loaded."), lang, data=data))
            return
        raise NotEmpty(data=data)
    school = demo.load(circulation)
    path = Path(sheet) if sheet else Path(data) / SHEET_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    demo.write_sheet(school, str(path))
    click.echo(translate(N_("Demo school loaded: %(school)s, %(readers)s readers, %(copies)s copies, "
                            "%(loans)s open loans."), lang, school=demo.SCHOOL_NAME,
                         readers=len(school.students) + len(demo.TEACHERS) + len(demo.HELPERS),
                         copies=len(school.copies), loans=len(school.loans)))
    click.echo(translate(N_("Barcode sheet to print or scan: %(path)s"), lang, path=path))
    click.echo(translate(N_("Librarian PIN: %(pin)s (change it with: muontra set-pin)"), lang, pin=DEFAULT_PIN))
