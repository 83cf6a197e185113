"""The librarian's desk in real Chromium: the grouped one-row menu, a USB scan never lost, an
override with a reason, a lost book made good, and no English or technical words on Vietnamese pages."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import (  # noqa: F401 (fixtures)
    SIZES,
    browser_fixture,
    new_page,
    ready,
    school_kiosk_fixture,
    screenshot,
    trapped_controls,
)

pytestmark = pytest.mark.browser


def signed_in_librarian(browser, server, size: str, where: str = "/admin/"):
    page = new_page(browser, SIZES[size])
    page.goto(server.url + where)
    page.fill("#pin", "1234")
    page.click("button[type=submit]")
    expect(page.locator(".admin-nav")).to_be_visible()
    return page


def usb_scan(page, code: str) -> None:
    ready(page)
    page.keyboard.type(code, delay=5)
    page.keyboard.press("Enter")


@pytest.mark.parametrize("size", SIZES)
def test_the_menu_is_one_row_and_every_item_can_be_tapped(browser, school_kiosk, size):
    page = signed_in_librarian(browser, school_kiosk, size)
    nav = page.locator(".admin-nav").bounding_box()
    assert nav["height"] < 60, nav  # one row, not three
    assert trapped_controls(page, ".topbar") == []
    page.click(".nav-more summary")
    expect(page.locator(".nav-menu a")).to_have_count(4)
    assert trapped_controls(page, ".topbar") == []
    screenshot(page, f"admin-menu-{size}")
    page.context.close()


def test_a_scan_is_never_lost_and_a_refusal_can_be_overridden_for_a_reason(browser, school_kiosk):
    page = signed_in_librarian(browser, school_kiosk, "1280x800", "/admin/patrons/HS004")
    expect(page.locator("#item")).to_be_focused()
    for code in ("TN-0002", "TN-0003", "TN-0004"):
        page.locator("h1").click()  # the focus leaves the field, as after any click on the page
        usb_scan(page, code)
        expect(page.locator(".banner.success")).to_contain_text("Đã cho mượn")
        expect(page.locator("#item")).to_be_focused()  # back in the field for the next scan
    page.locator("h1").click()
    usb_scan(page, "TN-0005")
    expect(page.locator(".banner.error")).to_contain_text("Bạn đọc đang mượn 3 cuốn")  # worded for staff
    offer = page.locator("#override")
    expect(offer).to_contain_text("Vẫn cho mượn TN-0005")
    offer.locator("select").select_option("teacher_request")
    screenshot(page, "admin-override")
    offer.locator("button").click()
    expect(page.locator(".banner.success")).to_contain_text("Cho tôi xin một vé đi tuổi thơ")
    expect(page.locator("table.loans tbody tr")).to_have_count(4)
    # On a page without a scan field, a scan opens the search for it.
    page.goto(school_kiosk.url + "/admin/overdue")
    usb_scan(page, "TN-0007")
    expect(page).to_have_url(re.compile(r"/admin/search\?q=TN-0007"))
    page.context.close()


def test_a_lost_book_made_good_ends_the_loan(browser, school_kiosk):
    page = signed_in_librarian(browser, school_kiosk, "800x480", "/admin/copies/TN-0009")  # Hiếu's, overdue
    page.check("input[value=mark_lost]")
    page.check("input[name=how][value=paid]")
    page.fill("#amount", "45.000")
    screenshot(page, "admin-lost-paid-800x480", full_page=True)
    page.click("form[action$='/status'] button[type=submit]")
    expect(page.locator(".banner.success")).to_be_visible()
    expect(page.locator(".status")).to_have_text("bị mất")
    page.goto(school_kiosk.url + "/admin/patrons/HS006")
    expect(page.locator("table.loans tbody tr")).to_have_count(1)  # only Góc sân… is still on loan
    page.context.close()


# Words that must never show on a Vietnamese page: English left untranslated and technical tokens.
FOREIGN = re.compile(r"\b(the|and|of|is|not|please|error|None|null|undefined|True|False|NaN|main|Traceback|"
                     r"ConnectionError|Exception|muontra pair|loan_limit|on_loan|not_for_loan|available)\b")
PAGES = ["/admin/", "/admin/search?q=an", "/admin/patrons/HS001", "/admin/patrons/new", "/admin/copies/TN-0001",
         "/admin/copies/new", "/admin/overdue", "/admin/overdue/6A1", "/admin/policy", "/admin/calendar",
         "/admin/import", "/admin/pin", "/admin/reports/", "/admin/reports/stats", "/admin/sync/",
         "/staff/menu", "/staff/rotation", "/staff/shelving", "/staff/stocktake", "/staff/intake",
         "/", "/borrow", "/return", "/search"]


def test_no_english_or_technical_words_on_any_vietnamese_page(browser, school_kiosk):
    page = signed_in_librarian(browser, school_kiosk, "1280x800")
    found = {}
    for path in PAGES:
        page.goto(school_kiosk.url + path)
        # What a person reads: the text, the placeholders, the buttons' values and titles.
        text = page.evaluate("""() => [document.body.innerText,
            ...[...document.querySelectorAll('[placeholder],[title],option')].map(
                el => el.getAttribute('placeholder') || el.getAttribute('title') || el.textContent)].join(' ')""")
        text = text.replace("English", "")  # the language switch names English, in English
        hits = sorted(set(FOREIGN.findall(text)))
        if hits:
            found[path] = hits
    assert found == {}
    page.context.close()
