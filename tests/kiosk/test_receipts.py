"""Receipts on an ESC/POS thermal printer: drawn with a Vietnamese font, sent as one raster image, cut.

The printer here is python-escpos's real File printer writing to a file, as with /dev/usb/lp0; the
test reads the ESC/POS bytes back into the picture that would come out of the printer."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from kiosk import receipts
from kiosk.app import create_app
from kiosk.db import db
from kiosk.services import Circulation
from kiosk.store import open_store
from tests.conftest import ROOT, FakeClock, copy_fact, patron_fact

GS_V0 = b"\x1dv0"
CUT = b"\x1dV"


def printed_image(raw: bytes) -> Image.Image:
    """The raster image(s) in ESC/POS bytes (GS v 0 m xL xH yL yH data…), stacked as printed."""
    parts, at = [], 0
    while (at := raw.find(GS_V0, at)) >= 0:
        x_bytes = raw[at + 4] + 256 * raw[at + 5]
        rows = raw[at + 6] + 256 * raw[at + 7]
        data = raw[at + 8: at + 8 + x_bytes * rows]
        bits = np.unpackbits(np.frombuffer(data, np.uint8)).reshape(rows, x_bytes * 8)
        parts.append(bits)
        at += 8 + len(data)
    assert parts, "no raster image in what was sent to the printer"
    return Image.fromarray(((1 - np.vstack(parts)) * 255).astype(np.uint8))


RECEIPT = receipts.Receipt(
    heading="Phiếu mượn sách", school="Trường THCS Nguyễn Du", who="Nguyễn Thị Hà · Lớp 6A1", when="04/12/2026",
    lines=(receipts.ReceiptLine("Dế Mèn phiêu lưu ký", "TN-0001", date(2026, 12, 14)),
           receipts.ReceiptLine("Tuổi thơ dữ dội — tập hai, một cuốn sách có tên rất dài", "TN-0003",
                                date(2026, 12, 14))),
    due_label="Hạn trả %(due)s", thanks="Em giữ gìn sách và trả đúng hạn nhé. Cảm ơn em!")


@pytest.mark.parametrize("width_mm", [58, 80])
def test_the_receipt_printed_is_the_picture_drawn_at_the_papers_width(tmp_path, width_mm):
    image = receipts.render(RECEIPT, width_mm)
    assert image.width == receipts.DOTS[width_mm]
    device = tmp_path / "lp0"
    receipts.send(image, f"file:{device}")
    raw = device.read_bytes()
    assert CUT in raw[raw.rfind(GS_V0):]  # cut after the picture
    out = printed_image(raw)
    assert out.width >= image.width
    drawn = np.asarray(image.convert("L"))
    assert (np.asarray(out)[: drawn.shape[0], : drawn.shape[1]] < 128).sum() == (drawn < 128).sum()
    artifacts = ROOT / "test-artifacts" / "receipts"
    artifacts.mkdir(parents=True, exist_ok=True)
    out.save(artifacts / f"receipt-{width_mm}mm.png")


def test_vietnamese_text_draws_its_diacritics():
    """The same line with and without its marks draws differently: the font has the marks."""
    plain = receipts.render(RECEIPT.__class__(**{**RECEIPT.__dict__, "who": "Nguyen Thi Ha"}))
    marked = receipts.render(RECEIPT.__class__(**{**RECEIPT.__dict__, "who": "Nguyễn Thị Hà"}))
    assert np.asarray(plain).tobytes() != np.asarray(marked).tobytes()


def test_printer_settings_and_failures_are_told_not_raised_raw(tmp_path):
    with pytest.raises(receipts.NoReceiptPrinter):
        receipts.send(receipts.render(RECEIPT), "")
    for bad in ["lp0", "usb:zz:11", "serial:/dev/ttyS0", "file:"]:
        with pytest.raises(receipts.BadPrinterSetting):
            receipts.send(receipts.render(RECEIPT), bad)
    with pytest.raises(receipts.PrinterUnavailable):
        receipts.send(receipts.render(RECEIPT), f"file:{tmp_path}/unplugged/lp0")


@pytest.fixture
def lent(tmp_path: Path):
    data = tmp_path / "data"
    open_store(data, upgrade=True)
    clock = FakeClock(datetime(2026, 12, 4, 3, 0, tzinfo=UTC))
    circ = Circulation(device="kiosk-test", clock=clock)
    circ.record_facts([patron_fact("HS001", "Nguyễn Thị Hà", "6A1"), patron_fact("HS002", "Trần Văn Bình", "6A2"),
                       copy_fact("TN-0001", "Dế Mèn phiêu lưu ký"), copy_fact("TN-0002", "Đất rừng phương Nam"),
                       copy_fact("TN-0003", "Tuổi thơ dữ dội")])
    circ.checkout("HS001", "TN-0001")
    circ.checkout("HS001", "TN-0002")
    circ.checkout("HS002", "TN-0003")
    db.close()
    return data, clock


def _client(data: Path, clock, printer: str):
    return create_app({"DATA_DIR": str(data), "TESTING": True, "CLOCK": clock, "RECEIPT_PRINTER": printer}).test_client()


def test_the_kiosk_prints_only_what_that_card_holds(lent, tmp_path):
    data, clock = lent
    device = tmp_path / "lp0"
    client = _client(data, clock, f"file:{device}")
    reply = client.post("/api/receipt", json={"patron": "hs001", "copies": "TN-0001 TN-0002 TN-0003"})
    assert reply.status_code == 200 and reply.get_json()["printed"] == 2  # TN-0003 is Bình's
    printed_image(device.read_bytes())


def test_receipt_refusals_are_4xx_with_a_reason(lent, tmp_path):
    data, clock = lent
    assert _client(data, clock, "").post("/api/receipt", json={"patron": "HS001", "copies": "TN-0001"}).status_code == 409
    client = _client(data, clock, f"file:{tmp_path}/nowhere/lp0")
    reply = client.post("/api/receipt", json={"patron": "HS001", "copies": "TN-0001"})
    assert reply.status_code == 503 and reply.get_json()["error"]["code"] == "printer_unavailable"
    client = _client(data, clock, f"file:{tmp_path}/lp0")
    assert client.post("/api/receipt", json={"patron": "NOBODY", "copies": "TN-0001"}).status_code == 404
    many = " ".join(f"TN-{n:04d}" for n in range(receipts_limit() + 1))
    assert client.post("/api/receipt", json={"patron": "HS001", "copies": many}).status_code == 400


def receipts_limit() -> int:
    from kiosk.web.receipt import MAX_COPIES

    return MAX_COPIES


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(st.dictionaries(st.sampled_from(["patron", "copies", "lang", "x"]),
                                      st.one_of(st.text(max_size=300), st.integers(), st.none(),
                                                st.lists(st.text(max_size=5), max_size=3)), max_size=4),
                      st.lists(st.integers(), max_size=3), st.text(max_size=50)))
def test_any_body_answers_without_a_server_error(lent, tmp_path, body):
    data, clock = lent
    client = _client(data, clock, f"file:{tmp_path}/lp0")
    assert client.post("/api/receipt", json=body).status_code < 500
