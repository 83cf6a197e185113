"""Board statistics: a school year of loans seeded through the service layer, checked cell by cell."""

from __future__ import annotations

import io
from collections import Counter

import pytest

from kiosk.reports import stats
from kiosk.reports.common import BadPeriod
from tests.conftest import muontra
from tests.kiosk.reports.conftest import YEAR_LOANS, pdf_text, seed_year, xlsx_rows

PATRON_CLASS = {"HS001": "6A1", "HS002": "6A1", "HS010": "6A2", "GV001": "", "CTV01": "7A2"}
PATRON_KIND = {"HS001": "student", "HS002": "student", "HS010": "student", "GV001": "teacher", "CTV01": "helper"}
CATEGORY = {"TN-0001": "TN", "TN-0002": "TN", "TN-0003": "TN", "TN-0004": "TN", "STK-0001": "STK"}
TITLE = {"TN-0001": "Dế Mèn phiêu lưu ký", "TN-0002": "Đất rừng phương Nam", "TN-0003": "Tuổi thơ dữ dội",
         "TN-0004": "Kính vạn hoa", "STK-0001": "Từ điển Tiếng Việt"}


def loans_between(first: str, last: str) -> list[tuple[str, str, str]]:
    """(local day, patron, item) of the seeded loans made from ``first`` to ``last`` (local days)."""
    return [(when[:10], patron, item) for when, patron, item, _r in YEAR_LOANS if first <= when[:10] <= last]


@pytest.fixture
def year(school, clock):
    seed_year(school, clock)
    return stats.compute(stats.period_from("2025-2026"), school.timezone, "vi")


def test_school_year_bounds_and_terms(school):
    whole = stats.period_from("2025-2026")
    assert (whole.start.isoformat(), whole.end.isoformat()) == ("2025-09-01", "2026-08-31")
    first, second = stats.period_from("2025-2026", 1), stats.period_from("2025-2026", 2)
    assert (first.end.isoformat(), second.start.isoformat()) == ("2026-01-15", "2026-01-16")
    school.record_facts([("setting.set", {"key": "school_year_start", "value": "08-15"}),
                         ("setting.set", {"key": "term_ends", "value": ["2025-12-31", "2026-05-31"]})])
    assert stats.period_from("2025-2026").start.isoformat() == "2025-08-15"
    assert stats.period_from("2025-2026", 1).end.isoformat() == "2025-12-31"
    assert stats.period_from("2025-2026", 2).end.isoformat() == "2026-05-31"
    assert stats.period_from(month_label="2026-02").end.isoformat() == "2026-02-28"
    for kwargs in ({"year": "2025-2027"}, {"year": "25-26"}, {"month_label": "2026-13"},
                   {"start": "2026-03-01", "end": "2026-02-01"}, {"start": "2026-03-01"}, {}):
        with pytest.raises(BadPeriod):
            stats.period_from(**kwargs)


def test_loans_per_month_count_local_days(year):
    expected = Counter(day[:7] for day, _p, _i in loans_between("2025-09-01", "2026-08-31"))
    rows = year.tables["months"].rows
    assert [r[0] for r in rows] == [f"{m:02d}/2025" for m in range(9, 13)] + [f"{m:02d}/2026" for m in range(1, 9)]
    assert {r[0]: r[1] for r in rows} == {f"{m[5:]}/{m[:4]}": expected.get(m, 0) for m in
                                          [f"2025-{n:02d}" for n in range(9, 13)] + [f"2026-{n:02d}" for n in range(1, 9)]}
    assert rows[0][1] == 3  # the 06:00 loan of 1 September is September's


def test_classes_kinds_categories_and_rankings(year):
    seeded = loans_between("2025-09-01", "2026-08-31")
    student_loans = [x for x in seeded if PATRON_KIND[x[1]] != "teacher"]
    per_class = Counter(PATRON_CLASS[p] for _d, p, _i in student_loans)
    classes = {r[0]: r[1:] for r in year.tables["classes"].rows}
    # Class, students, students who borrowed, share %, loans, loans per student.
    assert classes == {
        "6A1": [2, 2, 100.0, per_class["6A1"], round(per_class["6A1"] / 2, 2)],
        "6A2": [2, 1, 50.0, per_class["6A2"], round(per_class["6A2"] / 2, 2)],
        "7A2": [1, 1, 100.0, per_class["7A2"], round(per_class["7A2"] / 1, 2)],
    }
    summary = dict(year.tables["summary"].rows)
    assert summary["Lượt mượn"] == len(seeded)
    assert summary["Lượt mượn của học sinh"] == len(student_loans)
    assert summary["Số học sinh"] == 5  # HS003 is inactive; the helper is a student too
    assert summary["Số học sinh mượn ít nhất một lần"] == 4
    assert summary["Tỷ lệ học sinh có mượn sách (%)"] == 80.0
    assert summary["Lượt mượn bình quân mỗi học sinh"] == round(len(student_loans) / 5, 2)

    kinds = {r[0]: r[1:] for r in year.tables["kinds"].rows}
    per_kind = Counter(PATRON_KIND[p] for _d, p, _i in seeded)
    assert kinds == {"Học sinh": [3, per_kind["student"]], "Giáo viên": [1, per_kind["teacher"]],
                     "Cộng tác viên": [1, per_kind["helper"]]}
    per_category = Counter(CATEGORY[i] for _d, _p, i in seeded)
    assert year.tables["categories"].rows == [["Sách tham khảo (STK)", per_category["STK"]],
                                              ["Truyện thiếu nhi (TN)", per_category["TN"]]]

    per_title = Counter(TITLE[i] for _d, _p, i in seeded)
    top = [(r[1], r[4]) for r in year.tables["top_titles"].rows]
    assert top[0] == per_title.most_common(1)[0]
    assert sorted(top) == sorted(per_title.items())
    assert [r[0] for r in year.tables["top_titles"].rows] == list(range(1, len(top) + 1))

    per_reader = Counter(p for _d, p, _i in student_loans)
    readers = [(r[1], r[4]) for r in year.tables["top_readers"].rows]
    assert readers[0] == ("HS001", per_reader["HS001"])
    assert sorted(readers) == sorted(per_reader.items())
    # Festival ranking by loans per student: 6A1 and 6A2 … per the seeded counts.
    ranking = [r[1] for r in year.tables["top_classes"].rows]
    assert ranking == sorted(classes, key=lambda c: (-classes[c][4], -classes[c][3]))


def test_collection_added_and_withdrawn(year):
    collection = {r[0]: r[1:] for r in year.tables["collection"].rows}
    # Columns: on the shelf, on loan, lost, damaged, withdrawn, in-library only, total.
    assert collection["Truyện thiếu nhi (TN)"] == [4, 1, 0, 0, 3, 0, 8]
    assert collection["Tổng cộng"][-1] == 12
    assert year.tables["added"].rows == [["Truyện thiếu nhi (TN)", 3], ["Tổng cộng", 3]]
    assert year.tables["withdrawn"].rows == [["Rách nát", 2], ["Tổng cộng", 2]]


def test_a_month_and_a_term(school, clock):
    seed_year(school, clock)
    february = stats.compute(stats.period_from(month_label="2026-02"), school.timezone, "en")
    assert dict(february.tables["summary"].rows)["Loans"] == len(loans_between("2026-02-01", "2026-02-28"))
    first_term = stats.compute(stats.period_from("2025-2026", 1), school.timezone, "en")
    assert dict(first_term.tables["summary"].rows)["Loans"] == len(loans_between("2025-09-01", "2026-01-15"))


def test_xlsx_has_a_sheet_per_table_with_vietnamese_headers(year):
    out = io.BytesIO()
    stats.write("xlsx", out, year, "vi")
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(out.getvalue()))
    assert book.sheetnames == [year.tables[key].name for key in stats.ORDER]
    months = xlsx_rows(out.getvalue(), "Theo tháng")
    assert months[0][0] == "Thống kê thư viện — 2025-2026 — Lượt mượn theo tháng"
    assert months[1] == ["Tháng", "Lượt mượn", "Số bạn đọc"]
    assert months[2:] == year.tables["months"].rows
    classes = xlsx_rows(out.getvalue(), "Theo lớp")
    assert classes[1] == ["Lớp", "Học sinh", "Học sinh có mượn", "Tỷ lệ (%)", "Lượt mượn",
                          "Lượt mượn bình quân mỗi học sinh"]
    assert classes[2][0] == "6A1" and classes[2][4] == year.tables["classes"].rows[0][4]


def test_pdf_has_charts_and_vietnamese_text(year):
    out = io.BytesIO()
    stats.write("pdf", out, year, "vi")
    text = "\n".join(pdf_text(out.getvalue()))
    for expected in ("Thống kê thư viện — 2025-2026", "Trường THCS Nguyễn Du", "Lượt mượn theo tháng",
                     "Bạn đọc tích cực nhất (Ngày hội đọc sách)", "Đất rừng phương Nam", "Rách nát"):
        assert expected in text
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(out.getvalue())
    images = sum(1 for page in document for obj in page.get_objects() if obj.type == pdfium.raw.FPDF_PAGEOBJ_IMAGE)
    document.close()
    assert images == 3


def test_cli_stats(school, clock, data_dir, tmp_path):
    from kiosk.db import db

    seed_year(school, clock)
    db.close()
    out = tmp_path / "stats.xlsx"
    result = muontra("report", "stats", "--data", str(data_dir), "--year", "2025-2026", "--term", "1",
                     "--out", str(out))
    assert result.returncode == 0, result.stderr
    summary = {row[0]: row[1] for row in xlsx_rows(out, "Tổng hợp")[2:]}
    assert summary["Lượt mượn"] == len(loans_between("2025-09-01", "2026-01-15"))
    pdf = tmp_path / "feb.pdf"
    result = muontra("report", "stats", "--data", str(data_dir), "--from", "2026-02-01", "--to", "2026-02-28",
                     "--format", "pdf", "--out", str(pdf))
    assert result.returncode == 0, result.stderr
    assert "01/02/2026 – 28/02/2026" in pdf_text(pdf)[0]
    bad = muontra("report", "stats", "--data", str(data_dir), "--year", "2025/26", "--out", str(out))
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert bad.stderr.startswith("Khoảng thời gian '2025/26' không hợp lệ")
