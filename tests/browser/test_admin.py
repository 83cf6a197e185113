"""The librarian in real headless Chromium: PIN lock-out, and the pages look right."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from kiosk.admin_auth import PinLocked, WrongPin
from tests.browser.conftest import SMALL, browser_fixture, kiosk, new_page, screenshot  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser


NO_SIDEWAYS_SCROLL = """
    document.documentElement.scrollWidth <= window.innerWidth &&
    [...document.querySelectorAll('.table-wrap')].every(el => el.scrollWidth <= el.clientWidth + 1)
"""


def enter_pin(page, pin: str) -> None:
    page.fill("#pin", pin)
    page.click("button[type=submit]")


def test_librarian_pages_then_pin_lock_out(browser, tmp_path):
    with kiosk(tmp_path, env={"MUONTRA_PIN_MAX_ATTEMPTS": "3"}) as process:
        page = new_page(browser)
        page.goto(process.url + "/admin/patrons/HS001")
        expect(page.locator("#pin")).to_be_visible()
        enter_pin(page, "1234")
        expect(page.locator("h1")).to_contain_text("Nguyễn Văn An")
        expect(page.locator(".banner.warning")).to_contain_text("1234")  # the default PIN warning
        expect(page.locator("table.loans tbody tr")).to_have_count(1)  # Hoàng tử bé, seeded
        page.fill("#item", "TN-0003")
        page.click("form[action$='/checkout'] button")
        expect(page.locator(".banner.success")).to_contain_text("Tuổi thơ dữ dội")
        expect(page.locator("table.loans tbody tr")).to_have_count(2)
        screenshot(page, "admin-patron")
        page.goto(process.url + "/admin/policy")
        screenshot(page, "admin-policy")
        small = new_page(browser, SMALL)
        small.context.add_cookies(page.context.cookies())
        small.goto(process.url + "/admin/search?q=nguyen")
        expect(small.locator("table.results").first).to_contain_text("Nguyễn Văn An")
        screenshot(small, "admin-search-800x480")
        for path in ("/admin/search?q=nguyen", "/admin/", "/admin/policy", "/admin/calendar", "/admin/import",
                     "/admin/patrons/HS001", "/admin/copies/TN-0006", "/admin/pin", "/", "/borrow", "/return"):
            small.goto(process.url + path)
            # Nothing scrolls sideways on a 7" screen: not the page, not a table inside it.
            assert small.evaluate(NO_SIDEWAYS_SCROLL), path
        screenshot(small, "return-800x480")
        small.context.close()

        page.goto(process.url + "/admin/import")
        page.check("input[name=kind][value=patrons]")
        page.set_input_files("#file", files=[{
            "name": "hoc-sinh-6A3.csv", "mimeType": "text/csv",
            "buffer": "Mã HS,Họ và tên,Lớp\nHS301,Hà Thu,6A3\nHS302,,6A3\nHS303,Lê Na,6A3\nHS301,Trùng Mã,6A3\n".encode(),
        }])
        page.click("#import-form button[type=submit]")
        expect(page.locator("table.problems-table tbody tr")).to_have_count(2)
        expect(page.locator("table.problems-table")).to_contain_text("Dòng 3")
        expect(page.locator("table.problems-table")).to_contain_text("Dòng 5")
        screenshot(page, "admin-import-errors")
        page.click("button.link-button")  # log out
        page.goto(process.url + "/admin/")
        enter_pin(page, "1111")
        expect(page.locator("#pin-error")).to_have_text(WrongPin(left=2).message_in("vi"))
        enter_pin(page, "2222")
        enter_pin(page, "3333")
        expect(page.locator("#pin-error")).to_have_text(PinLocked(minutes=5).message_in("vi"))
        enter_pin(page, "1234")  # the right PIN is refused while locked out
        expect(page.locator("#pin-error")).to_have_text(PinLocked(minutes=5).message_in("vi"))
        screenshot(page, "admin-locked")
        page.context.close()
