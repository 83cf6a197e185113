"""The import page in real Chromium: upload with progress, the changes preview, confirmation; 800×480 and 1280×800."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SMALL, browser_fixture, kiosk, new_page, screenshot  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser

MOVED_UP = ("Mã HS,Họ và tên,Lớp\nHS001,Nguyễn Văn An,7A1\nHS002,Trần Thị Bình,6A2\n"
            "HS004,Phạm Gia Huy,8A1\nHS099,Vi Văn Tú,6A1\n").encode()


def choose(page, name: str, data: bytes) -> None:
    page.check("input[name=kind][value=patrons]")
    page.set_input_files("#file", files=[{"name": name, "mimeType": "text/csv", "buffer": data}])
    page.click("#import-form button[type=submit]")


def test_changes_are_previewed_then_confirmed(browser, tmp_path):
    with kiosk(tmp_path) as process:
        page = new_page(browser)
        page.goto(process.url + "/admin/import")
        page.fill("#pin", "1234")
        page.click("button[type=submit]")
        page.goto(process.url + "/admin/import")
        choose(page, "lop-moi.csv", MOVED_UP)
        expect(page.locator("#import-summary")).to_have_text("1 mới, 2 thay đổi, 1 không đổi.")
        expect(page.locator("#import-changes tbody tr")).to_have_count(2)
        expect(page.locator("#import-changes")).to_contain_text("Lớp: 6A1 → 7A1")
        screenshot(page, "admin-import-changes")
        small = new_page(browser, SMALL)
        small.context.add_cookies(page.context.cookies())
        small.goto(process.url + "/admin/import")
        choose(small, "lop-moi.csv", MOVED_UP)
        expect(small.locator("#import-changes")).to_contain_text("HS004")
        assert small.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        screenshot(small, "admin-import-changes-800x480")
        small.context.close()
        page.click("form[action$='/import/confirm'] button[type=submit]")
        expect(page.locator(".banner.success")).to_contain_text("lop-moi.csv")
        page.goto(process.url + "/admin/patrons/HS001")
        expect(page.locator("main")).to_contain_text("7A1")
        page.context.close()
