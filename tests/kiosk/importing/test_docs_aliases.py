"""The alias table in docs/import.md is the code's table: every header the importer knows is documented."""

from __future__ import annotations

from pathlib import Path

from kiosk.importer import COLUMNS

DOC = (Path(__file__).resolve().parents[3] / "docs" / "import.md").read_text(encoding="utf-8")


def test_every_known_header_is_in_the_documented_alias_table():
    rows = {line.split("|")[1].strip().split(" ")[0].strip("`"): line for line in DOC.splitlines()
            if line.startswith("| `")}
    missing = [f"{kind}.{column.name}: {alias}" for kind, columns in COLUMNS.items() for column in columns
               for alias in column.aliases if column.name not in rows or alias not in rows[column.name]]
    assert missing == []
