"""A demo school to try the kiosk with: "Trường THCS Nguyễn Du".

Deterministic: readers, titles and copies come from a seeded generator, so every
run (and every machine) gets the same school; only the loans and the calendar
follow today's date, so due dates and the one overdue book make sense whenever
the demo is loaded. Everything is written as ledger facts, like an import.
"""

from __future__ import annotations

import random
import uuid as uuidlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from stdnum import ean

from .admin_auth import DEFAULT_PIN
from .pdfkit import draw_code128, register_fonts
from .services import Circulation

SCHOOL_NAME = "Trường THCS Nguyễn Du"
SEED = 2026
CLASSES = ("6A1", "6A2", "7A1")
STUDENTS_PER_CLASS = 30

FAMILY_NAMES = ("Nguyễn", "Nguyễn", "Nguyễn", "Trần", "Trần", "Lê", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan",
                "Vũ", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô", "Dương", "Lý")
MIDDLE_NAMES = {
    "f": ("Thị", "Ngọc", "Minh", "Thanh", "Bảo", "Gia", "Khánh", "Phương", "Thu"),
    "m": ("Văn", "Minh", "Gia", "Bảo", "Thanh", "Quang", "Đức", "Hoàng", "Anh"),
}
GIVEN_NAMES = {
    "f": ("An", "Châu", "Hà", "Linh", "Mai", "Trang", "Vy", "Lan", "Thảo", "Hân", "Ngân", "Yến", "Nhi", "Thư",
          "Anh", "My"),
    "m": ("Bình", "Dũng", "Khánh", "Nam", "Phúc", "Quân", "Huy", "Khoa", "Long", "Tuấn", "Đạt", "Phong",
          "Hiếu", "Sơn", "Thịnh", "Kiên"),
}
TEACHERS = (("GV001", "Nguyễn Thị Thu Hà"), ("GV002", "Trần Văn Hùng"), ("GV003", "Lê Thị Mai Anh"))
HELPERS = (("CTV01", "Đỗ Quang Huy", "7A1"), ("CTV02", "Phan Ngọc Diệp", "6A2"))

# (title, author, copies); textbooks get 978-604-0 ISBNs (Nhà xuất bản Giáo dục Việt Nam).
TEXTBOOKS = (
    ("Toán 6 tập một", "Hà Huy Khoái (Tổng chủ biên)", 30),  # a whole class set on one ISBN
    ("Toán 6 tập hai", "Hà Huy Khoái (Tổng chủ biên)", 8),
    ("Ngữ văn 6 tập một", "Bùi Mạnh Hùng (Tổng chủ biên)", 8),
    ("Ngữ văn 6 tập hai", "Bùi Mạnh Hùng (Tổng chủ biên)", 6),
    ("Tiếng Anh 6 Global Success", "Hoàng Văn Vân (Tổng chủ biên)", 6),
    ("Khoa học tự nhiên 6", "Vũ Văn Hùng (Tổng chủ biên)", 6),
    ("Lịch sử và Địa lí 6", "Vũ Minh Giang (Tổng chủ biên)", 6),
    ("Giáo dục công dân 6", "Nguyễn Thị Toan (Tổng chủ biên)", 4),
    ("Tin học 6", "Nguyễn Chí Công (Tổng chủ biên)", 4),
    ("Công nghệ 6", "Lê Huy Hoàng (Tổng chủ biên)", 4),
    ("Toán 7 tập một", "Hà Huy Khoái (Tổng chủ biên)", 8),
    ("Toán 7 tập hai", "Hà Huy Khoái (Tổng chủ biên)", 6),
    ("Ngữ văn 7 tập một", "Bùi Mạnh Hùng (Tổng chủ biên)", 6),
    ("Ngữ văn 7 tập hai", "Bùi Mạnh Hùng (Tổng chủ biên)", 4),
    ("Khoa học tự nhiên 7", "Vũ Văn Hùng (Tổng chủ biên)", 4),
    ("Tiếng Anh 7 Global Success", "Hoàng Văn Vân (Tổng chủ biên)", 4),
    ("Âm nhạc 6", "Hoàng Long (Tổng chủ biên)", 2),
    ("Mĩ thuật 6", "Đinh Gia Lê (Tổng chủ biên)", 2),
    ("Giáo dục thể chất 6", "Hồ Đắc Sơn (Tổng chủ biên)", 2),
    ("Hoạt động trải nghiệm, hướng nghiệp 6", "Lưu Thu Thuỷ (Tổng chủ biên)", 2),
)
CHILDREN = (
    ("Dế Mèn phiêu lưu ký", "Tô Hoài"), ("Đất rừng phương Nam", "Đoàn Giỏi"),
    ("Tôi thấy hoa vàng trên cỏ xanh", "Nguyễn Nhật Ánh"), ("Cho tôi xin một vé đi tuổi thơ", "Nguyễn Nhật Ánh"),
    ("Kính vạn hoa", "Nguyễn Nhật Ánh"), ("Mắt biếc", "Nguyễn Nhật Ánh"), ("Ngồi khóc trên cây", "Nguyễn Nhật Ánh"),
    ("Tuổi thơ dữ dội", "Phùng Quán"), ("Quê nội", "Võ Quảng"), ("Góc sân và khoảng trời", "Trần Đăng Khoa"),
    ("Búp sen xanh", "Sơn Tùng"), ("Vừ A Dính", "Tô Hoài"), ("Đội thiếu niên du kích Đình Bảng", "Xuân Sách"),
    ("Hoàng tử bé", "Antoine de Saint-Exupéry"), ("Totto-chan bên cửa sổ", "Kuroyanagi Tetsuko"),
    ("Không gia đình", "Hector Malot"), ("Những tấm lòng cao cả", "Edmondo De Amicis"),
    ("Truyện cổ Andersen", "Hans Christian Andersen"), ("Truyện cổ Grimm", "Anh em Grimm"),
    ("Chuyện cổ tích Việt Nam", "Nhiều tác giả"), ("Thần đồng đất Việt", "Lê Linh"),
    ("Chiếc lá cuối cùng", "O. Henry"), ("Ông già và biển cả", "Ernest Hemingway"),
    ("Nhà giả kim", "Paulo Coelho"), ("Harry Potter và Hòn đá Phù thủy", "J. K. Rowling"),
    ("Cuộc phiêu lưu của Tom Sawyer", "Mark Twain"), ("Hai vạn dặm dưới đáy biển", "Jules Verne"),
    ("Tốt-tô-chan và những người bạn", "Kuroyanagi Tetsuko"), ("Doraemon tập 1", "Fujiko F. Fujio"),
    ("Thám tử lừng danh Conan tập 1", "Gosho Aoyama"), ("Những ngày thơ ấu", "Nguyên Hồng"),
    ("Hoa hồng xứ khác", "Nguyễn Nhật Ánh"), ("Bồ câu không đưa thư", "Nguyễn Nhật Ánh"),
)
REFERENCE = (
    ("Từ điển Tiếng Việt", "Hoàng Phê (chủ biên)"), ("Từ điển Anh – Việt", "Viện Ngôn ngữ học"),
    ("Atlat Địa lí Việt Nam", "NXB Giáo dục Việt Nam"), ("Bài tập Toán 6 tập một", "Tôn Thân"),
    ("Bài tập Ngữ văn 6", "Bùi Mạnh Hùng"), ("500 bài toán chọn lọc lớp 6", "Nguyễn Đức Tấn"),
    ("Em học giỏi Tiếng Anh 6", "Đại Lợi"), ("Mười vạn câu hỏi vì sao: Vật lí", "Nhiều tác giả"),
    ("Mười vạn câu hỏi vì sao: Sinh vật", "Nhiều tác giả"), ("Bách khoa tri thức cho trẻ em", "Nhiều tác giả"),
    ("Lịch sử Việt Nam bằng tranh tập 1", "Trần Bạch Đằng (chủ biên)"), ("Việt Nam sử lược", "Trần Trọng Kim"),
    ("Sổ tay kiến thức Khoa học tự nhiên 6", "Nhiều tác giả"), ("Tiếng Việt giàu đẹp", "Nhiều tác giả"),
    ("Danh nhân Việt Nam", "Nhiều tác giả"), ("Thế giới động vật", "Nhiều tác giả"),
    ("Vở bài tập Tin học 6", "Nguyễn Chí Công"), ("Cẩm nang học sinh THCS", "Nhiều tác giả"),
)
TEACHERS_BOOKS = (
    ("Toán 6 – Sách giáo viên", "Hà Huy Khoái (Tổng chủ biên)"),
    ("Ngữ văn 6 – Sách giáo viên", "Bùi Mạnh Hùng (Tổng chủ biên)"),
    ("Khoa học tự nhiên 6 – Sách giáo viên", "Vũ Văn Hùng (Tổng chủ biên)"),
    ("Tiếng Anh 6 – Sách giáo viên", "Hoàng Văn Vân (Tổng chủ biên)"),
    ("Thông tư 16/2022/TT-BGDĐT: hướng dẫn thực hiện", "Bộ Giáo dục và Đào tạo"),
)
PERIODICALS = (
    ("Báo Thiếu niên Tiền phong", "Trung ương Đoàn TNCS Hồ Chí Minh"), ("Tạp chí Toán tuổi thơ", "NXB Giáo dục"),
    ("Tạp chí Văn học và Tuổi trẻ", "NXB Giáo dục"), ("Báo Nhi đồng", "Trung ương Đoàn TNCS Hồ Chí Minh"),
)
PREFIXES = {"SGK": "SGK-", "TN": "TN-", "STK": "STK-", "SNV": "SNV-", "periodical": "BAO-"}
PUBLISHERS = {"SGK": "NXB Giáo dục Việt Nam", "SNV": "NXB Giáo dục Việt Nam", "TN": "NXB Kim Đồng",
              "STK": "NXB Đại học Quốc gia Hà Nội", "periodical": ""}
ISBN_GROUPS = {"SGK": "9786040", "SNV": "9786040", "TN": "9786042", "STK": "9786046"}
CLASSIFICATION = {"SGK": "37", "SNV": "37", "TN": "8V", "STK": "03", "periodical": "05"}

# Lunar holidays have no formula in the standard library: Tết (1/1) and Giỗ Tổ Hùng Vương (10/3).
TET = {2025: date(2025, 1, 29), 2026: date(2026, 2, 17), 2027: date(2027, 2, 6), 2028: date(2028, 1, 26),
       2029: date(2029, 2, 13), 2030: date(2030, 2, 3)}
HUNG_KINGS = {2025: date(2025, 4, 7), 2026: date(2026, 4, 26), 2027: date(2027, 4, 16), 2028: date(2028, 4, 4),
              2029: date(2029, 4, 23), 2030: date(2030, 4, 12)}


@dataclass(frozen=True)
class DemoCopy:
    code: str
    title: str
    category: str


@dataclass(frozen=True)
class DemoSchool:
    today: date
    facts: list[tuple[str, dict]]
    students: list[tuple[str, str, str]]  # (code, name, class)
    copies: list[DemoCopy]
    loans: list[tuple[str, str, date]]  # (patron, item, due)


def isbn_for(group: str, number: int) -> str:
    stem = f"{group}{number:05d}"
    return stem + ean.calc_check_digit(stem)


def school_year_start(today: date) -> int:
    """The school year runs September to May; from June the coming year is the one to plan for."""
    return today.year if today.month >= 6 else today.year - 1


def closed_days(start: int) -> Iterator[tuple[date, str]]:
    """National holidays and the Tết break in the school year starting in September ``start``."""
    yield date(start, 9, 1), "Quốc khánh"
    yield date(start, 9, 2), "Quốc khánh"
    yield date(start + 1, 1, 1), "Tết Dương lịch"
    tet = TET.get(start + 1)
    if tet:
        for offset in range(-3, 6):
            yield tet + timedelta(days=offset), "Nghỉ Tết Nguyên đán"
    if start + 1 in HUNG_KINGS:
        yield HUNG_KINGS[start + 1], "Giỗ Tổ Hùng Vương"
    yield date(start + 1, 4, 30), "Ngày Giải phóng miền Nam"
    yield date(start + 1, 5, 1), "Quốc tế Lao động"


def calendar_fact(today: date) -> tuple[str, dict]:
    """The calendar of 2025-2026 and of the school year around ``today``."""
    starts = sorted({2025, school_year_start(today)})
    days = {day: reason for start in starts for day, reason in closed_days(start)}
    term_ends = [d.isoformat() for start in starts for d in (date(start + 1, 1, 16), date(start + 1, 5, 29))]
    return "calendar.set", {
        "closed_days": [{"day": day.isoformat(), "reason": reason} for day, reason in sorted(days.items())],
        "closed_weekdays": [5, 6],
        "term_ends": term_ends,
        "year_end": date(starts[-1] + 1, 5, 29).isoformat(),
    }


def _students(rng: random.Random) -> list[tuple[str, str, str]]:
    students, names = [], set()
    for class_name in CLASSES:
        for number in range(1, STUDENTS_PER_CLASS + 1):
            while True:
                sex = rng.choice("fm")
                name = " ".join((rng.choice(FAMILY_NAMES), rng.choice(MIDDLE_NAMES[sex]),
                                 rng.choice(GIVEN_NAMES[sex])))
                if name not in names:
                    break
            names.add(name)
            students.append((f"HS{class_name}{number:02d}", name, class_name))
    return students


def _catalogue(rng: random.Random) -> tuple[list[tuple[str, dict]], list[DemoCopy]]:
    shelves = (
        [(title, author, "SGK", copies) for title, author, copies in TEXTBOOKS]
        + [(title, author, "TN", rng.randint(2, 4)) for title, author in CHILDREN]
        + [(title, author, "STK", rng.randint(2, 4)) for title, author in REFERENCE]
        + [(title, author, "SNV", 2) for title, author in TEACHERS_BOOKS]
        + [(title, author, "periodical", 3) for title, author in PERIODICALS]
    )
    counters = dict.fromkeys(PREFIXES.values(), 0)
    isbn_numbers = dict.fromkeys(ISBN_GROUPS.values(), 0)  # per publisher group: SGK and SNV share one
    facts, copies = [], []
    for title, author, category, count in shelves:
        isbn = None
        if category in ISBN_GROUPS:
            group = ISBN_GROUPS[category]
            isbn_numbers[group] += rng.randint(1, 40)
            isbn = isbn_for(group, isbn_numbers[group] + 10_000)
        year = rng.randint(2021, 2024) if category in ("SGK", "SNV") else rng.randint(2005, 2024)
        price = rng.randrange(15, 120) * 1000
        added_on = date(2025, 8, 1) + timedelta(days=rng.randint(0, 30))
        prefix = PREFIXES[category]
        for _ in range(count):
            counters[prefix] += 1
            code = f"{prefix}{counters[prefix]:05d}"
            copies.append(DemoCopy(code, title, category))
            facts.append(("catalog.upsert", {
                "item": code, "isbn": isbn, "title": title, "author": author,
                "publisher": PUBLISHERS[category], "year": None if category == "periodical" else year,
                "category": category, "classification": CLASSIFICATION[category],
                "location": "main", "shelf": "", "price": price, "added_on": added_on.isoformat(),
            }))
    return facts, copies


def _loan(patron: str, item: str, out: date, due: date) -> tuple[str, dict]:
    return "loan.checkout", {
        # Same loan, same id: reloading the demo never invents a second one.
        "loan": str(uuidlib.uuid5(uuidlib.NAMESPACE_URL, f"muontra-demo:{patron}:{item}")),
        "item": item, "patron": patron,
        "at": datetime.combine(out, time(1, 30)).isoformat(timespec="microseconds"),
        "due": due.isoformat(), "location": "main", "device": "demo",
    }


def build(today: date) -> DemoSchool:
    """Every fact of the demo school, for a kiosk whose local date is ``today``."""
    rng = random.Random(SEED)
    students = _students(rng)
    facts: list[tuple[str, dict]] = [
        ("setting.set", {"key": "school_name", "value": SCHOOL_NAME}),
        calendar_fact(today),
    ]
    year = f"{school_year_start(today)}-{school_year_start(today) + 1}"
    facts += [("patron.upsert", {"code": code, "name": name, "class_name": class_name, "kind": "student",
                                 "school_year": year, "active": True}) for code, name, class_name in students]
    facts += [("patron.upsert", {"code": code, "name": name, "class_name": "", "kind": "teacher",
                                 "school_year": year, "active": True}) for code, name in TEACHERS]
    facts += [("patron.upsert", {"code": code, "name": name, "class_name": class_name, "kind": "helper",
                                 "school_year": year, "active": True}) for code, name, class_name in HELPERS]
    catalogue, copies = _catalogue(rng)
    facts += catalogue
    def first(title: str) -> str:
        return next(copy.code for copy in copies if copy.title == title)

    loans = [
        ("HS6A101", first("Dế Mèn phiêu lưu ký"), today - timedelta(days=3), today + timedelta(days=7)),
        ("HS6A101", first("Từ điển Tiếng Việt"), today - timedelta(days=5), today + timedelta(days=5)),
        ("HS6A203", first("Kính vạn hoa"), today - timedelta(days=18), today - timedelta(days=8)),  # overdue
        ("HS7A105", first("Toán 7 tập một"), today - timedelta(days=30), date(school_year_start(today) + 1, 5, 29)),
        ("GV001", first("Toán 6 – Sách giáo viên"), today - timedelta(days=12), today + timedelta(days=18)),
    ]
    facts += [_loan(patron, item, out, due) for patron, item, out, due in loans]
    return DemoSchool(today, facts, students, copies, [(patron, item, due) for patron, item, _out, due in loans])


# ---------------------------------------------------------------- loading


def load(circ: Circulation) -> DemoSchool:
    """Record the demo school at ``circ``'s device, in one transaction."""
    school = build(circ.today())
    circ.record_facts(school.facts)
    return school


# ---------------------------------------------------------------- the printable sheet


@dataclass(frozen=True)
class Badge:
    """One barcode on the sheet: the code, what it is, and what scanning it shows off."""

    code: str
    heading: str
    detail: str
    hint: str


KIND_LABELS = {"student": "Học sinh", "teacher": "Giáo viên", "helper": "Cộng tác viên"}
CATEGORY_LABELS = {"SGK": "Sách giáo khoa", "TN": "Sách thiếu nhi", "STK": "Sách tham khảo",
                   "SNV": "Sách nghiệp vụ (giáo viên)", "periodical": "Báo, tạp chí"}


def sheet_badges(school: DemoSchool) -> tuple[list[Badge], list[Badge]]:
    """The cards and labels a newcomer needs to try every answer of the kiosk."""
    names = {code: (name, class_name) for code, name, class_name in school.students}
    names.update({code: (name, "") for code, name in TEACHERS})
    names.update({code: (name, class_name) for code, name, class_name in HELPERS})
    holding = {patron: [item for p, item, _due in school.loans if p == patron] for patron, _i, _d in school.loans}
    overdue = {patron for patron, _item, due in school.loans if due < school.today}
    kinds = {**{code: "teacher" for code, _n in TEACHERS}, **{code: "helper" for code, _n, _c in HELPERS}}

    def card(code: str) -> Badge:
        name, class_name = names[code]
        detail = KIND_LABELS[kinds.get(code, "student")] + (f" · lớp {class_name}" if class_name else "")
        if code in overdue:
            hint = "Có sách quá hạn: chưa được mượn thêm"
        elif code in holding:
            hint = f"Đang mượn {len(holding[code])} cuốn"
        else:
            hint = "Chưa mượn cuốn nào"
        return Badge(code, name, detail, hint)

    students = [code for code, _n, _c in school.students]
    card_codes = [students[0], students[1], *sorted(overdue), "HS7A105", TEACHERS[0][0], HELPERS[0][0]]
    cards = [card(code) for code in dict.fromkeys(card_codes)]

    on_loan = {item for _p, item, _d in school.loans}
    by_code = {copy.code: copy for copy in school.copies}

    def first_available(title: str) -> DemoCopy:
        return next(c for c in school.copies if c.title == title and c.code not in on_loan)

    label_copies = [
        first_available("Đất rừng phương Nam"), first_available("Tôi thấy hoa vàng trên cỏ xanh"),
        first_available("Hoàng tử bé"), first_available("Toán 6 tập một"),
        first_available("Bài tập Toán 6 tập một"), by_code[school.loans[0][1]],
        first_available("Toán 6 – Sách giáo viên"), first_available("Báo Thiếu niên Tiền phong"),
        first_available("Mắt biếc"),
    ]

    def label(copy: DemoCopy) -> Badge:
        if copy.code in on_loan:
            hint = "Đang cho mượn: quét ở màn Trả sách"
        elif copy.category == "periodical":
            hint = "Chỉ đọc tại thư viện"
        elif copy.category == "SNV":
            hint = "Chỉ giáo viên được mượn"
        elif copy.category == "SGK":
            hint = "Mượn đến cuối năm học"
        else:
            hint = "Sẵn sàng cho mượn"
        return Badge(copy.code, copy.title, CATEGORY_LABELS[copy.category], hint)

    return cards, [label(copy) for copy in label_copies]



def _fit(canvas: Canvas, text: str, font: str, sizes: tuple[float, ...], width: float) -> tuple[str, float]:
    """``text`` at the largest of ``sizes`` that fits ``width``, else shortened with "…" at the smallest."""
    for size in sizes:
        if canvas.stringWidth(text, font, size) <= width:
            return text, size
    size = sizes[-1]
    while text and canvas.stringWidth(text + "…", font, size) > width:
        text = text[:-1]
    return text.rstrip() + "…", size


def _draw_fitted(canvas: Canvas, text: str, font: str, sizes: tuple[float, ...], width: float,
                 x: float, y: float, centred: bool = False) -> None:
    fitted, size = _fit(canvas, text, font, sizes, width)
    canvas.setFont(font, size)
    if centred:
        canvas.drawCentredString(x, y, fitted)
    else:
        canvas.drawString(x, y, fitted)


def _draw_badge(canvas: Canvas, badge: Badge, x: float, y: float, width: float, height: float,
                bar_height: float) -> None:
    font, bold = register_fonts()
    pad = 3 * mm
    canvas.setStrokeColorRGB(0.6, 0.6, 0.6)
    canvas.setDash(2, 2)
    canvas.rect(x, y, width, height)
    canvas.setDash()
    inner = width - 2 * pad
    top = y + height - pad
    # Long titles get a smaller type before they lose their end.
    _draw_fitted(canvas, badge.heading, bold, (10, 9, 8), inner, x + pad, top - 9)
    _draw_fitted(canvas, badge.detail, font, (8, 7), inner, x + pad, top - 20)
    bar_y = y + pad + 22
    draw_code128(canvas, badge.code, x + pad, bar_y, inner, bar_height)
    canvas.setFont(bold, 10)
    canvas.drawCentredString(x + width / 2, bar_y - 11, badge.code)
    canvas.setFillColorRGB(0.3, 0.3, 0.3)
    _draw_fitted(canvas, badge.hint, font, (7.5, 7, 6.5), inner, x + width / 2, y + pad, centred=True)
    canvas.setFillColorRGB(0, 0, 0)


def write_sheet(school: DemoSchool, path: str) -> list[str]:
    """A4 PDF with the demo cards and book labels; returns the codes printed, top to bottom."""
    font, bold = register_fonts()
    cards, labels = sheet_badges(school)
    canvas = Canvas(path, pagesize=A4, pageCompression=1, initialFontName=font)
    canvas.setTitle(f"{SCHOOL_NAME}: thẻ và nhãn sách mẫu")
    page_width, page_height = A4
    margin = 14 * mm
    y = page_height - margin
    canvas.setFont(bold, 15)
    canvas.drawString(margin, y - 14, f"{SCHOOL_NAME} · Thẻ và nhãn sách mẫu")
    canvas.setFont(font, 9)
    lines = (
        "Kiosk Mượn Trả: http://127.0.0.1:5000 · Mượn sách: quét thẻ rồi quét nhãn sách · Trả sách: quét nhãn sách.",
        f"Mã PIN thủ thư mặc định: {DEFAULT_PIN} (đổi bằng lệnh: muontra set-pin). "
        "Demo sheet: scan a card, then a book label.",
    )
    for index, line in enumerate(lines):
        canvas.drawString(margin, y - 30 - index * 12, line)
    y -= 62

    def grid(title: str, badges: list[Badge], columns: int, height: float, bar_height: float) -> None:
        nonlocal y
        canvas.setFont(bold, 11)
        canvas.drawString(margin, y - 11, title)
        y -= 18
        gap = 4 * mm
        width = (page_width - 2 * margin - gap * (columns - 1)) / columns
        for index, badge in enumerate(badges):
            row, column = divmod(index, columns)
            _draw_badge(canvas, badge, margin + column * (width + gap), y - (row + 1) * height - row * gap,
                        width, height, bar_height)
        rows = -(-len(badges) // columns)
        y -= rows * height + (rows - 1) * gap + 8 * mm

    grid("Thẻ bạn đọc / Reader cards", cards, 3, 37 * mm, 13 * mm)
    grid("Nhãn sách / Book labels", labels, 3, 37 * mm, 13 * mm)
    canvas.showPage()
    canvas.save()
    return [badge.code for badge in cards + labels]
