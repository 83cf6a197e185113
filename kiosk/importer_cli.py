"""``muontra import patrons|catalog|loans FILE``: check the whole file, then write it in one go."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .cli import data_option
from .errors import N_
from .i18n import DEFAULT_LANGUAGE, translate
from .importer import ImportPlan, apply_plan, plan_import
from .services import Circulation

lang_option = click.option("--lang", type=click.Choice(["vi", "en"]), default=None,
                           help="Language of messages (vi or en).")
dry_run_option = click.option("--dry-run", is_flag=True, help="Only check the file; write nothing.")


class LazyBar:
    """A click progress bar created once the total is known (after the file is read)."""

    def __init__(self, label: str) -> None:
        self.label, self.bar, self.done = label, None, 0

    def checked(self, done: int, total: int) -> None:
        if self.bar is None:
            self.bar = click.progressbar(length=total, label=self.label, file=sys.stderr).__enter__()
        self.bar.update(done - self.done)
        self.done = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


def open_for_import(data: str) -> Circulation:
    """Create the database of a new data directory; an existing one must be migrated already."""
    from .store import data_dir, database_path, open_kiosk

    return open_kiosk(data, upgrade=not database_path(data_dir(data)).exists()).circulation


def report_and_write(plan: ImportPlan, lang: str, dry_run: bool, circ: Circulation) -> None:
    """Print warnings and bad rows; write the plan unless it is bad or a dry run."""
    for warning in plan.warnings:
        click.echo(translate(N_("Warning: %(text)s"), lang, text=warning.describe_in(lang)), err=True)
    if not plan.ok:
        for problem in plan.errors:
            click.echo(problem.describe_in(lang), err=True)
        click.echo(translate(N_("Problems: %(count)s (in %(rows)s rows). Nothing was imported."), lang,
                             count=len(plan.errors), rows=plan.rows), err=True)
        sys.exit(1)
    if dry_run:
        click.echo(translate(N_("%(rows)s rows checked, no problems. Nothing was written (dry run)."), lang,
                             rows=plan.rows))
        return
    with click.progressbar(length=len(plan.facts), label=translate(N_("Writing"), lang),
                           file=sys.stderr) as bar:
        count = apply_plan(circ, plan, progress=bar.update)
    click.echo(translate(N_("Imported %(rows)s rows."), lang, rows=count))


def run_import(kind: str, file: str, data: str, lang: str | None, dry_run: bool, **options) -> None:
    ctx = click.get_current_context()
    lang = lang or ctx.meta.get("lang", DEFAULT_LANGUAGE)
    ctx.meta["lang"] = lang
    circ = open_for_import(data)
    bar = LazyBar(translate(N_("Checking"), lang))
    try:
        result = plan_import(kind, Path(file).name, Path(file).read_bytes(), progress=bar.checked, **options)
    finally:
        bar.close()
    report_and_write(result, lang, dry_run, circ)


@click.group("import")
def import_group() -> None:
    """Load readers, the catalogue or open loans from an Excel (.xlsx) or CSV file."""


def _kind_command(kind: str, help_text: str) -> click.Command:
    @import_group.command(kind, help=help_text)
    @click.argument("file", type=click.Path(exists=True, dir_okay=False))
    @data_option
    @lang_option
    @dry_run_option
    def command(file: str, data: str, lang: str | None, dry_run: bool) -> None:
        run_import(kind, file, data, lang, dry_run)

    return command


_kind_command("patrons", "Readers: code, name, class, kind (Mã HS, Họ và tên, Lớp, Đối tượng).")
_kind_command("catalog", "Copies, one row each: barcode, isbn, title, author, category "
                         "(Số ĐKCB, ISBN, Nhan đề, Tác giả, Loại sách).")
_kind_command("loans", "Open loans from a paper loan book: patron, item, checked_out, due "
                       "(Mã HS, Số ĐKCB, Ngày mượn, Hạn trả).")


@import_group.command("marc")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@data_option
@click.option("--prefix", default=None,
              help="Collection prefix numbering records without a copy barcode (952$p/852$p), e.g. TN-.")
@click.option("--category", type=click.Choice(["SGK", "STK", "SNV", "TN", "periodical", "other"]), default=None,
              help="Category of the imported titles (default: the prefix's collection).")
@lang_option
@dry_run_option
def marc_command(file: str, data: str, prefix: str | None, category: str | None, lang: str | None,
                 dry_run: bool) -> None:
    """Catalogue from MARC 21 (binary .mrc or MARCXML .xml), e.g. exported from Koha."""
    run_import("catalog", file, data, lang, dry_run, prefix=prefix, category=category)
