"""``muontra export catalog|patrons|loans --format marc|xlsx|csv --out FILE``: the library's data, readable anywhere."""

from __future__ import annotations

import click

from .cli import data_option, say
from .errors import N_
from .reports.cli import open_data, output_file
from .reports.common import format_for


@click.command("export")
@click.argument("kind", type=click.Choice(["catalog", "patrons", "loans"]))
@click.option("--format", "fmt", type=click.Choice(["marc", "xlsx", "csv"]), default=None,
              help="marc (catalogue only: MARC 21 with Koha 952 holdings), xlsx or csv; "
                   "default: the extension of --out.")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="File to write.")
@data_option
def export_command(kind: str, fmt: str | None, out: str, data: str) -> None:
    """Write the catalogue, the readers or the open loans in files the importer (and other systems) read back."""
    from .exporter import FORMATS, export

    fmt = format_for(out.replace(".mrc", ".marc"), fmt, FORMATS[kind])
    open_data(data)
    with output_file(out) as handle:
        export(kind, fmt, handle)
    click.echo(say(N_("Written: %(path)s"), path=out))
