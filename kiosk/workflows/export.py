"""The stock-take record for the board (biên bản kiểm kê) as xlsx and PDF.

Built once as report Tables (kiosk.reports.common) so both formats say the same thing.
"""

from __future__ import annotations

from typing import IO

from ..errors import N_
from ..reports.common import Table, check_format, fmt_day, school_name, translator, write_xlsx
from ..reports.pdf import write_tables_pdf
from .rules import location_label
from .services import StocktakeView

FORMATS = ("xlsx", "pdf")

LISTS = (
    ("missing", N_("Missing"), N_("Not found and not on loan: marked lost.")),
    ("seen_on_loan", N_("Seen while on loan"), N_("Found on the shelf although on loan: the loan stays open.")),
    ("misplaced", N_("Misplaced"), N_("Found outside the place this stock-take covers.")),
    ("found_lost", N_("Found again"), N_("Had been marked lost; back in the collection.")),
    ("present", N_("Present"), ""),
)


def scope_text(view: StocktakeView, lang: str) -> str:
    _ = translator(lang)
    place = location_label(view.scope.location, lang)
    if view.scope.shelf_from or view.scope.shelf_to:
        shelves = _("shelves %(first)s to %(last)s", first=view.scope.shelf_from or "…",
                    last=view.scope.shelf_to or "…")
        return f"{place}, {shelves}"
    return place


def stocktake_tables(view: StocktakeView, lang: str) -> list[Table]:
    _ = translator(lang)
    result = view.result
    seen, expected = result.progress
    summary = Table(_("Summary"), _("Summary"), [_("Item"), _("Copies")], widths=[4, 1])
    summary.rows = [
        [_("Expected on the shelves"), expected],
        [_("Found of those expected"), seen],
        *[[_(label), len(getattr(result, name))] for name, label, _note in LISTS if name != "present"],
        [_("Unknown codes"), len(result.unknown)],
    ]
    tables = [summary]
    headers = ["#", _("Accession no."), _("Title"), _("Location"), _("Bookshelf")]
    for name, label, note in LISTS:
        table = Table(_(label), _(label), headers, widths=[0.5, 1.6, 5, 2.2, 1], note=_(note) if note else "")
        for number, code in enumerate(getattr(result, name), start=1):
            title, location, shelf = view.titles.get(code, ("", "", ""))
            table.rows.append([number, code, title, location_label(location, lang) if location else "", shelf])
        tables.append(table)
    unknown = Table(_("Unknown codes"), _("Unknown codes"), ["#", _("Code scanned")], widths=[0.5, 4],
                    note=_("Codes not in the catalogue: check the label, or add the book through intake."))
    unknown.rows = [[number, code] for number, code in enumerate(result.unknown, start=1)]
    tables.append(unknown)
    return tables


def heading(view: StocktakeView, lang: str) -> tuple[str, str]:
    _ = translator(lang)
    title = _("Stock-take record")
    finished = fmt_day(view.finished_at) if view.finished_at else _("not finished")
    subtitle = _("%(school)s · %(scope)s · opened %(opened)s · finished %(finished)s",
                 school=school_name() or _("School library"), scope=scope_text(view, lang),
                 opened=fmt_day(view.opened_at), finished=finished)
    return title, subtitle


def write(fmt: str, out: IO[bytes], view: StocktakeView, lang: str) -> None:
    fmt = check_format(fmt, FORMATS)
    title, subtitle = heading(view, lang)
    tables = stocktake_tables(view, lang)
    if fmt == "xlsx":
        write_xlsx(tables, out, heading=f"{title}: {subtitle}")
    else:
        _ = translator(lang)
        write_tables_pdf(out, title, subtitle, [*tables, signatures(lang)], landscape_page=False,
                         footer=_("Stock-take %(session)s", session=view.uuid[:8]))


SIGNERS = (N_("Prepared by"), N_("Librarian"), N_("Principal"))


def signatures(lang: str):
    """The signature block the board's record ends with."""
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph
    from reportlab.platypus import Table as Grid

    from ..reports.pdf import styles

    _ = translator(lang)
    sheet = styles()
    hint = _("(signature, full name)")
    cells = [Paragraph(f"<b>{_(who)}</b><br/>{hint}", sheet["body"]) for who in SIGNERS]
    grid = Grid([cells], colWidths=[60 * mm] * 3, rowHeights=[32 * mm])
    grid.setStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("ALIGN", (0, 0), (-1, -1), "CENTER")])
    grid.spaceBefore = 8 * mm
    return grid
