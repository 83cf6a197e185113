"""Resource limits (issue 10 item 7): a file is bounded by bytes, unpacked size, rows and cells before it is parsed."""

from __future__ import annotations

import html
import io

import pytest

from kiosk.import_plan import MAX_LISTED_PROBLEMS, MAX_ROWS
from kiosk.importer import plan_import
from kiosk.models import Event
from tests.kiosk.importing.conftest import workbook_with_huge_cell
from tests.kiosk.test_pages_admin import upload


@pytest.fixture(scope="module")
def bomb() -> bytes:
    return workbook_with_huge_cell(300)


def test_a_small_workbook_holding_a_300_mb_cell_is_refused_before_parsing(circ, bomb):
    assert len(bomb) < 400 * 1024  # what crosses the network is small (bench/bench_import.py times the refusal)
    plan = plan_import("patrons", "ds.xlsx", bomb)
    assert [(e.code, e.line) for e in plan.errors] == [("file_too_large", None)]
    assert "xl/worksheets/sheet1.xml" in plan.errors[0].message_in("en") and "300 MB" in plan.errors[0].message_in("vi")
    assert Event.select().count() == 0


def test_more_rows_than_the_limit_is_refused_with_the_limit(circ):
    lines = ["Mã HS,Họ và tên,Lớp"] + [f"HS{n},Tên {n},6A1" for n in range(MAX_ROWS + 1)]
    plan = plan_import("patrons", "ds.csv", "\n".join(lines).encode())
    assert [e.code for e in plan.errors] == ["too_many_rows"] and plan.facts == []
    assert "100.000" in plan.errors[0].message_in("vi")


def test_the_error_page_lists_the_first_hundred_problems_and_counts_the_rest(client, school):
    from tests.kiosk.test_pages_admin import login

    login(client)
    rows = "Mã HS,Họ và tên,Lớp\n" + "".join(f"HS{n},,6A1\n" for n in range(1000))
    answer = upload(client, "patrons", "ds.csv", rows.encode())
    assert answer.status_code == 422
    page = html.unescape(answer.get_data(as_text=True))
    assert page.count("<tr><td class=\"nowrap\">") == MAX_LISTED_PROBLEMS
    assert "… và 900 mục nữa." in page


def test_the_web_page_refuses_the_bomb_with_a_page_not_a_crash(client, school, bomb):
    from tests.kiosk.test_pages_admin import login

    login(client)
    answer = upload(client, "patrons", "ds.xlsx", bomb)
    assert answer.status_code == 422
    assert "sheet1.xml" in html.unescape(answer.get_data(as_text=True))


def test_a_cell_longer_than_excel_allows_is_refused_with_its_place(circ):
    plan = plan_import("patrons", "ds.xlsx", workbook_with_huge_cell(1))
    assert [(e.code, e.line, e.field) for e in plan.errors] == [("cell_too_long", 2, "B2")]


def test_an_upload_over_the_import_limit_is_413_and_other_forms_keep_2_mib(client, school, app):
    from tests.kiosk.test_pages_admin import login, token

    login(client)
    app.config["IMPORT_MAX_CONTENT_LENGTH"] = 3 * 1024 * 1024
    big = io.BytesIO(b"x" * (4 * 1024 * 1024))
    answer = client.post("/admin/import", data={"kind": "patrons", "csrf_token": token(client, "/admin/import"),
                                                "file": (big, "big.csv")}, content_type="multipart/form-data")
    assert answer.status_code == 413
    rows = "".join(f"HS{n},Nguyễn Thị Minh Khai Phương Anh,6A1\n" for n in range(60_000))
    ok = upload(client, "patrons", "ok.csv", ("Mã HS,Họ và tên,Lớp\n" + rows).encode())
    # 2.7 MB: over the app's 2 MiB, within the import page's limit, so it is read and previewed.
    assert ok.status_code == 200 and "60000 mới" in ok.get_data(as_text=True)
