"""The librarian's commands through the real CLI process, with the records read back cell by cell."""

from __future__ import annotations

from kiosk.db import db
from tests.conftest import copy_fact, muontra
from tests.kiosk.reports.conftest import pdf_text, xlsx_rows
from tests.kiosk.workflows.conftest import shelve


def seed_shelves(school) -> None:
    school.record_facts([
        ("setting.set", {"key": "school_name", "value": "Trường THCS Nguyễn Du"}),
        copy_fact("TN-0005", "Những tấm lòng cao cả", author="Edmondo De Amicis"),
    ])
    shelve(school, {"TN-0001": ("main", "A1"), "TN-0002": ("main", "A1"), "TN-0003": ("main", "A2"),
                    "TN-0004": ("main", "A2"), "TN-0005": ("main", "A2"), "STK-0001": ("main", "B1")})
    school.checkout("HS001", "TN-0003")
    db.close()


def ok(*args: str) -> str:
    done = muontra(*args)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_stocktake_from_open_to_the_board_record(school, data_dir, tmp_path):
    seed_shelves(school)
    data = ["--data", str(data_dir)]
    session = ok("stocktake", "open", *data, "--location", "main", "--shelf-from", "A1", "--shelf-to", "A2").strip()
    scans = tmp_path / "scanner.txt"
    scans.write_text("TN-0001\nTN-0004\n\nSTK-0001\nXY-777\nTN-0001\n", encoding="utf-8")
    assert ok("stocktake", "scan", *data, session[:8], "--file", str(scans), "--by", "CTV01").strip() == "2/4"
    status = ok("--lang", "en", "stocktake", "status", *data, session[:8])
    assert "Main library, shelves A1 to A2  2/4" in status and "Misplaced (1): STK-0001" in status
    finished = ok("stocktake", "finish", *data, session)
    assert "Không tìm thấy (2): TN-0002 TN-0005" in finished

    xlsx, pdf = tmp_path / "kiem-ke.xlsx", tmp_path / "kiem-ke.pdf"
    ok("stocktake", "export", *data, session, "--out", str(xlsx))
    summary = xlsx_rows(xlsx, "Tổng hợp")
    assert summary[0][0].startswith("Biên bản kiểm kê: Trường THCS Nguyễn Du · Thư viện chính, giá A1 đến A2")
    assert summary[1:] == [["Nội dung", "Số bản"], ["Cần có trên giá", 4], ["Đã tìm thấy trong số đó", 2],
                           ["Không tìm thấy", 2], ["Thấy trên giá nhưng đang cho mượn", 0],
                           ["Để sai chỗ", 1], ["Tìm lại được", 0], ["Mã không xác định", 1]]
    missing = xlsx_rows(xlsx, "Không tìm thấy")
    assert missing[1] == ["#", "Số ĐKCB", "Tên sách", "Vị trí", "Giá sách"]
    assert missing[2:4] == [[1, "TN-0002", "Đất rừng phương Nam", "Thư viện chính", "A1"],
                            [2, "TN-0005", "Những tấm lòng cao cả", "Thư viện chính", "A2"]]
    assert xlsx_rows(xlsx, "Để sai chỗ")[2] == [1, "STK-0001", "Từ điển Tiếng Việt", "Thư viện chính", "B1"]
    assert xlsx_rows(xlsx, "Mã không xác định")[2] == [1, "XY-777"]

    ok("stocktake", "export", *data, session, "--out", str(pdf))
    text = "\n".join(pdf_text(pdf))
    for expected in ("Biên bản kiểm kê", "Trường THCS Nguyễn Du", "Đất rừng phương Nam", "Những tấm lòng cao cả",
                     "Từ điển Tiếng Việt", "Để sai chỗ", "XY-777"):
        assert expected in text

    refused = muontra("stocktake", "scan", *data, session, "TN-0002")
    assert refused.returncode == 1 and "đã kết thúc" in refused.stderr and "Traceback" not in refused.stderr


def test_rotation_and_intake_commands(school, data_dir, tmp_path):
    seed_shelves(school)
    data = ["--data", str(data_dir)]
    opened = ok("rotation", "open", *data, "--class", "6A1", "--teacher", "GV001", "--helper", "CTV01",
                "--due", "2030-05-29", "TN-0001", "TN-0002", "TN-0004")
    assert "Thư viện lớp 6A1  0/3  2030-05-29  Phạm Thu Hà" in opened
    batch = opened.split()[0]
    back = muontra("--lang", "en", "rotation", "return", *data, batch, "TN-0001", "STK-0001")
    assert back.returncode == 0 and "STK-0001: Not part of this batch" in back.stderr
    assert "1/3" in back.stdout and "TN-0004" in back.stdout and "TN-0001  " not in back.stdout
    refused = muontra("--lang", "en", "rotation", "open", *data, "--class", "6A1", "--teacher", "HS001",
                      "--due", "2030-05-29")
    assert refused.returncode == 1 and refused.stderr.strip() == "HS001 is not a teacher's card."

    labels = tmp_path / "nhan.pdf"
    received = ok("intake", *data, "--title", "Hoàng tử bé", "--author", "Antoine de Saint-Exupéry",
                  "--prefix", "tn", "--count", "2", "--donor", "Chi đoàn trường", "--labels", str(labels))
    assert received.splitlines() == ["Hoàng tử bé: TN-0006 TN-0007", str(labels)]
    printed = "\n".join(pdf_text(labels))
    assert "TN-0006" in printed and "TN-0007" in printed and "TN-0005" not in printed
