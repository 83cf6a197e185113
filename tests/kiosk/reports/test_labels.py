"""Labels and cards: rendered at 300 dpi, every barcode decoded by the project's own scanner
(scanner.decode_image, the still-image path) back to its exact code, in its place."""

from __future__ import annotations

import io

import pytest

from kiosk.reports import cards, labels
from kiosk.reports.labels import BadGrid, NoCopies
from scanner import decode_image
from tests.conftest import copy_fact, muontra, patron_fact
from tests.kiosk.reports.conftest import pdf_images, pdf_text

DPI = 300
PX_PER_MM = DPI / 25.4


def centre(polygon) -> tuple[float, float]:
    xs, ys = [x for x, _y in polygon], [y for _x, y in polygon]
    return (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2


def decoded_positions(pdf: bytes, sheet: labels.Sheet) -> dict[int, list[tuple[str, str]]]:
    """Every code the scanner reads, by the absolute sheet position (page × per_page + slot) it sits in."""
    found: dict[int, list[tuple[str, str]]] = {}
    for page_number, image in enumerate(pdf_images(pdf, DPI)):
        for symbol in decode_image(image, still=True):
            cx, cy = (value / PX_PER_MM for value in centre(symbol.polygon))
            col = int((cx - sheet.left) // (sheet.label_width + sheet.gap_x))
            row = int((cy - sheet.top) // (sheet.label_height + sheet.gap_y))
            assert 0 <= col < sheet.cols and 0 <= row < sheet.rows, symbol
            position = page_number * sheet.per_page + row * sheet.cols + col
            found.setdefault(position, []).append((symbol.symbology, symbol.text))
    return found


@pytest.fixture
def shelf(school):
    school.record_facts([
        ("setting.set", {"key": "school_name", "value": "Trường Tiểu học Lê Văn Tám"}),
        *[copy_fact(f"TN-{n:04d}", f"Truyện số {n}", author="Nguyễn Nhật Ánh", classification="895.9223")
          for n in range(5, 13)],
    ])
    return school


def test_accession_labels_from_a_position_of_a_partly_used_sheet_decode_in_place(shelf):
    sheet = labels.make_sheet("5x13")
    copies = labels.select_copies(every=True)
    codes = [c.code for c in copies]
    # Accession order: per prefix, by number.
    assert codes[:3] == ["BAO-0001", "SGK-0001", "SGK-0002"] and codes[-2:] == ["TN-0011", "TN-0012"]
    out = io.BytesIO()
    start = 60
    pages = labels.write_labels(out, copies, sheet, start=start)
    assert pages == 2
    found = decoded_positions(out.getvalue(), sheet)
    assert found == {start - 1 + i: [("CODE128", code)] for i, code in enumerate(codes)}
    text = "\n".join(pdf_text(out.getvalue()))
    assert text.count("Trường Tiểu học Lê Văn Tám") == len(codes)


@pytest.mark.parametrize("preset", ["3x8", "4x10"])
def test_every_preset_decodes(shelf, preset):
    sheet = labels.make_sheet(preset)
    copies = labels.select_copies(["TN-0012", "STK-0001", "SGK-0002"])
    out = io.BytesIO()
    labels.write_labels(out, copies, sheet)
    assert decoded_positions(out.getvalue(), sheet) == {
        0: [("CODE128", "TN-0012")], 1: [("CODE128", "STK-0001")], 2: [("CODE128", "SGK-0002")]}


def test_custom_grid_and_margins(shelf):
    sheet = labels.make_sheet(grid="2x6", margins="15,10,15,10", gaps="4,3")
    assert (sheet.cols, sheet.rows, sheet.top, sheet.left, sheet.gap_x, sheet.gap_y) == (2, 6, 15, 10, 4, 3)
    assert sheet.label_width == pytest.approx((210 - 20 - 4) / 2)
    copies = labels.select_copies(isbn="978-604-0-00002-6")
    assert [c.code for c in copies] == ["SGK-0001", "SGK-0002"]
    out = io.BytesIO()
    labels.write_labels(out, copies, sheet, start=12)
    assert decoded_positions(out.getvalue(), sheet) == {11: [("CODE128", "SGK-0001")],
                                                        12: [("CODE128", "SGK-0002")]}


def test_spine_labels_carry_the_call_number(shelf):
    copies = labels.select_copies(["TN-0005", "TN-0001", "STK-0001"])
    out = io.BytesIO()
    labels.write_labels(out, copies, labels.make_sheet("5x13"), spine=True)
    lines = pdf_text(out.getvalue())[0].split()
    # TN-0005: 895.9223 / NGU (Nguyễn Nhật Ánh); TN-0001 has no classification: author mark TÔ (Tô Hoài);
    # STK-0001 has no author: the title's first letters (TỪ).
    assert lines == ["895.9223", "NGU", "TN-0005", "TÔ", "TN-0001", "TỪ", "STK-0001"]


def test_bad_sheets_and_selections_are_refused(shelf):
    for kwargs in ({"preset": "7x7"}, {"grid": "0x4"}, {"grid": "abc"}, {"grid": "3x8", "margins": "1,2"},
                   {"grid": "20x20"}):
        with pytest.raises(BadGrid):
            labels.make_sheet(**kwargs)
    with pytest.raises(BadGrid):
        labels.write_labels(io.BytesIO(), labels.select_copies(["TN-0001"]), labels.make_sheet("3x8"), start=25)
    with pytest.raises(NoCopies) as caught:
        labels.select_copies(["TN-0001", "XX-9"])
    assert caught.value.message_in("vi") == "Không có bản sách nào để in: XX-9"


def test_class_cards_decode_barcode_and_qr_for_every_student(school):
    school.record_facts([
        ("setting.set", {"key": "school_name", "value": "Trường THCS Nguyễn Du"}),
        *[patron_fact(f"HS1{n:02d}", name) for n, name in enumerate(
            ["Phạm Minh Đức", "Hoàng Thị Yến", "Bùi Quốc Huy", "Ngô Thanh Hương", "Đặng Hải Nam",
             "Lý Gia Bảo", "Trịnh Mai Anh", "Đoàn Văn Khoa", "Võ Thị Lan", "Hồ Ngọc Châu"])],
        patron_fact("HS200", "Mai Văn Tùng", class_name="6A2"),
    ])
    patrons = cards.class_patrons("6A1")
    codes = [p.code for p in patrons]
    assert "HS003" not in codes and "HS200" not in codes  # inactive, other class
    assert len(codes) == 12
    out = io.BytesIO()
    assert cards.write_cards(out, patrons, school.today(), "vi") == 2
    found: list[tuple[int, int, str, str]] = []
    for page, image in enumerate(pdf_images(out.getvalue(), DPI)):
        for symbol in decode_image(image, still=True):
            x, y = (value / DPI * 72 for value in centre(symbol.polygon))
            col = int((x - cards.LEFT) // cards.CARD_W)
            row = int((y - cards.TOP) // cards.CARD_H)
            found.append((page * 10 + row * 2 + col, symbol.symbology, symbol.text))
    assert sorted(found) == sorted(
        (i, kind, code) for i, code in enumerate(codes) for kind in ("CODE128", "QRCODE"))
    pages = pdf_text(out.getvalue())
    assert "Trần Thị Bình" in pages[0] and "Lớp: 6A1" in pages[0] and "Năm học 2025-2026" in pages[0]
    assert "TRƯỜNG THCS NGUYỄN DU" in pages[1]


def test_cli_labels_and_cards(school, data_dir, tmp_path):
    from kiosk.db import db

    db.close()
    out = tmp_path / "labels.pdf"
    result = muontra("labels", "--data", str(data_dir), "--out", str(out), "--copies", "TN-0001,TN-0002",
                     "--sheet", "4x10", "--start", "3")
    assert result.returncode == 0, result.stderr
    assert decoded_positions(out.read_bytes(), labels.make_sheet("4x10")) == {
        2: [("CODE128", "TN-0001")], 3: [("CODE128", "TN-0002")]}
    cards_out = tmp_path / "cards.pdf"
    result = muontra("--lang", "en", "cards", "--data", str(data_dir), "--class", "6A1", "--out", str(cards_out))
    assert result.returncode == 0, result.stderr
    assert "Class: 6A1" in pdf_text(cards_out)[0]

    for args, message in [
        (("labels", "--out", str(tmp_path / "x.pdf"), "--copies", "NOPE-1"), "Không có bản sách nào để in: NOPE-1"),
        (("labels", "--out", str(tmp_path / "x.pdf"), "--all", "--sheet", "9x9"),
         "Tờ nhãn '9x9' không hợp lệ: 3x8, 4x10, 5x13"),
        (("cards", "--out", str(tmp_path / "x.pdf"), "--class", "12C9"), "Không có lớp nào tên là '12C9'."),
    ]:
        result = muontra(*args, "--data", str(data_dir))
        assert result.returncode == 1
        assert result.stderr.strip() == message
        assert not (tmp_path / "x.pdf").exists()
