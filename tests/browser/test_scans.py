"""Friendlier scans: a book already held, a book on the start screen, one helper-card scan, and the
optional return receipt — in real Chromium against a real kiosk."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import (  # noqa: F401 (fixtures)
    SIZES,
    browser_fixture,
    new_page,
    scan,
    school_kiosk_fixture,
    screenshot,
    signed_in,
    trapped_controls,
)

pytestmark = pytest.mark.browser


def test_a_book_scanned_again_after_the_double_scan_window_is_already_yours(browser, school_kiosk):
    page = signed_in(browser, school_kiosk, "HS004", greeting="Chào em Huy!")
    scan(page, "TN-0002")
    expect(page.locator("[data-list=borrowed] li")).to_have_count(1)
    page.wait_for_timeout(2300)  # past DOUBLE_SCAN_SECONDS: this is a real second scan
    scan(page, "TN-0002")
    result = page.locator("[data-result=books]")
    expect(result).to_have_class(re.compile(r"\binfo\b"))
    expect(result).to_contain_text("Em đã mượn cuốn “Đất rừng phương Nam” rồi")
    assert page.evaluate("window.muontra.state.sounds") == ["ok", "ok", "info"]
    expect(page.locator("[data-list=borrowed] li")).to_have_count(1)
    page.context.close()


@pytest.mark.parametrize("size", SIZES)
def test_a_book_scanned_on_the_start_screen_asks_and_returns_it_with_a_receipt(browser, school_kiosk, size):
    page = new_page(browser, SIZES[size])
    page.goto(school_kiosk.url + "/")
    book = "TN-0010" if size == "800x480" else "TN-0009"  # Hiếu's books, lent by the paper loan book
    scan(page, book)
    prompt = page.locator("[data-result=idle]")
    expect(prompt).to_contain_text("Trả cuốn này?")
    screenshot(page, f"idle-return-this-{size}")
    assert trapped_controls(page) == []
    prompt.locator("[data-action=return-this]").click()
    returned = page.locator("[data-result=return]")
    expect(returned).to_have_class(re.compile(r"\bok\b"))
    expect(returned).to_contain_text("Đã trả sách")
    assert page.url == school_kiosk.url + "/return"
    printing = page.locator("[data-action=print-return]")
    expect(printing).to_be_visible()
    assert trapped_controls(page) == []
    page.emulate_media(media="print")
    expect(page.locator(".return-receipt")).to_be_visible()
    expect(page.locator(".return-receipt tbody tr")).to_have_count(1)
    expect(page.locator(".receipt")).to_be_hidden()  # the borrow receipt is not printed with it
    expect(page.locator("[data-list=returned]")).to_be_hidden()
    page.context.close()


def test_no_is_no_on_the_start_screen(browser, school_kiosk):
    page = new_page(browser)
    page.goto(school_kiosk.url + "/")
    scan(page, "TN-0003")
    page.locator("[data-action=not-return]").click()
    expect(page.locator("[data-result=idle]")).to_be_hidden()
    expect(page.locator("#go-borrow")).to_be_visible()
    page.context.close()


def test_one_scan_of_a_helper_card_opens_the_helpers_work(browser, school_kiosk):
    page = new_page(browser)
    page.goto(school_kiosk.url + "/")
    scan(page, "CTV01")
    page.locator("[data-patron=helper] a").click()
    expect(page.locator(".staff-badge")).to_have_text("Cộng tác viên CTV01")
    assert page.url == school_kiosk.url + "/staff/menu"
    page.context.close()
