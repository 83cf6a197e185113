"""The report pages under /admin/reports: behind the librarian's PIN, tables on screen, files to download."""

from __future__ import annotations

import html
import re

import pytest

from tests.kiosk.reports.conftest import pdf_text, seed_two_classes, xlsx_rows
from tests.kiosk.test_pages_admin import login


@pytest.fixture
def seeded(school, clock):
    return seed_two_classes(school, clock)


def test_reports_need_the_librarian_pin(client, seeded):
    for path in ("/admin/reports/", "/admin/reports/stats.xlsx?year=2025-2026", "/admin/reports/cards.pdf?class=6A1"):
        answer = client.get(path)
        assert answer.status_code == 302 and answer.headers["Location"].startswith("/admin/login"), path


def test_the_old_overdue_addresses_lead_to_the_overdue_screen(client, seeded):
    """Bookmarks and printed instructions from before the two overdue screens became one."""
    login(client)
    for old, new in (("/admin/reports/overdue?class=6A2", "/admin/overdue/6A2"),
                     ("/admin/reports/overdue?class=+6/1+&lang=en", "/admin/overdue/6/1?lang=en"),
                     ("/admin/reports/overdue", "/admin/overdue"),
                     ("/admin/reports/overdue.pdf?class=6A1", "/admin/overdue/6A1.pdf"),
                     ("/admin/reports/overdue.csv?class=6A1&lang=en", "/admin/overdue/6A1.csv?lang=en")):
        answer = client.get(old)
        assert (answer.status_code, answer.headers["Location"]) == (301, new), old
    assert client.get("/admin/reports/overdue.docx?class=6A1").status_code == 404


def test_a_refused_report_is_a_message_on_the_reports_page(client, seeded):
    login(client)
    answer = client.get("/admin/reports/cards.pdf?class=9Z9&lang=en", follow_redirects=True)
    assert answer.status_code == 200
    assert "There is no class named &#39;9Z9&#39;." in answer.get_data(as_text=True)
    answer = client.get("/admin/reports/stats?year=2025/26", follow_redirects=True)
    assert "không hợp lệ" in html.unescape(answer.get_data(as_text=True))


def test_stats_page_shows_tables_and_serves_its_charts(client, seeded):
    login(client)
    page = client.get("/admin/reports/stats?year=2025-2026&term=2")
    text = html.unescape(page.get_data(as_text=True))
    assert page.status_code == 200
    assert "Thống kê thư viện — 2025-2026 HK2" in text and "Lượt mượn theo lớp" in text
    charts = [part.split('"')[0] for part in text.split('<img src="')[1:]]
    assert len(charts) == 3
    for url in charts:
        image = client.get(url)
        assert image.status_code == 200 and image.mimetype == "image/png" and image.data[:4] == b"\x89PNG"
    workbook = client.get("/admin/reports/stats.xlsx?month=2026-02")
    summary = {row[0]: row[1] for row in xlsx_rows(workbook.data, "Tổng hợp")[2:]}
    assert summary["Lượt mượn"] == 3  # 2 and 16 and 23 February


def test_registers_labels_and_cards_download(client, seeded):
    login(client)
    register = client.get("/admin/reports/register/accession.xlsx?prefix=TN")
    assert register.status_code == 200
    assert [row[2] for row in xlsx_rows(register.data)[2:]] == [f"TN-000{n}" for n in range(1, 6)]
    loans = client.get("/admin/reports/register/loans.pdf?year=2025-2026")
    assert "SỔ MƯỢN" in pdf_text(loans.data)[0]
    labels = client.get("/admin/reports/labels.pdf?copies=TN-0001,TN-0002&sheet=4x10&start=5")
    assert labels.status_code == 200 and labels.mimetype == "application/pdf"
    assert "TN-0001" in pdf_text(labels.data)[0]
    cards = client.get("/admin/reports/cards.pdf?class=6A2")
    assert "Lê Thị Ánh" in pdf_text(cards.data)[0]
    bad = client.get("/admin/reports/labels.pdf?copies=TN-0001&start=x", follow_redirects=True)
    assert "Tờ nhãn" in html.unescape(bad.get_data(as_text=True))


def test_a_teacher_link_shows_one_class_read_only_until_revoked(client, seeded, school):
    login(client)
    index = client.get("/admin/reports/")
    token_field = index.get_data(as_text=True).split('name="csrf_token" value="')[1].split('"')[0]
    made = client.post("/admin/reports/links", data={"class": "6A1", "csrf_token": token_field},
                       follow_redirects=True)
    text = html.unescape(made.get_data(as_text=True))
    url = text.split("Đường dẫn cho lớp 6A1: ")[1].split("<")[0].strip()
    path = url.split("localhost", 1)[1]
    assert path.startswith("/class/") and len(path) > 25

    teacher = client.application.test_client()  # no PIN, a fresh browser
    page = teacher.get(path)
    shown = html.unescape(page.get_data(as_text=True))
    assert page.status_code == 200
    assert "Lớp 6A1" in shown and "Nguyễn Văn An" in shown and "Trần Thị Bình" in shown
    assert "Dế Mèn phiêu lưu ký" in shown and "TN-0001" in shown
    # Never another class, never the students' card codes (a card code borrows books).
    assert "Lê Thị Ánh" not in shown and "6A2" not in shown and "HS001" not in shown
    # Reading counts: An borrowed 2 books this school year, holds 2, both overdue; Bình borrowed 2, holds 1.
    reading = shown.split("Số lượt mượn trong năm học 2025-2026")[1]
    cells = {row[0]: row[1:] for row in (re.findall(r"<td[^>]*>(.*?)</td>", tr) for tr in reading.split("<tr"))
             if row}
    assert cells == {"Nguyễn Văn An": ["2", "2", "2"], "Trần Thị Bình": ["2", "1", "0"]}
    assert teacher.get("/admin/reports/").status_code == 302  # the link opens nothing else

    token = path.rsplit("/", 1)[1]
    revoked = client.post(f"/admin/reports/links/{token}/revoke", data={"csrf_token": token_field},
                          follow_redirects=True)
    assert "Đường dẫn của lớp 6A1 đã bị thu hồi." in html.unescape(revoked.get_data(as_text=True))
    gone = teacher.get(path)
    assert gone.status_code == 404
    assert "không còn hiệu lực" in html.unescape(gone.get_data(as_text=True))
    assert teacher.get("/class/not-a-token").status_code == 404
