"""Pairing without typing an address: the kiosk finds the server on the LAN (mDNS, on loopback here)
and pairs from the QR code on the server's Devices page, read by our own scanner and typed by a
2D USB scanner (keyboard wedge) into the kiosk's page — real processes, real Chromium."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from playwright.sync_api import expect

from scanner import decode_image
from sync.protocol import PAIRING_QR_PREFIX, parse_pairing_qr
from tests.browser.conftest import browser_fixture, kiosk, new_page, screenshot  # noqa: F401 (fixture)
from tests.conftest import muontra
from tests.sync.conftest import ServerProcess

pytestmark = pytest.mark.browser


def _server_page_qr(browser, server: ServerProcess) -> str:
    page = new_page(browser)
    page.goto(server.url + "/devices")
    page.fill("input[name=pin]", "123456")
    page.click("form button")
    page.fill("input[name=name]", "Máy mượn trả tầng 2")
    page.click("form:has(input[name=name]) button")
    qr = page.locator("#pairing-qr")
    expect(qr).to_be_visible()
    screenshot(page, "server-pairing-qr", full_page=True)
    png = qr.screenshot()
    page.context.close()
    frame = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
    texts = [d.text for d in decode_image(frame, still=True)]
    assert len(texts) == 1 and texts[0].startswith(PAIRING_QR_PREFIX), texts
    return texts[0]


def test_the_kiosk_finds_the_server_and_pairs_from_its_qr_code(browser, tmp_path):
    server = ServerProcess(tmp_path / "server", announce=True).start()
    try:
        named = muontra("server", "set-pin", "--data", str(server.data), "--pin", "123456")
        assert named.returncode == 0, named.stderr
        text = _server_page_qr(browser, server)
        assert parse_pairing_qr(text)[0] == server.url
        with kiosk(tmp_path) as process:
            page = new_page(browser)
            page.goto(process.url + "/admin/sync/")
            page.fill("#pin", "1234")
            page.click("button[type=submit]")
            # The server announced itself: the form offers it without typing.
            offered = page.locator("#pair-found-list button")
            expect(offered.first).to_contain_text(server.url, timeout=15_000)
            screenshot(page, "admin-sync-found-server", full_page=True)
            page.locator("body").click(position={"x": 5, "y": 300})  # focus off any field, as on arrival
            page.keyboard.type(text, delay=5)  # a 2D scanner types the QR's text and Enter
            page.keyboard.press("Enter")
            expect(page.locator("#sync-device-name")).to_have_text("Máy mượn trả tầng 2")
            expect(page.locator("#sync-server")).to_have_text(server.url)
            page.context.close()
    finally:
        server.stop()
