"""Large text / high contrast on the kiosk, and every answer read aloud where the platform has a
voice for the language (Web Speech API), silently skipped where it has none."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import (  # noqa: F401 (fixtures)
    SMALL,
    browser_fixture,
    new_page,
    scan,
    school_kiosk_fixture,
    screenshot,
    signed_in,
    trapped_controls,
)

pytestmark = pytest.mark.browser

# Headless Chromium has no voices; this stands in for a tablet's speech engine at the page boundary.
FAKE_SPEECH = """(voices) => {
  window.__spoken = [];
  window.SpeechSynthesisUtterance = function (text) { this.text = text; };
  Object.defineProperty(window, 'speechSynthesis', {value: {
    getVoices: () => voices.map((lang) => ({lang, name: 'test ' + lang})),
    speak: (u) => window.__spoken.push([u.lang, u.text]),
    cancel: () => undefined,
  }});
}"""


def with_voices(browser, voices: list[str]):
    page = new_page(browser, SMALL)
    page.add_init_script(f"({FAKE_SPEECH})({voices!r})")
    return page


def test_answers_are_read_aloud_in_vietnamese(browser, school_kiosk):
    page = with_voices(browser, ["en-US", "vi-VN"])
    page.goto(school_kiosk.url + "/borrow")
    scan(page, "HS007")
    scan(page, "TN-0004")
    result = page.locator("[data-result=books]")
    expect(result).to_have_class(re.compile(r"\bok\b"))
    scan(page, "BAO-0001")
    expect(result).to_have_class(re.compile(r"\bbad\b"))
    spoken = page.evaluate("window.__spoken")
    assert [lang for lang, _ in spoken] == ["vi-VN", "vi-VN"]
    assert spoken[0][1].startswith("Mượn được rồi! Kính vạn hoa. Hạn trả: ")
    assert spoken[1][1] == result.locator(".result-text").inner_text()
    assert page.evaluate("window.muontra.state.sounds")[-2:] == ["ok", "bad"]  # and heard as sounds
    page.context.close()


def test_without_a_vietnamese_voice_nothing_is_read_and_nothing_breaks(browser, school_kiosk):
    page = with_voices(browser, ["en-US"])
    page.goto(school_kiosk.url + "/borrow")
    scan(page, "HS007")
    scan(page, "BAO-0001")
    expect(page.locator("[data-result=books]")).to_have_class(re.compile(r"\bbad\b"))
    assert page.evaluate("window.__spoken") == []
    page.context.close()


def test_large_text_and_high_contrast_trap_nobody_on_a_small_screen_and_end_with_the_session(browser, school_kiosk):
    page = signed_in(browser, school_kiosk, "HS006", SMALL, "Chào em Hiếu!")
    size = page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)")
    page.click("[data-action=big-text]")
    expect(page.locator("html")).to_have_class(re.compile(r"\bbig-text\b"))
    assert page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)") > size * 1.1
    screenshot(page, "my-books-large-text-800x480")
    assert trapped_controls(page) == []
    page.reload()  # the choice holds for this reader's session…
    expect(page.locator("html")).to_have_class(re.compile(r"\bbig-text\b"))
    page.goto(school_kiosk.url + "/borrow")
    scan(page, "HS007")
    scan(page, "TN-0003")
    page.click("[data-action=done]")
    expect(page.locator(".receipt")).to_be_visible()
    assert trapped_controls(page) == []
    page.click("[data-action=finish]")  # …and the next child starts with the plain screen
    expect(page.locator("#go-borrow")).to_be_visible()
    expect(page.locator("html")).not_to_have_class(re.compile(r"\bbig-text\b"))
    page.context.close()
