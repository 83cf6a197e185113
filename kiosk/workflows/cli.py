"""``muontra rotation …``, ``muontra stocktake …`` and ``muontra intake`` (the librarian's commands)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import click

from ..cli import data_option
from ..errors import N_
from ..i18n import translate
from ..reports.cli import BadDay, lang_of, output_file
from ..reports.common import format_for
from .rules import location_label
from .services import LIBRARIAN, BatchView, Workflows


def _workflows(data: str) -> Workflows:
    from ..store import open_kiosk

    return Workflows(open_kiosk(data).circulation)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise BadDay(value=text) from exc


def _codes(codes: Iterable[str], file: click.File | None) -> list[str]:
    """Codes from the arguments and from a file of scans (one a line, as a scanner writes them)."""
    found = [code for code in codes if code.strip()]
    if file is not None:
        found += [line.strip() for line in file if line.strip()]
    return found


file_option = click.option("--file", "file", type=click.File("r", encoding="utf-8-sig"), default=None,
                           help="A text file of scanned codes, one per line.")


def _echo_batch(view: BatchView, lang: str) -> None:
    click.echo(f"{view.uuid[:8]}  {location_label(view.location, lang)}  "
               f"{view.returned}/{view.total}  {view.due.isoformat() if view.due else ''}  {view.teacher_name}")
    for item in view.missing:
        state = translate(N_("on loan"), lang) if item.on_loan else ""
        click.echo(f"    {item.code}  {item.title}  {state}".rstrip())


# ---------------------------------------------------------------- rotation


@click.group("rotation")
def rotation() -> None:
    """Class-library rotation batches (luân chuyển sách)."""


@rotation.command("open")
@data_option
@click.option("--class", "class_name", required=True, help="Class, e.g. 6A1.")
@click.option("--teacher", required=True, help="The homeroom teacher's card code.")
@click.option("--helper", "helpers", multiple=True, help="A class helper's card code (repeat for several).")
@click.option("--due", required=True, metavar="YYYY-MM-DD", help="When the batch comes back.")
@file_option
@click.argument("codes", nargs=-1)
@click.pass_context
def rotation_open(ctx, data, class_name, teacher, helpers, due, file, codes) -> None:
    """Open a batch for a class library and add the copies scanned (CODES or --file)."""
    lang = lang_of(ctx)
    wf = _workflows(data)
    batch = wf.open_batch(class_name, teacher, helpers, _day(due), by=LIBRARIAN)
    wanted = _codes(codes, file)
    with click.progressbar(wanted, label=translate(N_("Adding"), lang), file=click.get_text_stream("stderr")) as bar:
        for code in bar:
            wf.add_to_batch(batch, code, by=LIBRARIAN)
    _echo_batch(wf.batch_view(batch), lang)


@rotation.command("add")
@data_option
@click.argument("batch")
@file_option
@click.argument("codes", nargs=-1)
@click.pass_context
def rotation_add(ctx, data, batch, file, codes) -> None:
    """Add copies to a batch that is out (they move to the class library)."""
    wf = _workflows(data)
    for code in _codes(codes, file):
        wf.add_to_batch(batch, code, by=LIBRARIAN)
    _echo_batch(wf.batch_view(batch), lang_of(ctx))


@rotation.command("list")
@data_option
@click.option("--all", "show_all", is_flag=True, help="Also the batches that came back.")
@click.pass_context
def rotation_list(ctx, data, show_all) -> None:
    """Batches out with class libraries: returned / total and what is missing."""
    for view in _workflows(data).batches(open_only=not show_all):
        _echo_batch(view, lang_of(ctx))


@rotation.command("return")
@data_option
@click.argument("batch")
@file_option
@click.argument("codes", nargs=-1)
@click.pass_context
def rotation_return(ctx, data, batch, file, codes) -> None:
    """Check a batch back in from a list of scanned codes (e.g. a scanner's memory dump)."""
    lang = lang_of(ctx)
    wf = _workflows(data)
    for code in _codes(codes, file):
        scan = wf.return_scan(batch, code, by=LIBRARIAN)
        if scan.outcome != "returned":
            click.echo(f"{scan.item}: {translate(RETURN_OUTCOMES[scan.outcome], lang)}", err=True)
    _echo_batch(wf.batch_view(batch), lang)


RETURN_OUTCOMES = {
    "returned": N_("Returned"),
    "again": N_("Already scanned"),
    "other_batch": N_("Belongs to another class library"),
    "not_in_batch": N_("Not part of this batch"),
    "unknown": N_("Not in the catalogue"),
}


@rotation.command("close")
@data_option
@click.argument("batch")
@click.pass_context
def rotation_close(ctx, data, batch) -> None:
    """Close a batch with books still missing (they stay listed at the class library)."""
    _echo_batch(_workflows(data).close_batch(batch, by=LIBRARIAN), lang_of(ctx))


# ---------------------------------------------------------------- stock-take


@click.group("stocktake")
def stocktake() -> None:
    """Stock-take sessions (kiểm kê): open, scan, status, finish, export."""


@stocktake.command("open")
@data_option
@click.option("--location", default=None, help="Location to check (main, lop-6A1…); default: every location.")
@click.option("--shelf-from", default="", help="First shelf of the range.")
@click.option("--shelf-to", default="", help="Last shelf of the range.")
def stocktake_open(data, location, shelf_from, shelf_to) -> None:
    """Open a stock-take; prints its id for the other commands."""
    click.echo(_workflows(data).open_stocktake(location, shelf_from, shelf_to, by=LIBRARIAN))


@stocktake.command("scan")
@data_option
@click.argument("session")
@file_option
@click.argument("codes", nargs=-1)
@click.option("--by", default=LIBRARIAN, show_default=True, help="Who scanned (a helper's card code).")
def stocktake_scan(data, session, file, codes, by) -> None:
    """Add scans to a stock-take (CODES or a scanner's --file)."""
    wf = _workflows(data)
    wanted = _codes(codes, file)
    last = None
    with click.progressbar(wanted, label="Scan", file=click.get_text_stream("stderr")) as bar:
        for code in bar:
            last = wf.stocktake_scan(session, code, by=by)
    if last is not None:
        click.echo(f"{last.seen}/{last.expected}")


@stocktake.command("status")
@data_option
@click.argument("session")
@click.pass_context
def stocktake_status(ctx, data, session) -> None:
    """Progress (found / expected) and the lists so far."""
    _echo_stocktake(_workflows(data), session, lang_of(ctx))


def _echo_stocktake(wf: Workflows, session: str, lang: str) -> None:
    from .export import LISTS, scope_text

    view = wf.stocktake_view(session)
    seen, expected = view.result.progress
    click.echo(f"{view.uuid}  {scope_text(view, lang)}  {seen}/{expected}")
    for name, label, _note in (*LISTS, ("unknown", N_("Unknown codes"), "")):
        codes = getattr(view.result, name)
        if name != "present" and codes:
            click.echo(f"  {translate(label, lang)} ({len(codes)}): {' '.join(codes)}")


@stocktake.command("finish")
@data_option
@click.argument("session")
@click.pass_context
def stocktake_finish(ctx, data, session) -> None:
    """Finish: freeze the result and mark the missing copies lost (a later scan brings them back)."""
    wf = _workflows(data)
    view = wf.finish_stocktake(session, by=LIBRARIAN)
    _echo_stocktake(wf, view.uuid, lang_of(ctx))


@stocktake.command("export")
@data_option
@click.argument("session")
@click.option("--format", "fmt", default=None, help="xlsx or pdf (by default from the file's extension).")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="File to write.")
@click.pass_context
def stocktake_export(ctx, data, session, fmt, out) -> None:
    """The stock-take record for the board, as xlsx or PDF."""
    from . import export

    fmt = format_for(out, fmt, export.FORMATS)
    view = _workflows(data).stocktake_view(session)
    with output_file(out) as handle:
        export.write(fmt, handle, view, lang_of(ctx))
    click.echo(out)


# ---------------------------------------------------------------- intake


@click.command("intake")
@data_option
@click.option("--isbn", default="", help="ISBN scanned from the back cover (may be empty).")
@click.option("--title", default="", help="Title, when the ISBN is not in the catalogue yet.")
@click.option("--author", default="")
@click.option("--publisher", default="")
@click.option("--year", type=int, default=None)
@click.option("--classification", default="", help="Classification mark (e.g. DDC, 19 classes).")
@click.option("--prefix", required=True, help="Collection prefix, e.g. SGK-, STK-, TN-, SNV-.")
@click.option("--count", type=int, default=1, show_default=True, help="How many copies.")
@click.option("--shelf", default="")
@click.option("--price", type=int, default=None, help="Price in đồng.")
@click.option("--donor", default="", help="Who donated them (the copies are recorded as a donation).")
@click.option("--labels", "labels_out", default=None, type=click.Path(dir_okay=False),
              help="Also write their barcode labels to this PDF.")
@click.pass_context
def intake(ctx, data, isbn, title, author, publisher, year, classification, prefix, count, shelf, price,
           donor, labels_out) -> None:
    """Receive new or donated books: assigns the next accession numbers of the prefix."""
    wf = _workflows(data)
    receipt = wf.receive(isbn=isbn, title=title, author=author, publisher=publisher, year=year,
                         classification=classification, prefix=prefix, count=count, shelf=shelf, price=price,
                         source="donation" if donor else "purchase", donor=donor, by=LIBRARIAN)
    click.echo(f"{receipt.title}: {' '.join(receipt.codes)}")
    if labels_out:
        from .labels import write_labels

        with output_file(labels_out) as handle:
            write_labels(handle, receipt.codes)
        click.echo(labels_out)
