"""Helpers for the browser tests: headless Chromium (Debian's) and a seeded kiosk process."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from kiosk.db import db
from kiosk.ledger import get_setting
from kiosk.services import Circulation
from kiosk.store import open_store
from tests.conftest import ROOT, KioskProcess, copy_fact, patron_fact

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
# Tests write their pictures aside so a run leaves the tree clean; `make screenshots` points this at
# docs/screenshots to refresh the pictures the docs show.
SCREENSHOTS = Path(os.environ.get("MUONTRA_SCREENSHOTS") or ROOT / "test-artifacts" / "screenshots")
LARGE = {"width": 1280, "height": 800}
SMALL = {"width": 800, "height": 480}

SCHOOL_FACTS = [
    ("setting.set", {"key": "school_name", "value": "Trường THCS Nguyễn Du"}),
    patron_fact("HS001", "Nguyễn Văn An", "6A1"),
    patron_fact("HS002", "Trần Thị Bình", "6A2"),
    patron_fact("HS004", "Phạm Gia Huy", "7A1"),
    copy_fact("TN-0001", "Dế Mèn phiêu lưu ký", author="Tô Hoài"),
    copy_fact("TN-0002", "Đất rừng phương Nam", author="Đoàn Giỏi"),
    copy_fact("TN-0003", "Tuổi thơ dữ dội", author="Phùng Quán"),
    copy_fact("TN-0004", "Kính vạn hoa", author="Nguyễn Nhật Ánh"),
    copy_fact("TN-0005", "Cho tôi xin một vé đi tuổi thơ", author="Nguyễn Nhật Ánh"),
    copy_fact("TN-0006", "Hoàng tử bé", author="Antoine de Saint-Exupéry"),
    copy_fact("TN-0007", "Những tấm lòng cao cả", author="Edmondo De Amicis"),
    copy_fact("TN-0008", "Totto-chan bên cửa sổ", author="Kuroyanagi Tetsuko"),
    patron_fact("HS005", "Bùi Minh Khôi", "7A2"),
    patron_fact("CTV01", "Đỗ Quang Huy", "7A2", kind="helper"),
    copy_fact("BAO-0001", "Báo Thiếu niên Tiền phong", category="periodical"),
]


@contextmanager
def opened(data: Path) -> Iterator[Circulation]:
    """The data directory's services, for seeding a kiosk before its process starts."""
    open_store(data, upgrade=True)
    try:
        yield Circulation(device=get_setting("device_id"))
    finally:
        db.close()


def seed_school(data: Path) -> None:
    with opened(data) as circ:
        circ.record_facts(SCHOOL_FACTS)
        circ.checkout("HS001", "TN-0006")  # An already holds one book: two more reach the limit of 3


@pytest.fixture(scope="module", name="browser")
def browser_fixture():
    """Import it into a test module; the tests then take ``browser``."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make test` (it installs Debian's chromium)")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


# Playwright's keys travel over a debugging protocol: on a loaded 2-core CI machine one of them can
# lag well behind a real scanner's. Wider scan timing keeps a synthetic scan in one piece; a person's
# typing (tested at 200 ms a key) is still far slower than both limits.
SCAN_TIMING = {"MUONTRA_SCAN_KEY_GAP_MS": "100", "MUONTRA_SCAN_PAUSE_MS": "400"}
# One module's tests share a kiosk and scan a dozen different cards within a minute from one browser,
# which the public screen's card limit (kiosk/throttle.py, tested in tests/kiosk/test_public_screen.py)
# would stop: these tests are about the screens, so the limit is raised for them.
ROOM_FOR_A_CLASS = {"MUONTRA_CARD_LOOKUPS_PER_MINUTE": "1000", "MUONTRA_CARD_LOOKUPS_PER_MINUTE_ALL": "1000"}


@contextmanager
def kiosk(tmp: Path, env: dict[str, str] | None = None) -> Iterator[KioskProcess]:
    data = tmp / "data"
    seed_school(data)
    process = KioskProcess(data, env={**SCAN_TIMING, **ROOM_FOR_A_CLASS, **(env or {})}).start()
    try:
        yield process
    finally:
        process.stop()


def new_page(browser, viewport=LARGE):
    context = browser.new_context(viewport=viewport, locale="vi-VN")
    page = context.new_page()
    page.set_default_timeout(10_000)
    return page


def ready(page) -> None:
    """Wait until the kiosk script listens for scans (a scanner typing earlier would lose keys)."""
    page.wait_for_selector("body[data-ready=true]", state="attached")


def scan(page, code: str) -> None:
    """What a USB keyboard-wedge scanner does: fast keys and Enter, wherever the focus is."""
    ready(page)
    page.keyboard.type(code, delay=5)
    page.keyboard.press("Enter")


def screenshot(page, name: str, full_page: bool = False) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), animations="disabled", full_page=full_page)
