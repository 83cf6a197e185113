"""A student at the kiosk, in real headless Chromium against a real kiosk process."""

from __future__ import annotations

import re

import pytest
import requests
from playwright.sync_api import expect

from kiosk.rules import CopyNotForLoan, LoanLimitReached
from tests.browser.conftest import SMALL, browser_fixture, kiosk, new_page, ready, scan, screenshot  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with kiosk(tmp_path_factory.mktemp("kiosk")) as process:
        yield process


def open_loans(server, patron: str) -> int:
    answer = requests.post(server.url + "/api/patron", json={"patron": patron}, timeout=5)
    return answer.json()["patron"]["holding"]


def test_borrow_two_books_refused_a_third_then_return_one(browser, server):
    page = new_page(browser)
    page.goto(server.url + "/")
    expect(page.locator("#go-borrow")).to_contain_text("Mượn sách")
    expect(page.locator("#go-return")).to_contain_text("Trả sách")
    screenshot(page, "idle")

    page.click("#go-borrow")
    expect(page.locator(".step-card h1")).to_be_visible()
    # Nothing has the focus: the scanner types "into the page", not into a field.
    assert page.evaluate("document.activeElement === document.body")
    scan(page, "HS001")
    expect(page.locator("[data-patron=greeting]")).to_have_text("Chào em An!")
    expect(page.locator("[data-patron=class]")).to_have_text("Lớp 6A1")
    expect(page.locator("[data-patron=holding]")).to_have_text("1")
    expect(page.locator("[data-patron=may_borrow]")).to_have_text("2")

    scan(page, "TN-0001")
    result = page.locator("[data-result=books]")
    expect(result).to_have_class(re.compile(r"\bok\b"))
    expect(result).to_contain_text("Dế Mèn phiêu lưu ký")
    expect(result).to_contain_text(re.compile(r"Hạn trả: \d\d/\d\d/\d{4}"))
    # The same label again at once is a double scan: ignored, not "already on loan".
    scan(page, "TN-0001")
    scan(page, "tn-0002")
    expect(result).to_contain_text("Đất rừng phương Nam")
    expect(page.locator("[data-list=borrowed] li")).to_have_count(2)
    expect(page.locator("[data-patron=may_borrow]")).to_have_text("0")
    screenshot(page, "borrow-success")

    scan(page, "TN-0003")
    expect(result).to_have_class(re.compile(r"\bbad\b"))
    expect(result.locator(".result-text")).to_have_text(LoanLimitReached(count=3).message_in("vi"))
    expect(page.locator("[data-list=borrowed] li")).to_have_count(2)
    assert page.evaluate("window.muontra.state.sounds") == ["ok", "ok", "ok", "bad"]
    screenshot(page, "borrow-refused")
    assert open_loans(server, "HS001") == 3

    page.click("[data-action=done]")
    receipt = page.locator(".receipt")
    expect(receipt).to_be_visible()
    expect(receipt.locator("tbody tr")).to_have_count(2)
    expect(receipt).to_contain_text("Dế Mèn phiêu lưu ký")
    expect(receipt).to_contain_text("Đất rừng phương Nam")
    expect(receipt).not_to_contain_text("Hoàng tử bé")  # the earlier loan is not this session's
    screenshot(page, "receipt")
    page.click("[data-action=finish]")
    expect(page.locator("#go-borrow")).to_be_visible()
    assert page.url == server.url + "/"

    page.click("#go-return")
    scan(page, "TN-0001")
    returned = page.locator("[data-result=return]")
    expect(returned).to_have_class(re.compile(r"\bok\b"))
    expect(returned).to_contain_text("Đã trả sách")
    scan(page, "TN-0005")  # on the shelf, not on loan: a friendly note, not an error
    expect(returned).to_have_class(re.compile(r"\binfo\b"))
    scan(page, "XYZ-999")
    expect(returned).to_contain_text("chưa có trong danh mục")
    expect(page.locator("[data-list=returned] li")).to_have_count(3)
    screenshot(page, "return")
    assert open_loans(server, "HS001") == 2
    page.context.close()


def test_not_for_loan_periodical_is_refused_in_english(browser, server):
    page = new_page(browser)
    page.goto(server.url + "/")
    page.click("a.lang[lang=en]")
    expect(page.locator("#go-borrow .choice-label")).to_have_text("Borrow books")
    expect(page.locator("#go-borrow .choice-other")).to_have_text("Mượn sách")
    screenshot(page, "idle-en")
    # A card scanned on the idle screen starts borrowing straight away.
    scan(page, "HS002")
    expect(page.locator("[data-patron=greeting]")).to_have_text("Hello Bình!")
    scan(page, "BAO-0001")
    result = page.locator("[data-result=books]")
    expect(result).to_have_class(re.compile(r"\bbad\b"))
    expect(result.locator(".result-text")).to_have_text(CopyNotForLoan().message_in("en"))
    scan(page, "TN-0004")
    expect(result).to_contain_text(re.compile(r"Return by \d{1,2} [A-Z][a-z]{2} \d{4}"))
    page.click("[data-action=done]")
    expect(page.locator(".receipt")).to_contain_text("Kính vạn hoa")
    # Printed, the receipt is all there is on the page.
    page.emulate_media(media="print")
    expect(page.locator(".receipt")).to_be_visible()
    for chrome in (".topbar", ".step-receipt .actions", ".countdown"):
        expect(page.locator(chrome)).to_be_hidden()
    page.context.close()


def test_typing_by_hand_into_the_field_works_on_a_small_screen(browser, server):
    page = new_page(browser, SMALL)
    page.goto(server.url + "/borrow")
    screenshot(page, "borrow-card-800x480")
    page.fill("#scan-card", "hs004")
    page.press("#scan-card", "Enter")
    expect(page.locator("[data-patron=greeting]")).to_have_text("Chào em Huy!")
    field = page.locator("#scan-book")
    for key in "TN-0002":  # slowly, like a person: no scan until Enter
        field.press(key, delay=0)
        page.wait_for_timeout(200)
    expect(page.locator("[data-list=borrowed] li")).to_have_count(0)
    field.press("Enter")
    expect(page.locator("[data-result=books]")).to_have_class(re.compile(r"\bbad\b"))  # on loan to An
    field.fill("TN-0005")
    field.press("Enter")
    expect(page.locator("[data-list=borrowed] li")).to_have_count(1)
    screenshot(page, "borrow-800x480")
    no_sideways = page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert no_sideways
    page.context.close()


def test_idle_screen_resets_and_forgets_the_student(browser, tmp_path):
    with kiosk(tmp_path, env={"MUONTRA_IDLE_SECONDS": "4"}) as process:
        page = new_page(browser)
        page.goto(process.url + "/lang/en?next=/borrow")
        scan(page, "HS002")
        expect(page.locator("[data-patron=greeting]")).to_have_text("Hello Bình!")
        expect(page.locator(".countdown")).to_be_visible(timeout=5000)
        expect(page.locator(".countdown")).to_contain_text("Going back to the start")
        expect(page.locator("#go-borrow")).to_be_visible(timeout=8000)
        assert page.url == process.url + "/"
        # Back to the default language for the next child, and no trace of the last one.
        expect(page.locator("#go-borrow .choice-label")).to_have_text("Mượn sách")
        assert "Bình" not in page.content()
        page.context.close()


def test_scanners_ending_with_tab_or_nothing_and_the_camera_entry_point(browser, server):
    page = new_page(browser)
    page.goto(server.url + "/borrow")
    ready(page)
    page.keyboard.type("HS005", delay=5)  # a scanner configured with no suffix: the pause ends it
    expect(page.locator("[data-patron=greeting]")).to_have_text("Chào em Khôi!")
    page.keyboard.type("TN-0007", delay=5)
    page.keyboard.press("Tab")  # a scanner that ends with Tab
    expect(page.locator("[data-list=borrowed] li")).to_have_count(1)
    # Camera reads come in through the same function, with the same double-scan filter.
    assert page.evaluate("window.muontra.handleScan('TN-0008', 'camera')") is True
    assert page.evaluate("window.muontra.handleScan('tn-0008', 'camera')") is False
    expect(page.locator("[data-list=borrowed] li")).to_have_count(2)
    # Keys typed by a person, slowly, outside any field are not a scan.
    for key in "TN-0001":
        page.keyboard.press(key)
        page.wait_for_timeout(200)
    page.keyboard.press("Enter")
    page.wait_for_timeout(500)
    assert page.evaluate("window.muontra.state.scans.map(s => s[1])") == ["scanner", "scanner", "camera"]
    page.context.close()


def test_a_helper_card_leads_to_the_helpers_work_and_a_student_card_does_not(browser, server):
    page = new_page(browser)
    page.goto(server.url + "/")
    staff = page.locator(".staff-links a")
    expect(staff).to_have_count(2)
    page.click("#go-borrow")
    scan(page, "HS002")
    helper_link = page.locator("[data-patron=helper] a")
    expect(page.locator("[data-patron=greeting]")).to_contain_text("Bình")
    expect(helper_link).to_be_hidden()

    page.goto(server.url + "/borrow")
    scan(page, "CTV01")
    expect(helper_link).to_be_visible()
    helper_link.click()  # the card just scanned signs the helper in: no second scan
    page.wait_for_url(server.url + "/staff/menu")
