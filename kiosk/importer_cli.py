"""``muontra import patrons|catalog|loans|marc FILE``: check the whole file, show what changes, then write it in one go.

Exit status: 0 imported (or checked, with ``--dry-run``); 1 the file has problems, is unreadable
or too large: nothing written; 2 wrong command line; 3 the file would change existing rows and
that was not confirmed (no ``--yes``, ``--no-update``, or "no" at the prompt): nothing written.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .cli import data_option
from .errors import N_, MuontraError
from .i18n import DEFAULT_LANGUAGE, translate
from .import_plan import MAX_FILE_BYTES, MAX_LISTED_PROBLEMS, ImportPlan
from .services import Circulation

EXIT_PROBLEMS, EXIT_UNCONFIRMED = 1, 3

lang_option = click.option("--lang", type=click.Choice(["vi", "en"]), default=None,
                           help="Language of messages (vi or en).")
dry_run_option = click.option("--dry-run", is_flag=True, help="Only check the file; write nothing.")
yes_option = click.option("--yes", "-y", is_flag=True,
                          help="Apply the changes to existing rows without asking (they are listed first).")
no_update_option = click.option("--no-update", is_flag=True,
                                help="Refuse the file if it would change any existing row (exit status 3).")
prefix_option = click.option("--prefix", default=None,
                             help="Collection prefix numbering copies without a barcode (952$p/852$p), e.g. TN-. "
                                  "It does not choose a category.")
category_option = click.option("--category", type=click.Choice(["SGK", "STK", "SNV", "TN", "periodical", "other"]),
                               default=None, help="Category of titles whose record names no item type "
                                                  "(942$c/952$y); default: an existing title keeps its own, "
                                                  "a new one is 'other'.")
map_type_option = click.option("--map-type", "map_type", multiple=True, metavar="TYPE=CATEGORY",
                               help="Map a Koha item type to a category, e.g. --map-type BK=STK (repeatable).")
encoding_option = click.option("--encoding", type=click.Choice(["utf-8", "marc-8", "cp1258", "cp1251", "cp1252",
                                                                "latin-1"]), default=None,
                               help="Text encoding of every record, for files from old systems "
                                    "(default: what each record's leader says).")


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


def _more(lang: str, shown: int, total: int) -> None:
    if total > shown:
        click.echo(translate(N_("… and %(count)s more."), lang, count=total - shown), err=True)


def report_problems(plan: ImportPlan, lang: str) -> None:
    for warning in plan.warnings[:MAX_LISTED_PROBLEMS]:
        click.echo(translate(N_("Warning: %(text)s"), lang, text=warning.describe_in(lang)), err=True)
    _more(lang, MAX_LISTED_PROBLEMS, len(plan.warnings))
    if not plan.ok:
        for problem in plan.listed_errors():
            click.echo(problem.describe_in(lang), err=True)
        _more(lang, MAX_LISTED_PROBLEMS, len(plan.errors))
        click.echo(translate(N_("Problems: %(count)s (in %(rows)s rows). Nothing was imported."), lang,
                             count=len(plan.errors), rows=plan.rows), err=True)
        sys.exit(EXIT_PROBLEMS)


def confirm_changes(plan: ImportPlan, lang: str, yes: bool, no_update: bool, dry_run: bool) -> None:
    """List every change to an existing row; go on only if the librarian accepted them."""
    click.echo(plan.summary_in(lang))
    if not plan.changes:
        return
    click.echo(translate(N_("Changes to existing rows (old → new):"), lang))
    for change in plan.changes[:MAX_LISTED_PROBLEMS]:
        click.echo("  " + change.line_in(lang))
    _more(lang, MAX_LISTED_PROBLEMS, len(plan.changes))
    if dry_run or yes:
        return
    if not no_update and sys.stdin.isatty() and click.confirm(
            translate(N_("Apply these %(count)s changes?"), lang, count=len(plan.changes)), default=False):
        return
    hint = N_("Nothing was imported: the file changes existing rows (--no-update).") if no_update else \
        N_("Nothing was imported: run again with --yes to apply these changes.")
    click.echo(translate(hint, lang), err=True)
    sys.exit(EXIT_UNCONFIRMED)


def report_and_write(plan: ImportPlan, lang: str, dry_run: bool, circ: Circulation, yes: bool = False,
                     no_update: bool = False) -> None:
    """Print warnings, bad rows and changes; write the plan unless it is bad, unconfirmed or a dry run."""
    from .importer import apply_plan

    report_problems(plan, lang)
    confirm_changes(plan, lang, yes, no_update, dry_run)
    if dry_run:
        click.echo(translate(N_("%(rows)s rows checked, no problems. Nothing was written (dry run)."), lang,
                             rows=plan.rows))
        return
    with click.progressbar(length=len(plan.facts), label=translate(N_("Writing"), lang),
                           file=sys.stderr) as bar:
        count = apply_plan(circ, plan, progress=bar.update, accept_changes=True)
    click.echo(translate(N_("Imported %(rows)s rows."), lang, rows=count))


def run_import(kind: str, file: str, data: str, lang: str | None, dry_run: bool, yes: bool = False,
               no_update: bool = False, **options) -> None:
    from .importer import plan_import
    from .marc import parse_type_map

    ctx = click.get_current_context()
    lang = lang or ctx.meta.get("lang") or ctx.find_root().meta.get("lang", DEFAULT_LANGUAGE)
    ctx.meta["lang"] = lang
    try:
        if options.get("type_map") is not None:
            options["type_map"] = parse_type_map(list(options["type_map"]))
        path = Path(file)
        if path.stat().st_size > MAX_FILE_BYTES:
            from .import_plan import FileTooLarge
            from .spreadsheet import megabytes

            plan = ImportPlan(kind, errors=[FileTooLarge(size=megabytes(path.stat().st_size),
                                                         limit=megabytes(MAX_FILE_BYTES))])
            report_problems(plan, lang)
        circ = open_for_import(data)
        if path.stat().st_size > 1024 * 1024:  # the bars start once the file is read; say what happens first
            from .spreadsheet import megabytes

            click.echo(translate(N_("Reading %(name)s (%(size)s)…"), lang, name=path.name,
                                 size=megabytes(path.stat().st_size)), err=True)
        bar = LazyBar(translate(N_("Checking"), lang))
        try:
            result = plan_import(kind, path.name, path.read_bytes(), progress=bar.checked, **options)
        finally:
            bar.close()
    except MuontraError as exc:
        click.echo(exc.message_in(lang), err=True)
        sys.exit(EXIT_PROBLEMS)
    report_and_write(result, lang, dry_run, circ, yes, no_update)


@click.group("import")
def import_group() -> None:
    """Load readers, the catalogue or open loans from an Excel (.xlsx) or CSV file, or MARC 21.

    Exit status: 0 done; 1 problems in the file (nothing written); 2 wrong command line;
    3 changes to existing rows not confirmed (nothing written).
    """


def _kind_command(kind: str, help_text: str) -> click.Command:
    @import_group.command(kind, help=help_text)
    @click.argument("file", type=click.Path(exists=True, dir_okay=False))
    @data_option
    @lang_option
    @dry_run_option
    @yes_option
    @no_update_option
    def command(file: str, data: str, lang: str | None, dry_run: bool, yes: bool, no_update: bool) -> None:
        run_import(kind, file, data, lang, dry_run, yes, no_update)

    return command


_kind_command("patrons", "Readers: code, name, class, kind (Mã HS, Họ và tên or Họ đệm + Tên, Lớp, Đối tượng).")
_kind_command("loans", "Open loans from a paper loan book: patron, item, checked_out, due "
                       "(Mã HS, Số ĐKCB, Ngày mượn, Hạn trả).")


def _catalog_command(name: str, help_text: str) -> None:
    @import_group.command(name, help=help_text)
    @click.argument("file", type=click.Path(exists=True, dir_okay=False))
    @data_option
    @prefix_option
    @category_option
    @map_type_option
    @encoding_option
    @lang_option
    @dry_run_option
    @yes_option
    @no_update_option
    def command(file: str, data: str, prefix: str | None, category: str | None, map_type: tuple[str, ...],
                encoding: str | None, lang: str | None, dry_run: bool, yes: bool, no_update: bool) -> None:
        run_import("catalog", file, data, lang, dry_run, yes, no_update, prefix=prefix, category=category,
                   type_map=map_type, encoding=encoding)


_catalog_command("catalog", "Copies, one row each: barcode, isbn, title, author, category "
                            "(Số ĐKCB, ISBN, Nhan đề, Tác giả, Loại sách); a MARC 21 file is recognised too.")
_catalog_command("marc", "Catalogue from MARC 21 (binary or MARCXML, whatever the extension), e.g. exported "
                         "from Koha: one copy per 952 (or 852) item.")
