"""Tra cứu: finding a book from the start screen, as a child types it on a tablet's keyboard, with
where its copies are and never who has them — in real Chromium against a real kiosk."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import (  # noqa: F401 (fixture)
    SIZES,
    browser_fixture,
    kiosk,
    new_page,
    screenshot,
    trapped_controls,
)

pytestmark = pytest.mark.browser

# One copy of Dế Mèn is in the class library of 6A1; another is on the shelf; a third is on loan.
CLASS_LIBRARY = [("copy.move", {"item": "TN-0001", "location": "lop-6A1", "shelf": "", "at": "2026-01-01T00:00:00"}),
                 ("catalog.upsert", {"item": "TN-0012", "title": "Dế Mèn phiêu lưu ký", "author": "Tô Hoài",
                                     "category": "TN", "isbn": None, "shelf": "A1"})]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with kiosk(tmp_path_factory.mktemp("search"), extra_facts=CLASS_LIBRARY) as process:
        yield process


@pytest.mark.parametrize("size", SIZES)
def test_de_men_typed_without_accents_finds_de_men_and_where_its_copies_are(browser, server, size):
    page = new_page(browser, SIZES[size])
    page.goto(server.url + "/")
    page.click("#go-search")
    field = page.locator("#search-q")
    field.click()
    field.press_sequentially("de men", delay=60)  # a child on the on-screen keyboard, no Enter
    found = page.locator("[data-list=search] > li")
    expect(found).to_have_count(1)
    expect(found.first).to_contain_text("Dế Mèn phiêu lưu ký")
    expect(found.first).to_contain_text("Tô Hoài")
    expect(found.first.locator(".badge")).to_have_text("Còn 2 cuốn trên giá")  # one in the main library, one in 6A1
    places = found.first.locator(".place")
    expect(places).to_have_text([
        "Thư viện chính · giá A1 · 1 cuốn",
        "Thư viện lớp 6A1 · 1 cuốn",
        re.compile(r"^Thư viện chính · đang cho mượn, hạn trả \d\d/\d\d/\d{4} · 1 cuốn$"),
    ])
    assert "Hiếu" not in page.content()  # TN-0009 is on loan to Lê Thị Hiếu: never to whom
    screenshot(page, f"search-{size}")
    assert trapped_controls(page) == []
    page.context.close()


def test_an_author_an_isbn_and_nothing_found(browser, server):
    page = new_page(browser)
    page.goto(server.url + "/search")
    page.fill("#search-q", "nguyen nhat anh")
    page.press("#search-q", "Enter")
    expect(page.locator("[data-list=search] .item-title")).to_have_text(
        ["Cho tôi xin một vé đi tuổi thơ", "Kính vạn hoa"])
    page.fill("#search-q", "xyzzy")
    page.press("#search-q", "Enter")
    expect(page.locator("[data-result=search]")).to_contain_text("Không tìm thấy sách nào với “xyzzy”")
    expect(page.locator("[data-list=search] > li")).to_have_count(0)
    page.context.close()
