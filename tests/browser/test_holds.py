"""Reservations at the kiosk, in real Chromium against a real kiosk process: a child finds a book whose
copies are all out, reserves it with their card, the book comes back at the kiosk (set aside, never
saying for whom), and the reader sees it waiting at their next card scan."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SMALL, browser_fixture, kiosk, new_page, scan, screenshot  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser


def test_reserve_a_book_then_it_waits_for_the_reader(browser, tmp_path):
    with kiosk(tmp_path) as process:  # An (HS001) holds "Hoàng tử bé", its only copy (TN-0006)
        page = new_page(browser, viewport=SMALL)
        page.goto(process.url + "/search")
        page.fill("#search-q", "hoang tu")
        result = page.locator(".search-result", has_text="Hoàng tử bé")
        expect(result).to_be_visible()
        result.locator("[data-action=reserve]").click()
        box = page.locator("[data-result=search]")
        expect(box).to_contain_text("Hoàng tử bé")
        page.locator("body").click(position={"x": 5, "y": 200})  # the search field lets go of the focus
        scan(page, "HS002")
        expect(box).to_have_class(re.compile(r"\bok\b"))
        expect(box).to_contain_text("Hoàng tử bé")
        screenshot(page, "kiosk-hold-placed-800")
        page.context.close()

        page = new_page(browser)
        page.goto(process.url + "/return")
        scan(page, "TN-0006")
        answer = page.locator("[data-result=return]")
        expect(answer).to_contain_text("đặt trước")
        expect(answer).not_to_contain_text("Bình")  # never for whom
        page.context.close()

        page = new_page(browser, viewport=SMALL)
        page.goto(process.url + "/borrow")
        scan(page, "HS002")
        notice = page.locator("[data-list=notices] .hold-ready")
        expect(notice).to_contain_text("Hoàng tử bé")
        screenshot(page, "kiosk-hold-ready-800")
        scan(page, "HS001")  # someone else's card: the copy waits for Bình
        scan(page, "TN-0006")
        expect(page.locator("[data-result=books]")).to_have_class(re.compile(r"\bbad\b"))
        page.context.close()
