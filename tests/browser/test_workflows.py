"""Helpers and the librarian at the staff pages, in real headless Chromium against a real kiosk process.

Scans are typed like a USB wedge scanner (fast keys + Enter, no click into a field).
"""

from __future__ import annotations

import re

import pytest
import requests
from playwright.sync_api import expect

from tests.browser.conftest import SCAN_TIMING, browser_fixture, new_page, opened, scan, screenshot  # noqa: F401 (fixture)
from tests.conftest import KioskProcess, copy_fact, patron_fact
from tests.kiosk.reports.conftest import pdf_text, xlsx_rows

pytestmark = pytest.mark.browser

SHELVES = {"TN-0001": "A1", "TN-0002": "A1", "TN-0003": "A2", "TN-0004": "A2", "TN-0005": "A2",
           "TN-0006": "B4", "STK-0001": "C1", "STK-0002": "C1"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data = tmp_path_factory.mktemp("staff") / "data"
    with opened(data) as circ:
        circ.record_facts([
            ("setting.set", {"key": "school_name", "value": "Trường THCS Nguyễn Du"}),
            patron_fact("HS001", "Nguyễn Văn An", "6A1"),
            patron_fact("GV001", "Phạm Thu Hà", "", kind="teacher"),
            patron_fact("CTV01", "Đỗ Quang Huy", "7A2", kind="helper"),
            copy_fact("TN-0001", "Dế Mèn phiêu lưu ký", author="Tô Hoài"),
            copy_fact("TN-0002", "Đất rừng phương Nam", author="Đoàn Giỏi"),
            copy_fact("TN-0003", "Tuổi thơ dữ dội", author="Phùng Quán"),
            copy_fact("TN-0004", "Kính vạn hoa", author="Nguyễn Nhật Ánh"),
            copy_fact("TN-0005", "Cho tôi xin một vé đi tuổi thơ", author="Nguyễn Nhật Ánh"),
            copy_fact("TN-0006", "Hoàng tử bé", author="Antoine de Saint-Exupéry", classification="843 SA-E"),
            copy_fact("STK-0001", "Từ điển Tiếng Việt", category="STK"),
            copy_fact("STK-0002", "Sổ tay kiến thức Toán 6", category="STK"),
            *[("copy.move", {"item": code, "location": "main", "shelf": shelf, "at": "2026-01-01T00:00:00"})
              for code, shelf in SHELVES.items()],
        ])
    process = KioskProcess(data, env=SCAN_TIMING).start()  # scans stay whole on a loaded machine
    yield process
    process.stop()


def sign_in_librarian(page, server, where="/staff/") -> None:
    page.goto(server.url + where)
    page.fill("#pin", "1234")
    page.click(".pin-form button")
    expect(page.locator(".staff-badge")).to_have_text("Cán bộ thư viện")


def sign_in_helper(page, server) -> None:
    page.goto(server.url + "/staff/")
    scan(page, "CTV01")
    expect(page.locator(".staff-badge")).to_have_text("Cộng tác viên CTV01")


def result(page):
    return page.locator(".result")


def test_rotation_batch_out_and_back_with_two_books_missing(browser, server):
    librarian = new_page(browser)
    sign_in_librarian(librarian, server, "/staff/rotation")
    librarian.fill("[name=class_name]", "6A1")
    librarian.fill("[name=teacher]", "GV001")
    librarian.fill("[name=helpers]", "CTV01")
    librarian.click("#open-batch button")
    expect(librarian.locator("h1")).to_have_text("Thư viện lớp 6A1")
    librarian.locator("body").click()  # the focus leaves the form; the scanner types into the page
    for code in ("TN-0001", "TN-0002", "TN-0003", "TN-0004", "TN-0005"):
        scan(librarian, code)
        expect(librarian.locator('[data-count="total"]')).to_have_text(code[-1])
    batch = librarian.url.split("/")[-2]

    # In the classroom a student borrows one of the batch's books at the class-library kiosk.
    lent = requests.post(server.url + "/api/checkout", json={"patron": "HS001", "item": "TN-0004"}, timeout=5)
    assert lent.status_code == 200, lent.text

    helper = new_page(browser)
    sign_in_helper(helper, server)
    helper.goto(server.url + f"/staff/rotation/{batch}/return")
    for count, code in enumerate(("TN-0001", "tn-0002", "TN-0003"), start=1):
        scan(helper, code)
        expect(helper.locator('[data-count="returned"]')).to_have_text(str(count))
    expect(helper.locator(".counter")).to_have_text("3 / 5")
    scan(helper, "TN-0006")  # a main-library book slipped into the box
    expect(result(helper)).to_have_class(re.compile(r"\bstop\b"))
    expect(result(helper)).to_contain_text("DỪNG LẠI: cuốn này không thuộc đợt này (thuộc Thư viện chính)")
    screenshot(helper, "workflows-batch-stop")
    scan(helper, "XX-999")
    expect(result(helper)).to_contain_text("mã này không có trong danh mục")
    expect(helper.locator(".counter")).to_have_text("3 / 5")
    helper.click("#undo")
    expect(helper.locator(".counter")).to_have_text("2 / 5")
    expect(result(helper)).to_contain_text("Đã hoàn tác: TN-0003")
    helper.locator("body").click()
    scan(helper, "TN-0003")
    expect(result(helper)).to_have_class(re.compile(r"\bok\b"))
    expect(helper.locator(".counter")).to_have_text("3 / 5")
    missing = helper.locator("#missing li")
    expect(missing).to_have_count(2)
    expect(missing.nth(0)).to_contain_text("TN-0004 Kính vạn hoa đang cho mượn")
    expect(missing.nth(1)).to_contain_text("TN-0005 Cho tôi xin một vé đi tuổi thơ")
    assert "Nguyễn Văn An" not in helper.content()  # helpers never see who borrowed it
    screenshot(helper, "workflows-batch-return")

    librarian.goto(server.url + f"/staff/rotation/{batch}/summary")
    sheet = librarian.locator(".print-sheet")
    expect(sheet).to_contain_text("Đã về: 3 / 5")
    expect(sheet).to_contain_text("Còn thiếu (2)")
    expect(sheet).to_contain_text("đang cho mượn: Nguyễn Văn An (6A1)")
    screenshot(librarian, "workflows-batch-summary")


def test_staff_pages_use_the_kiosk_scanner_settings(browser, server):
    page = new_page(browser)
    page.goto(server.url + "/staff/")
    scanning = page.locator('meta[name="muontra-scanning"]')
    assert (scanning.get_attribute("data-pause-ms"), scanning.get_attribute("data-key-gap-ms")) == (
        SCAN_TIMING["MUONTRA_SCAN_PAUSE_MS"], SCAN_TIMING["MUONTRA_SCAN_KEY_GAP_MS"])


def test_helper_mode_is_refused_the_librarian_pages(browser, server):
    helper = new_page(browser)
    sign_in_helper(helper, server)
    expect(helper.locator("#go-rotation")).to_be_visible()
    expect(helper.locator("#go-intake")).to_have_count(0)
    # The admin pages (policy, readers, catalogue, import) ask for the librarian's PIN.
    for where in ("/admin/", "/admin/policy", "/admin/patrons/HS001", "/admin/copies/TN-0001", "/admin/import"):
        helper.goto(server.url + where)
        assert "/admin/login" in helper.url, where
        expect(helper.locator("input[name=pin]")).to_be_visible()
        assert "Nguyễn Văn An" not in helper.content()
    response = helper.goto(server.url + "/staff/intake")
    assert response.status == 403
    expect(helper.locator("h1")).to_have_text("Chỉ cán bộ thư viện mới làm được việc này.")
    helper.goto(server.url + "/staff/rotation")
    expect(helper.locator("#open-batch")).to_have_count(0)


def test_shelving_shows_where_the_book_goes(browser, server):
    helper = new_page(browser)
    sign_in_helper(helper, server)
    helper.goto(server.url + "/staff/shelving")
    scan(helper, "TN-0006")
    card = helper.locator("#shelf-card")
    expect(card.locator('[data-field="shelf"]')).to_have_text("B4")
    expect(card.locator('[data-field="place"]')).to_have_text("Thư viện chính")
    expect(card.locator('[data-field="classification"]')).to_have_text("843 SA-E")
    expect(card).to_contain_text("Hoàng tử bé")
    screenshot(helper, "workflows-shelving")
    scan(helper, "NOPE-1")
    expect(card).to_be_hidden()
    expect(result(helper)).to_contain_text("NOPE-1 không có trong danh mục")


def test_stocktake_with_misplaced_unknown_and_missing_exported(browser, server, tmp_path):
    librarian = new_page(browser)
    sign_in_librarian(librarian, server, "/staff/stocktake")
    librarian.select_option("[name=location]", "main")
    librarian.fill("[name=shelf_from]", "A1")
    librarian.fill("[name=shelf_to]", "A2")
    librarian.click("#open-stocktake button")
    expect(librarian.locator(".counter")).to_contain_text(" / ")
    session_url = librarian.url

    helper = new_page(browser)
    sign_in_helper(helper, server)
    helper.goto(session_url)
    expected = int(helper.locator('[data-count="expected"]').inner_text())
    for count, code in enumerate(("TN-0001", "TN-0002"), start=1):
        scan(helper, code)
        expect(helper.locator('[data-count="seen"]')).to_have_text(str(count))
    scan(helper, "STK-0002")
    expect(result(helper)).to_contain_text("Để sai chỗ: sách thuộc Thư viện chính, giá C1.")
    scan(helper, "ZZ-0404")
    expect(result(helper)).to_have_class(re.compile(r"\bstop\b"))
    screenshot(helper, "workflows-stocktake")
    expect(helper.locator("#finish-stocktake")).to_have_count(0)

    librarian.goto(session_url)
    librarian.click("#finish-stocktake button")
    expect(librarian.locator(".banner.success")).to_contain_text("Kết thúc ngày")
    missing = librarian.locator('[data-list="missing"] li')
    missing_codes = sorted(t.split()[0] for t in missing.all_inner_texts())
    assert len(missing_codes) == expected - 2 and "TN-0001" not in missing_codes
    with librarian.expect_download() as download:
        librarian.click("#record-xlsx")
    xlsx = tmp_path / "record.xlsx"
    download.value.save_as(xlsx)
    summary = xlsx_rows(xlsx, "Tổng hợp")
    assert summary[2:] == [["Cần có trên giá", expected], ["Đã tìm thấy trong số đó", 2],
                           ["Không tìm thấy", expected - 2], ["Thấy trên giá nhưng đang cho mượn", 0],
                           ["Để sai chỗ", 1], ["Tìm lại được", 0], ["Mã không xác định", 1]]
    listed = [row for row in xlsx_rows(xlsx, "Không tìm thấy")[2:] if isinstance(row[0], int)]
    assert [row[1] for row in listed] == missing_codes
    assert xlsx_rows(xlsx, "Để sai chỗ")[2] == [1, "STK-0002", "Sổ tay kiến thức Toán 6", "Thư viện chính", "C1"]
    assert xlsx_rows(xlsx, "Mã không xác định")[2] == [1, "ZZ-0404"]
    with librarian.expect_download() as download:
        librarian.click("#record-pdf")
    pdf = tmp_path / "record.pdf"
    download.value.save_as(pdf)
    text = "\n".join(pdf_text(pdf))
    for words in ("Biên bản kiểm kê", "Trường THCS Nguyễn Du", "Thư viện chính, giá A1 đến A2",
                  "Sổ tay kiến thức Toán 6", "Để sai chỗ", "ZZ-0404", "Hiệu trưởng", "(ký, ghi rõ họ tên)"):
        assert words in text, words


def test_intake_of_donated_books_with_labels(browser, server):
    librarian = new_page(browser)
    sign_in_librarian(librarian, server, "/staff/intake")
    # The scanner types the cover ISBN into the ISBN field; its Enter looks the title up.
    librarian.focus("#isbn")
    librarian.keyboard.type("9786041234567", delay=5)
    librarian.keyboard.press("Enter")
    expect(librarian.locator("#title")).to_be_focused()
    librarian.fill("#title", "Những tấm lòng cao cả")
    librarian.fill("#author", "Edmondo De Amicis")
    librarian.select_option("#prefix", "TN-")
    librarian.fill("#count", "2")
    librarian.fill("[name=donor]", "Chi đoàn 9A1")
    screenshot(librarian, "workflows-intake")
    librarian.click("#intake-form button[type=submit]")
    receipt = librarian.locator("#intake-receipt")
    expect(receipt).to_contain_text("Đã nhập 2 bản sách “Những tấm lòng cao cả”.")
    expect(receipt.locator(".code")).to_have_text(["TN-0007", "TN-0008"])
    labels = requests.get(server.url + librarian.locator("#print-labels").get_attribute("href"),
                          cookies={c["name"]: c["value"] for c in librarian.context.cookies()}, timeout=10)
    assert labels.headers["Content-Type"] == "application/pdf"
    printed = "\n".join(pdf_text(labels.content))
    assert "TN-0007" in printed and "TN-0008" in printed

    # The same ISBN again: the title comes from the catalogue now.
    librarian.goto(server.url + "/staff/intake")
    librarian.focus("#isbn")
    librarian.keyboard.type("978-604-1-23456-7", delay=5)
    librarian.keyboard.press("Enter")
    expect(librarian.locator("#title")).to_have_value("Những tấm lòng cao cả")
    expect(librarian.locator("#isbn-known")).to_be_visible()
    expect(librarian.locator("#count")).to_be_focused()
