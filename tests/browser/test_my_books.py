"""A reader's own session: full name and class, addressed by kind, their own books with due dates
(overdue first, in red, named), renew with a tap, and why they cannot borrow — in real Chromium."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from kiosk.rules import RenewOverdue
from tests.browser.conftest import (  # noqa: F401 (fixtures)
    OVERDUE_DAYS,
    SIZES,
    browser_fixture,
    scan,
    school_kiosk_fixture,
    screenshot,
    signed_in,
    trapped_controls,
)

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("size", SIZES)
def test_an_overdue_student_sees_which_book_and_renews_another(browser, school_kiosk, size):
    page = signed_in(browser, school_kiosk, "HS006", SIZES[size], "Chào em Hiếu!")
    # Two Hiếu in 6A1: the full name says whose card it is.
    expect(page.locator("[data-patron=name]")).to_have_text("Lê Thị Hiếu")
    expect(page.locator("[data-patron=class]")).to_have_text("Lớp 6A1")
    reason = f"Em cần trả “Dế Mèn phiêu lưu ký” (quá hạn {OVERDUE_DAYS} ngày) trước khi mượn tiếp nhé."
    expect(page.locator("[data-patron=blocked]")).to_have_text(reason)
    # No green "may still borrow" that the rules then refuse.
    expect(page.locator("[data-patron=may_borrow]")).to_have_text("0")
    expect(page.locator("[data-tile=may_borrow]")).not_to_have_class(re.compile(r"\bgood\b"))
    mine = page.locator("[data-list=mine] li")
    expect(mine).to_have_count(2)
    expect(mine.nth(0)).to_have_class(re.compile(r"\blate\b"))  # overdue first, in red
    expect(mine.nth(0)).to_contain_text("Dế Mèn phiêu lưu ký")
    expect(mine.nth(0)).to_contain_text(f"Quá hạn {OVERDUE_DAYS} ngày")
    expect(mine.nth(1)).to_contain_text("Góc sân và khoảng trời")
    expect(mine.nth(1)).to_contain_text(re.compile(r"Hạn trả: \d\d/\d\d/\d{4}"))
    screenshot(page, f"my-books-{size}")
    assert trapped_controls(page) == []

    result = page.locator("[data-result=books]")
    mine.nth(0).locator("[data-action=renew]").click()  # the rules refuse, and say why
    expect(result).to_have_class(re.compile(r"\bbad\b"))
    expect(result.locator(".result-text")).to_have_text(RenewOverdue().message_in("vi"))
    if size == "800x480":
        before = mine.nth(1).locator(".item-detail").inner_text()
        mine.nth(1).locator("[data-action=renew]").click()
        expect(result).to_have_class(re.compile(r"\bok\b"))
        expect(result).to_contain_text("Đã gia hạn: Góc sân và khoảng trời")
        expect(mine.nth(1).locator(".item-detail")).not_to_have_text(before)
        screenshot(page, "my-books-renewed-800x480")
    scan(page, "TN-0005")  # the scan is refused with the same reason the screen gave
    expect(result.locator(".result-text")).to_have_text(reason)
    assert "Nguyễn Minh Hiếu" not in page.content()  # nobody else's data
    page.context.close()


def test_teachers_are_addressed_as_thay_or_co_on_screen_and_receipt(browser, school_kiosk):
    page = signed_in(browser, school_kiosk, "GV001", greeting="Chào cô Hà!")
    expect(page.locator("[data-patron=name]")).to_have_text("Phạm Thu Hà")
    expect(page.locator("[data-word=books_you_have]")).to_have_text("Sách cô đang mượn")
    expect(page.locator("[data-word=may_borrow]")).to_have_text("Cô còn được mượn")
    scan(page, "TN-0008")
    expect(page.locator("[data-list=borrowed] li")).to_have_count(1)
    page.click("[data-action=done]")
    receipt = page.locator(".receipt")
    expect(receipt.locator("h1")).to_have_text("Phiếu mượn sách của cô")
    expect(receipt.locator("[data-receipt=who]")).to_have_text("Phạm Thu Hà")
    expect(receipt).to_contain_text("Cảm ơn cô!")
    expect(receipt).not_to_contain_text(re.compile(r"\bem\b", re.IGNORECASE))
    screenshot(page, "receipt-teacher-800x480")
    page.click("[data-action=finish]")

    # No gender on file: a neutral "Thầy/Cô", refusals included.
    page.goto(school_kiosk.url + "/borrow")
    scan(page, "GV002")
    expect(page.locator("[data-patron=greeting]")).to_have_text("Chào thầy/cô Tuấn!")
    expect(page.locator("[data-patron=blocked]")).to_have_text(
        f"Thầy/Cô cần trả “Bí mật của Nashira” (quá hạn {OVERDUE_DAYS} ngày) trước khi mượn tiếp.")
    page.context.close()


def test_a_helper_is_greeted_as_a_helper(browser, school_kiosk):
    page = signed_in(browser, school_kiosk, "CTV01", greeting="Chào cộng tác viên Huy!")
    expect(page.locator("[data-patron=name]")).to_have_text("Đỗ Quang Huy")
    page.context.close()
