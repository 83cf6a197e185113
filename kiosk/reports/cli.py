"""``muontra report …``, ``muontra labels`` and ``muontra cards``."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import IO
from zoneinfo import ZoneInfo

import click

from ..cli import data_option
from ..errors import N_, MuontraError
from ..i18n import DEFAULT_LANGUAGE, translate
from .common import fmt_day


class OutputNotWritable(MuontraError):
    code = "output_not_writable"
    message = N_("Cannot write the file '%(path)s': %(reason)s")


class BadDay(MuontraError):
    code = "bad_day"
    message = N_("'%(value)s' is not a date; write it as YYYY-MM-DD.")


def lang_of(ctx: click.Context) -> str:
    return ctx.find_root().meta.get("lang", DEFAULT_LANGUAGE)


def open_data(data: str) -> ZoneInfo:
    """Open the data directory (store.open_kiosk); the school's time zone for the report's days."""
    from ..store import open_kiosk

    return open_kiosk(data).circulation.timezone


def today_in(timezone: ZoneInfo, on: str | None) -> date:
    if on:
        try:
            return date.fromisoformat(on)
        except ValueError as exc:
            raise BadDay(value=on) from exc
    return datetime.now(timezone).date()


@contextmanager
def output_file(path: str) -> Iterator[IO[bytes]]:
    """Write next to the target and rename at the end, so a failure never leaves half a file."""
    target = Path(path)
    try:
        handle = tempfile.NamedTemporaryFile(dir=target.parent, prefix=".muontra-", delete=False)
    except OSError as exc:
        raise OutputNotWritable(path=path, reason=exc.strerror or str(exc)) from exc
    try:
        with handle:
            yield handle
        os.replace(handle.name, target)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise


def progress(label: str, length: int) -> Callable[[int], None]:
    """A click progress bar on stderr, driven by a callback the renderers call with the items done."""
    bar = click.progressbar(length=max(length, 1), label=label, file=click.get_text_stream("stderr"))
    bar.__enter__()
    done = 0

    def advance(count: int = 1) -> None:
        nonlocal done
        if done >= length:
            return
        step = min(count, length - done)
        done += step
        bar.update(step)
        if done >= length:
            bar.__exit__(None, None, None)

    if length == 0:
        bar.__exit__(None, None, None)
    return advance


format_option = click.option("--format", "fmt", default=None,
                             help="Output format (by default from the file's extension).")
out_option = click.option("--out", required=True, type=click.Path(dir_okay=False), help="File to write.")
on_option = click.option("--on", default=None, metavar="YYYY-MM-DD",
                         help="Count days overdue as of this day (default: today).")


@click.group("report")
def report() -> None:
    """Reports for teachers and the board: overdue lists, statistics, registers."""


@report.command("overdue")
@data_option
@click.option("--class", "class_name", required=True, help="Class, e.g. 6A1.")
@format_option
@out_option
@on_option
@click.pass_context
def overdue_command(ctx: click.Context, data: str, class_name: str, fmt: str | None, out: str,
                    on: str | None) -> None:
    """Overdue books of one class: reminder slips (pdf) or the list (xlsx, csv)."""
    from . import overdue
    from .common import format_for

    lang = lang_of(ctx)
    fmt = format_for(out, fmt, overdue.FORMATS)
    timezone = open_data(data)
    today = today_in(timezone, on)
    loans = overdue.overdue_loans(class_name, today, timezone)
    with output_file(out) as handle:
        overdue.write(fmt, handle, class_name.strip(), today, loans, lang,
                      progress=progress("PDF", len(overdue.by_student(loans))) if fmt == "pdf" else None)
    students = len({x.patron_code for x in loans})
    click.echo(translate(N_("%(path)s: %(books)s overdue books of %(students)s students."), lang_of(ctx),
                         path=out, books=len(loans), students=students))


@click.command("labels")
@data_option
@out_option
@click.option("--copies", default=None, help="Accession numbers, comma-separated (TN-0001,TN-0002).")
@click.option("--all", "every", is_flag=True, help="Every copy not withdrawn, in accession order.")
@click.option("--title-isbn", default=None, help="Every copy of the title with this ISBN.")
@click.option("--sheet", "preset", default="3x8", show_default=True, help="Label sheet: 3x8, 4x10 or 5x13.")
@click.option("--grid", default=None, metavar="COLSxROWS", help="A custom sheet instead of a preset.")
@click.option("--margins", default=None, metavar="T,R,B,L", help="Page margins in mm (one value for all four).")
@click.option("--gaps", default=None, metavar="X,Y", help="Gaps between labels in mm.")
@click.option("--start", default=1, show_default=True, type=int,
              help="First free position on a partly used sheet (1 = top left, row by row).")
@click.option("--spine", is_flag=True, help="Spine labels with the call number instead of barcodes.")
@click.pass_context
def labels_command(ctx: click.Context, data: str, out: str, copies: str | None, every: bool, title_isbn: str | None, preset: str,
                   grid: str | None, margins: str | None, gaps: str | None, start: int, spine: bool) -> None:
    """Accession labels (Code 128) or spine labels on an A4 label sheet."""
    from . import labels

    sheet = labels.make_sheet(preset, grid, margins, gaps)
    open_data(data)
    chosen = labels.select_copies(copies.split(",") if copies else (), every, title_isbn)
    with output_file(out) as handle:
        pages = labels.write_labels(handle, chosen, sheet, start=start, spine=spine,
                                    progress=progress("PDF", len(chosen)))
    click.echo(translate(N_("%(path)s: %(count)s labels on %(pages)s pages."), lang_of(ctx),
                         path=out, count=len(chosen), pages=pages))


@click.command("cards")
@data_option
@click.option("--class", "class_name", required=True, help="Class, e.g. 6A1.")
@out_option
@click.pass_context
def cards_command(ctx: click.Context, data: str, class_name: str, out: str) -> None:
    """Library cards (name, class, barcode and QR) for every active student of a class."""
    from . import cards

    timezone = open_data(data)
    patrons = cards.class_patrons(class_name)
    with output_file(out) as handle:
        pages = cards.write_cards(handle, patrons, today_in(timezone, None), lang_of(ctx),
                                  progress=progress("PDF", len(patrons)))
    click.echo(translate(N_("%(path)s: %(count)s cards on %(pages)s pages."), lang_of(ctx),
                         path=out, count=len(patrons), pages=pages))


@report.command("stats")
@data_option
@click.option("--year", default=None, metavar="2025-2026", help="School year.")
@click.option("--term", "term_number", type=click.IntRange(1, 2), default=None, help="Term 1 or 2 of the year.")
@click.option("--month", "month_label", default=None, metavar="YYYY-MM", help="One month.")
@click.option("--from", "start", default=None, metavar="YYYY-MM-DD", help="First day of a date range.")
@click.option("--to", "end", default=None, metavar="YYYY-MM-DD", help="Last day of a date range.")
@click.option("--top", default=10, show_default=True, type=click.IntRange(1, 100),
              help="How many titles, readers and classes the rankings list.")
@format_option
@out_option
@click.pass_context
def stats_command(ctx: click.Context, data: str, year: str | None, term_number: int | None,
                  month_label: str | None, start: str | None, end: str | None, top: int, fmt: str | None,
                  out: str) -> None:
    """Statistics for the board and the reading festival (xlsx or pdf)."""
    from . import stats
    from .common import format_for

    lang = lang_of(ctx)
    fmt = format_for(out, fmt, stats.FORMATS)
    timezone = open_data(data)
    period = stats.period_from(year, term_number, month_label, start, end)
    computed = stats.compute(period, timezone, lang, top=top)
    with output_file(out) as handle:
        stats.write(fmt, handle, computed, lang,
                    progress=progress("PDF", len(computed.charts) + 1) if fmt == "pdf" else None)
    click.echo(translate(N_("%(path)s: statistics from %(start)s to %(end)s."), lang,
                         path=out, start=fmt_day(period.start), end=fmt_day(period.end)))


@report.command("register")
@data_option
@click.argument("kind", metavar="accession|loans|general")
@click.option("--year", default=None, metavar="2025-2026",
              help="School year of the loan book or the general register (default: the current one).")
@click.option("--from", "start", default=None, metavar="YYYY-MM-DD", help="First day (loan book).")
@click.option("--to", "end", default=None, metavar="YYYY-MM-DD", help="Last day (loan book).")
@click.option("--prefix", default=None, help="Only this collection of the accession register, e.g. TN.")
@format_option
@out_option
@click.pass_context
def register_command(ctx: click.Context, data: str, kind: str, year: str | None, start: str | None,
                     end: str | None, prefix: str | None, fmt: str | None, out: str) -> None:
    """Registers: accession register (sổ ĐKCB), loan book (sổ mượn), general register (sổ ĐKTQ)."""
    from . import registers, stats
    from .common import format_for, school_year_of

    lang = lang_of(ctx)
    kind = registers.check_kind(kind)
    fmt = format_for(out, fmt, registers.FORMATS)
    timezone = open_data(data)
    if not (year or start or end):
        year = school_year_of(today_in(timezone, None))
    period = stats.period_from(year if not (start or end) else None, None, None, start, end)
    tables = registers.build(kind, period, timezone, lang, prefix=prefix)
    with output_file(out) as handle:
        registers.write(fmt, handle, kind, tables, period, lang,
                        progress=progress("PDF", sum(len(t.rows) for t in tables)) if fmt == "pdf" else None)
    click.echo(translate(N_("%(path)s: %(count)s lines."), lang, path=out,
                         count=sum(len(t.rows) for t in tables)))
