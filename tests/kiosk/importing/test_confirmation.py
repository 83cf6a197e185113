"""Changes to existing rows are shown and confirmed, on the librarian's page and on the command line."""

from __future__ import annotations

import html
import io
import re
import sqlite3

from kiosk.models import Copy, Patron
from kiosk.store import DB_FILENAME
from tests.conftest import muontra
from tests.kiosk.importing.conftest import marc_binary, marc_record
from tests.kiosk.test_pages_admin import login, token, upload

FIRST = "Mã HS,Họ và tên,Lớp\nHS201,Lý Thị Mai,6A3\nHS202,Đặng Văn Nam,6A3\n".encode()
MOVED_UP = "Mã HS,Họ và tên,Lớp\nHS201,Lý Thị Mai,7A3\nHS202,Đặng Văn Nam,6A3\nHS203,Vi Văn Tú,7A3\n".encode()


def confirm(client, page: str):
    upload_token = re.search(r'name="token" value="([0-9a-f]{32})"', page).group(1)
    return client.post("/admin/import/confirm", data={"token": upload_token,
                                                      "csrf_token": token(client, "/admin/import")})


def test_the_preview_lists_changes_old_to_new_and_the_button_says_so(client, school):
    login(client)
    confirm(client, upload(client, "patrons", "a.csv", FIRST).get_data(as_text=True))
    answer = upload(client, "patrons", "b.csv", MOVED_UP)
    page = html.unescape(answer.get_data(as_text=True))
    assert answer.status_code == 200
    assert "1 mới, 1 thay đổi, 1 không đổi." in page
    assert "HS201" in page and "Lớp: 6A3 → 7A3" in page and "áp dụng 1 thay đổi" in page
    assert Patron.get(Patron.code == "HS201").class_name == "6A3"  # nothing written before the confirmation
    done = confirm(client, page)
    assert done.status_code == 302
    assert {p.code: p.class_name for p in Patron.select().where(Patron.code.startswith("HS20"))} == {
        "HS201": "7A3", "HS202": "6A3", "HS203": "7A3"}


def test_a_change_made_after_the_preview_is_shown_again_before_it_is_applied(client, school):
    login(client)
    confirm(client, upload(client, "patrons", "a.csv", FIRST).get_data(as_text=True))
    page = html.unescape(upload(client, "patrons", "b.csv", MOVED_UP).get_data(as_text=True))
    Patron.update(name="Lý Mai").where(Patron.code == "HS201").execute()  # someone edits the reader meanwhile
    answer = confirm(client, page)
    assert answer.status_code == 409
    again = html.unescape(answer.get_data(as_text=True))
    assert "Họ và tên: Lý Mai → Lý Thị Mai" in again
    assert Patron.get(Patron.code == "HS201").class_name == "6A3"
    assert confirm(client, again).status_code == 302
    assert Patron.get(Patron.code == "HS201").name == "Lý Thị Mai"


def test_the_page_imports_a_large_marc_file_with_a_prefix_like_the_cli(client, school):
    login(client)
    summary = "Tóm tắt: " + "một câu chuyện thiếu nhi " * 12
    records = [marc_record(("245", ("a", f"Truyện số {n}")), ("520", ("a", summary)), ("952", ("c", "Kệ 1")))
               for n in range(9000)]
    data = marc_binary(records)
    assert len(data) > 2 * 1024 * 1024  # more than the old 2 MiB limit
    answer = client.post("/admin/import", data={
        "kind": "catalog", "csrf_token": token(client, "/admin/import"), "prefix": "TN-", "category": "TN",
        "file": (io.BytesIO(data), "exported_records")}, content_type="multipart/form-data")
    assert answer.status_code == 200, html.unescape(answer.get_data(as_text=True))[-3000:]
    assert confirm(client, answer.get_data(as_text=True)).status_code == 302
    new = Copy.select().where(Copy.shelf == "Kệ 1")
    assert new.count() == 9000 and {c.title.category for c in new} == {"TN"}
    assert max(c.code for c in new) == "TN-9004"  # after the demo school's TN-0001…TN-0004


def test_cli_lists_changes_refuses_without_yes_and_applies_with_it(tmp_path):
    data = tmp_path / "school"
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    first.write_bytes(FIRST)
    second.write_bytes(MOVED_UP)
    assert muontra("import", "patrons", str(first), "--data", str(data)).returncode == 0
    refused = muontra("import", "patrons", str(second), "--data", str(data), "--lang", "en", "--no-update")
    assert refused.returncode == 3
    assert "1 new, 1 changed, 1 unchanged." in refused.stdout and "HS201: Class: 6A3 → 7A3" in refused.stdout
    assert "--no-update" in refused.stderr
    with sqlite3.connect(data / DB_FILENAME) as conn:
        assert conn.execute("SELECT COUNT(*) FROM patron").fetchone()[0] == 2
    dry = muontra("import", "patrons", str(second), "--data", str(data), "--dry-run")
    assert dry.returncode == 0 and "Lớp: 6A3 → 7A3" in dry.stdout
    applied = muontra("import", "patrons", str(second), "--data", str(data), "--yes")
    assert applied.returncode == 0, applied.stderr
    with sqlite3.connect(data / DB_FILENAME) as conn:
        assert dict(conn.execute("SELECT code, class FROM patron")) == {"HS201": "7A3", "HS202": "6A3",
                                                                         "HS203": "7A3"}


def test_cli_says_it_reads_a_large_file_then_shows_progress_bars(tmp_path):
    file = tmp_path / "toan-truong.csv"
    rows = "".join(f"HS{n:05d},Nguyễn Thị Minh Khai Phương Anh {n},6A{n % 9 + 1}\n" for n in range(22_000))
    file.write_text("Mã HS,Họ và tên,Lớp\n" + rows, encoding="utf-8")
    assert file.stat().st_size > 1024 * 1024
    result = muontra("import", "patrons", str(file), "--data", str(tmp_path / "school"), "--lang", "en")
    assert result.returncode == 0, result.stderr
    assert result.stderr.startswith("Reading toan-truong.csv (1 MB)…")
    assert "Checking" in result.stderr and "Writing" in result.stderr
    assert "Imported 22000 rows." in result.stdout
