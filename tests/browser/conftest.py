"""Helpers for the browser tests: headless Chromium (Debian's) and a seeded kiosk process."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect, sync_playwright

from kiosk.clock import DEFAULT_TIMEZONE
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
SIZES = {"800x480": SMALL, "1280x800": LARGE}  # for @pytest.mark.parametrize("size", SIZES)

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
    patron_fact("GV001", "Phạm Thu Hà", "", kind="teacher", gender="female"),
    patron_fact("GV002", "Vũ Minh Tuấn", "", kind="teacher"),  # gender not known: "Thầy/Cô"
    # Two Hiếu in 6A1: only the full name tells them apart (earlier_loans gives Lê Thị Hiếu an overdue book).
    patron_fact("HS006", "Lê Thị Hiếu", "6A1"),
    patron_fact("HS007", "Nguyễn Minh Hiếu", "6A1"),
    copy_fact("TN-0009", "Dế Mèn phiêu lưu ký", author="Tô Hoài"),
    copy_fact("TN-0010", "Góc sân và khoảng trời", author="Trần Đăng Khoa"),
    copy_fact("TN-0011", "Bí mật của Nashira", author="Đặng Thị Lạ"),
]
OVERDUE_DAYS = 3


def earlier_loans() -> list[tuple[str, dict]]:
    """Lê Thị Hiếu has a book 3 days overdue and one due in 5 days; teacher Tuấn one overdue
    (for `school_kiosk` and the screen walk; other modules keep the school without them)."""
    today = local_today()
    return [loan_fact("TN-0009", "HS006", today - timedelta(days=OVERDUE_DAYS)),
            loan_fact("TN-0010", "HS006", today + timedelta(days=5)),
            loan_fact("TN-0011", "GV002", today - timedelta(days=OVERDUE_DAYS))]


def local_today() -> date:
    return datetime.now(ZoneInfo(DEFAULT_TIMEZONE)).date()


def loan_fact(item: str, patron: str, due: date) -> tuple[str, dict]:
    """A loan made earlier (by the paper loan book or another kiosk), due on ``due``."""
    return ("loan.checkout", {"loan": str(uuid.uuid4()), "item": item, "patron": patron,
                              "at": (due - timedelta(days=10)).isoformat() + "T08:00:00", "due": due.isoformat(),
                              "location": "main", "device": "paper"})


@contextmanager
def opened(data: Path) -> Iterator[Circulation]:
    """The data directory's services, for seeding a kiosk before its process starts."""
    open_store(data, upgrade=True)
    try:
        yield Circulation(device=get_setting("device_id"))
    finally:
        db.close()


def seed_school(data: Path, extra_facts: list[tuple[str, dict]] = ()) -> None:
    with opened(data) as circ:
        circ.record_facts([*SCHOOL_FACTS, *extra_facts])
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
def kiosk(tmp: Path, env: dict[str, str] | None = None,
          extra_facts: list[tuple[str, dict]] = ()) -> Iterator[KioskProcess]:
    data = tmp / "data"
    seed_school(data, extra_facts)
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


@pytest.fixture(scope="module", name="school_kiosk")
def school_kiosk_fixture(tmp_path_factory) -> Iterator[KioskProcess]:
    """One seeded kiosk process for a test module (import it as ``school_kiosk_fixture``)."""
    with kiosk(tmp_path_factory.mktemp("kiosk"), extra_facts=earlier_loans()) as process:
        yield process


def signed_in(browser, server: KioskProcess, card: str, viewport=SMALL, greeting: str | None = None):
    """A page on the borrow screen after ``card`` was scanned (and greeted, when given)."""
    page = new_page(browser, viewport)
    page.goto(server.url + "/borrow")
    scan(page, card)
    expect(page.locator("[data-patron=greeting]")).to_have_text(greeting or re.compile(r"\S"))
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


# Every visible control of a screen, checked the way a finger meets it: inside the viewport (after
# scrolling the page or a list the way a person can — never a box the page clips), the control
# itself under its centre (not an idle banner or another box on top), and at least MIN_TARGET CSS
# px each way. Returns one line per problem; [] means nothing traps anyone.
MIN_TARGET = 44
_CONTROLS_JS = """([minTarget, scope]) => {
  const problems = [];
  const controls = document.querySelector(scope).querySelectorAll(
    'button, a[href], input:not([type=hidden]), select, textarea, [role=button], [data-action]');
  const clipsY = (el) => ['hidden', 'clip'].includes(getComputedStyle(el).overflowY);
  const clipsX = (el) => ['hidden', 'clip'].includes(getComputedStyle(el).overflowX);
  const root = [document.body, document.documentElement];
  const name = (el) => (el.id ? '#' + el.id : el.tagName.toLowerCase()) + ' "' +
                       (el.innerText || el.value || el.getAttribute('aria-label') || '').trim().slice(0, 40) + '"';
  for (const el of controls) {
    const style = getComputedStyle(el);
    if (!el.getClientRects().length || style.visibility === 'hidden' || el.closest('[hidden]')) continue;
    if (el.closest('details:not([open]) > :not(summary)')) continue; // folded away, not on screen
    window.scrollTo(0, 0);
    el.scrollIntoView({block: 'nearest', inline: 'nearest'}); // as little scrolling as a person needs
    // Scrolling a box the page clips (overflow: hidden) is something no finger can do.
    let clipped = (window.scrollY !== 0 && root.some(clipsY)) || (window.scrollX !== 0 && root.some(clipsX));
    for (let box = el.parentElement; box; box = box.parentElement) {
      if ((clipsY(box) && box.scrollTop) || (clipsX(box) && box.scrollLeft)) {
        clipped = true; box.scrollTop = 0; box.scrollLeft = 0;
      }
    }
    const r = el.getBoundingClientRect();
    if (clipped || r.top < 0 || r.left < 0 || r.bottom > innerHeight + 0.5 || r.right > innerWidth + 0.5) {
      problems.push(`${name(el)} is outside the screen (${Math.round(r.left)},${Math.round(r.top)} ${Math.round(r.width)}x${Math.round(r.height)})`);
      continue;
    }
    if (r.width < minTarget - 0.5 || r.height < minTarget - 0.5) {
      problems.push(`${name(el)} is ${Math.round(r.width)}x${Math.round(r.height)} px, under ${minTarget}x${minTarget}`);
    }
    const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
    if (!hit || !(el === hit || el.contains(hit) || (el.labels && [...el.labels].some((l) => l.contains(hit))))) {
      problems.push(`${name(el)} is covered by ${hit ? name(hit) : 'nothing'}`);
    }
  }
  window.scrollTo(0, 0);
  return problems;
}"""


def trapped_controls(page, root: str = "body") -> list[str]:
    """What keeps a finger from a visible control on this screen, or in ``root`` (see _CONTROLS_JS)."""
    return page.evaluate(_CONTROLS_JS, [MIN_TARGET, root])
