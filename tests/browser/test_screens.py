"""No screen traps anyone: every kiosk and helper screen at 800×480 and 1280×800, with every visible
control inside the viewport, not covered (the idle banner included) and at least 44×44 CSS px."""

from __future__ import annotations

from itertools import chain

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import (  # noqa: F401 (fixtures)
    SIZES,
    browser_fixture,
    kiosk,
    new_page,
    scan,
    school_kiosk_fixture,
    screenshot,
    trapped_controls,
)

pytestmark = pytest.mark.browser


def assert_no_trap(page, screen: str) -> None:
    problems = trapped_controls(page)
    assert problems == [], f"{screen}: {problems}"


@pytest.mark.parametrize("size", SIZES)
def test_a_receipt_of_three_books_with_the_idle_banner_traps_nobody(browser, school_kiosk, size):
    page = new_page(browser, SIZES[size])
    page.goto(school_kiosk.url + "/borrow")
    small = size == "800x480"
    scan(page, "HS004" if small else "HS005")
    for code in ("TN-0002", "TN-0003", "TN-0004") if small else ("TN-0005", "TN-0007", "TN-0008"):
        scan(page, code)
    expect(page.locator("[data-list=borrowed] li")).to_have_count(3)
    page.click("[data-action=done]")
    expect(page.locator(".receipt tbody tr")).to_have_count(3)
    expect(page.locator(".countdown")).to_be_visible()
    screenshot(page, f"receipt-3-books-{size}")
    assert_no_trap(page, "receipt")
    page.context.close()


def kiosk_screens(page, url: str, size: str, patron: str, books: tuple[str, ...]):
    """Every public kiosk screen, in the order a child meets them; yields each one's name."""
    page.goto(url + "/")
    yield "idle"
    scan(page, "NOBODY-1")  # an unknown card on the start screen leaves a note
    expect(page.locator("[data-result=idle]")).to_be_visible()
    yield "idle-note"
    page.goto(url + "/borrow")
    yield "borrow-card"
    scan(page, patron)
    expect(page.locator(".step-books")).to_be_visible()
    for code in books:
        scan(page, code)
    scan(page, "BAO-0001")  # a refusal
    expect(page.locator("[data-result=books]")).to_have_class("result bad flash")
    yield "borrow-books"
    page.click("[data-action=done]")
    expect(page.locator(".receipt")).to_be_visible()
    yield "receipt"
    page.click("[data-action=finish]")
    page.click("#go-return")
    for code in books:
        scan(page, code)
    expect(page.locator("[data-list=returned] li")).to_have_count(len(books))
    yield "return"
    page.goto(url + "/search")
    page.fill("#search-q", "tuoi tho")
    page.press("#search-q", "Enter")
    expect(page.locator("[data-list=search] > li")).to_have_count(2)
    yield "search"
    page.goto(url + "/borrow")
    scan(page, "HS006")  # My books, with an overdue one and Renew buttons
    expect(page.locator("[data-list=mine] li")).to_have_count(2)
    yield "my-books"


def staff_screens(page, url: str):
    """Every helper and librarian work screen; yields each one's name."""
    page.goto(url + "/staff/")
    yield "staff-start"
    page.fill("#pin", "1234")
    page.click(".pin-form button")
    expect(page.locator(".staff-badge")).to_be_visible()
    yield "staff-menu"
    page.goto(url + "/staff/rotation")
    yield "rotation"
    if not page.locator("tr[data-batch]").count():
        page.fill("[name=class_name]", "6A1")
        page.fill("[name=teacher]", "GV001")
        page.click("#open-batch button")
        expect(page.locator("h1")).to_contain_text("6A1")
        page.locator("body").click()
        for code in ("TN-0001", "TN-0004", "TN-0005", "TN-0007", "TN-0008"):
            scan(page, code)
        expect(page.locator('[data-count="total"]')).to_have_text("5")
    page.goto(url + "/staff/rotation")
    batch = page.locator("tr[data-batch]").first.get_attribute("data-batch")
    page.goto(url + f"/staff/rotation/{batch}/send")
    yield "batch-send"
    page.goto(url + f"/staff/rotation/{batch}/return")
    scan(page, "TN-0003")  # not in the batch: the big red stop
    expect(page.locator(".result.stop")).to_be_visible()
    # Right after a stop the helper needs Undo and the missing list without scrolling.
    for control in ("#undo", "#missing li"):
        box = page.locator(control).first.bounding_box()
        assert box["y"] + box["height"] <= page.viewport_size["height"], control
    yield "batch-return-stop"
    page.goto(url + f"/staff/rotation/{batch}/summary")
    yield "batch-summary"
    page.goto(url + "/staff/shelving")
    scan(page, "TN-0002")
    expect(page.locator("#shelf-card")).to_be_visible()
    yield "shelving"
    page.goto(url + "/staff/stocktake")
    yield "stocktakes"
    page.goto(url + "/staff/intake")
    yield "intake"


@pytest.mark.parametrize("size", SIZES)
def test_every_kiosk_and_helper_screen_is_reachable(browser, tmp_path, size):
    problems = {}
    with kiosk(tmp_path) as server:
        page = new_page(browser, SIZES[size])
        for screen in chain(kiosk_screens(page, server.url, size, "HS002", ("TN-0002", "TN-0003")),
                            staff_screens(page, server.url)):
            screenshot(page, f"screen-{screen}-{size}")
            found = trapped_controls(page)
            if found:
                problems[screen] = found
        page.context.close()
    assert problems == {}, "\n".join(f"{screen}: {line}" for screen, lines in problems.items() for line in lines)
