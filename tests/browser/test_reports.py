"""The librarian's report pages in real headless Chromium against a real kiosk process."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import browser_fixture, kiosk, new_page, opened, screenshot  # noqa: F401 (fixture)
from tests.kiosk.reports.conftest import pdf_text, xlsx_rows

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("reports")
    with kiosk(tmp) as process:
        with opened(process.data) as circ:
            # A loan from January: overdue whatever day the test runs.
            circ.clock = lambda: datetime(2026, 1, 5, 2, tzinfo=UTC)
            circ.checkout("HS001", "TN-0001")
            circ.checkout("HS002", "TN-0002")
        yield process


def signed_in(browser, server, path: str):
    page = new_page(browser)
    page.goto(server.url + path)
    page.fill("#pin", "1234")
    page.keyboard.press("Enter")
    page.wait_for_url(server.url + path)
    return page


def test_overdue_classes_then_one_class_then_its_slips(browser, server, tmp_path):
    page = signed_in(browser, server, "/admin/")
    page.locator("a.stat", has_text="quá hạn").click()  # the home page's counter
    expect(page.locator("h1")).to_have_text("Sách quá hạn")
    expect(page.locator("table.results tbody tr")).to_have_count(2)  # 6A1 and 6A2, one book each
    screenshot(page, "overdue")

    page.get_by_role("link", name="6A1", exact=True).click()
    expect(page.locator("h1")).to_contain_text("Danh sách sách quá hạn lớp 6A1 ngày")
    table = page.locator("table.results")
    expect(table).to_contain_text("Nguyễn Văn An")
    expect(table).to_contain_text("Dế Mèn phiêu lưu ký")
    expect(table).not_to_contain_text("Trần Thị Bình")  # 6A2
    screenshot(page, "overdue-class")

    with page.expect_download() as slips:
        page.get_by_role("link", name="Phiếu nhắc trả sách (PDF)").click()
    target = tmp_path / "slips.pdf"
    slips.value.save_as(target)
    text = pdf_text(target)[0]
    assert "PHIẾU NHẮC TRẢ SÁCH THƯ VIỆN" in text and "Gửi em: Nguyễn Văn An, lớp 6A1" in text
    assert "Trần Thị Bình" not in text
    with page.expect_download() as listing:
        page.get_by_role("link", name="Danh sách (Excel)").click()
    listing.value.save_as(tmp_path / "list.xlsx")
    assert [row[4] for row in xlsx_rows(tmp_path / "list.xlsx")[2:]] == ["TN-0001"]

    page.locator("nav.admin-nav").get_by_role("link", name="Quá hạn", exact=True).click()
    expect(page.locator("h1")).to_have_text("Sách quá hạn")


def test_statistics_page_draws_its_charts(browser, server):
    page = signed_in(browser, server, "/admin/reports/")
    screenshot(page, "reports")
    stats_form = page.locator("form[action$='/admin/reports/stats']")
    stats_form.locator("input[name=year]").fill("2025-2026")
    stats_form.get_by_role("button", name="Xem").click()
    expect(page.locator("h1")).to_have_text("Thống kê thư viện — 2025-2026")
    images = page.locator("figure.chart img")
    expect(images).to_have_count(3)
    page.wait_for_load_state("networkidle")
    widths = images.evaluate_all("imgs => imgs.map(img => img.complete ? img.naturalWidth : 0)")
    assert all(width > 500 for width in widths), widths
    expect(page.locator("table.results").first).to_contain_text("Lượt mượn")
    screenshot(page, "reports-stats")
