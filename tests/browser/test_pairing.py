"""The librarian pairs a kiosk with the school server from the kiosk's admin page, in real Chromium."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from sync.protocol import BadPairingCode
from tests.browser.conftest import browser_fixture, kiosk, new_page, screenshot  # noqa: F401 (fixture)
from tests.conftest import muontra
from tests.sync.conftest import ServerProcess

pytestmark = pytest.mark.browser


def test_librarian_pairs_the_kiosk_with_a_code_from_the_server_then_syncs(browser, tmp_path):
    server = ServerProcess(tmp_path / "server").start()
    try:
        made = muontra("server", "add-device", "Bàn thủ thư", "--role", "desk", "--data", str(server.data))
        assert made.returncode == 0, made.stderr
        code = re.search(r"[A-Z0-9]{4}-[A-Z0-9]{4}", made.stdout).group(0)
        with kiosk(tmp_path) as process:
            page = new_page(browser)
            page.goto(process.url + "/admin/sync/")
            page.fill("#pin", "1234")
            page.click("button[type=submit]")
            expect(page.locator("#pair-form")).to_be_visible()

            page.fill("#pair-server", server.url)
            page.fill("#pair-code", "ABCD-EFGH")  # misread from the server's screen
            page.click("#pair-submit")
            expect(page.locator("#pair-error")).to_have_text(BadPairingCode().message_in("vi"))
            expect(page.locator("#pair-server")).to_have_value(server.url)  # what was typed stays
            screenshot(page, "admin-sync-pair-error", full_page=True)

            page.fill("#pair-code", code.lower())
            page.click("#pair-submit")
            expect(page.locator("#sync-device-name")).to_have_text("Bàn thủ thư")
            expect(page.locator("#sync-server")).to_have_text(server.url)
            expect(page.locator(".banner.success")).to_contain_text("Đã ghép nối")
            expect(page.locator("#pair-form")).to_be_hidden()  # re-pairing waits behind "Pair with another server…"
            page.click("#sync-now")
            expect(page.locator("#sync-waiting")).to_have_text("0", timeout=30_000)
            expect(page.locator("#sync-online")).to_have_text("Đang kết nối")
            screenshot(page, "admin-sync-paired", full_page=True)
            page.context.close()

        # The server's librarian page now lists the kiosk; a code made there shows the kiosk's command.
        page = new_page(browser)
        page.goto(server.url + "/devices")
        page.fill("input[name=pin]", "1234")
        page.click("form button")
        expect(page.locator("table")).to_contain_text("Bàn thủ thư")
        page.fill("input[name=name]", "Thư viện lớp 6A1")
        page.click("form:has(input[name=name]) button")
        expect(page.locator("#pairing-code")).to_have_text(re.compile(r"^[A-Z0-9]{4}-[A-Z0-9]{4}$"))
        expect(page.locator("#pair-command")).to_contain_text(f"muontra pair {server.url} ")
        screenshot(page, "server-pairing-code", full_page=True)
        page.context.close()
    finally:
        server.stop()
