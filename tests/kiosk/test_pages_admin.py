"""The librarian's pages over HTTP: PIN, lock-out, session timeout, CSRF, and each action's effect."""

from __future__ import annotations

import html
import io
import re
from datetime import date, timedelta

import pytest

from kiosk.admin_auth import PinLocked, WrongPin
from kiosk.db import write_transaction
from kiosk.i18n import translate
from kiosk.importer import plan_import
from kiosk.ledger import DEVICE_ROLE, NotThisDevicesRole, get_setting, put_setting
from kiosk.models import ClosedDay, Copy, Event, Loan, Patron, PolicyRule, Title
from tests.conftest import patron_fact
from tests.kiosk.reports.conftest import pdf_text, seed_two_classes, xlsx_rows

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def token(client, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, page.get_data(as_text=True)[:500]
    return CSRF.search(page.get_data(as_text=True)).group(1)


def login(client, pin: str = "1234"):
    return client.post("/admin/login", data={"pin": pin, "csrf_token": token(client, "/admin/login")})


def post(client, path: str, data: dict, form_page: str | None = None):
    data = {**data, "csrf_token": token(client, form_page or "/admin/")}
    return client.post(path, data=data)


def events(kind: str) -> list[Event]:
    return list(Event.select().where(Event.type == kind).order_by(Event.seq))


@pytest.fixture
def admin(client, school):
    assert login(client).status_code == 302
    return client


# ---------------------------------------------------------------- login, lock-out, session


@pytest.mark.parametrize("path", ["/admin/", "/admin/search?q=an", "/admin/policy", "/admin/calendar",
                                  "/admin/import", "/admin/patrons/HS001", "/admin/copies/TN-0001",
                                  "/admin/overdue/6A1.pdf"])
def test_every_admin_page_needs_the_pin(client, school, path):
    answer = client.get(path)
    assert answer.status_code == 302 and answer.headers["Location"].startswith("/admin/login")


def test_login_goes_back_to_the_page_asked_for(client, school):
    client.get("/admin/patrons/HS001")
    answer = client.post("/admin/login?next=/admin/patrons/HS001",
                         data={"pin": "1234", "csrf_token": token(client, "/admin/login")})
    assert answer.headers["Location"] == "/admin/patrons/HS001"
    assert "Nguyễn Văn An" in client.get("/admin/patrons/HS001").get_data(as_text=True)


def test_login_never_redirects_off_site(client, school):
    answer = client.post("/admin/login?next=//evil.example/",
                         data={"pin": "1234", "csrf_token": token(client, "/admin/login")})
    assert answer.headers["Location"] == "/admin/"


def test_forms_without_csrf_token_are_refused(client, school):
    assert client.post("/admin/login", data={"pin": "1234"}).status_code == 400
    login(client)
    answer = client.post("/admin/patrons/HS001/checkout", data={"item": "TN-0001"})
    assert answer.status_code == 400
    assert Loan.select().count() == 0
    # …while the kiosk's JSON API stays usable without one.
    assert client.post("/api/checkout", json={"patron": "HS001", "item": "TN-0001"}).status_code == 200


def test_wrong_pins_lock_the_librarian_out_until_the_time_is_up(app, client, school, clock):
    attempts = app.config["PIN_MAX_ATTEMPTS"]
    for left in range(attempts - 1, 0, -1):
        answer = login(client, "9999")
        assert answer.status_code == 401
        assert WrongPin(left=left).message_in("vi") in answer.get_data(as_text=True)
    locked = login(client, "9999")
    assert locked.status_code == 429
    assert login(client, "1234").status_code == 429  # even the right PIN, while locked
    assert PinLocked(minutes=app.config["PIN_LOCKOUT_MINUTES"]).message_in("vi") in locked.get_data(as_text=True)
    clock.set(clock.moment + timedelta(minutes=app.config["PIN_LOCKOUT_MINUTES"] + 1))
    assert login(client, "1234").status_code == 302


def test_session_times_out_after_inactivity_but_slides_with_use(app, admin, clock):
    minutes = app.config["ADMIN_SESSION_MINUTES"]
    # A page left open leaves by itself once the session is over.
    refresh = f'http-equiv="refresh" content="{minutes * 60 + 5};url=/admin/"'
    assert refresh in admin.get("/admin/").get_data(as_text=True)
    for _ in range(3):  # each visit within the limit keeps the session alive
        clock.set(clock.moment + timedelta(minutes=minutes - 1))
        assert admin.get("/admin/").status_code == 200
    clock.set(clock.moment + timedelta(minutes=minutes + 1))
    answer = admin.get("/admin/policy")
    assert answer.status_code == 302 and answer.headers["Location"].startswith("/admin/login")
    page = admin.get(answer.headers["Location"]).get_data(as_text=True)
    assert translate("Your session has ended. Please enter the PIN again.", "vi") in page


def test_logout_ends_the_session(admin):
    assert post(admin, "/admin/logout", {}).status_code == 302
    assert admin.get("/admin/").status_code == 302


def test_default_pin_warning_until_the_pin_is_changed(admin):
    warning = translate("The librarian PIN is still the default 1234: anyone can open these pages.", "vi")
    assert warning in admin.get("/admin/").get_data(as_text=True)
    mismatch = post(admin, "/admin/pin", {"current": "1234", "pin": "246801", "again": "246811"}, "/admin/pin")
    assert mismatch.status_code == 200
    assert translate("The two PINs are not the same.", "vi") in mismatch.get_data(as_text=True)
    too_short = post(admin, "/admin/pin", {"current": "1234", "pin": "24680", "again": "24680"}, "/admin/pin")
    assert translate("A PIN is 6 to 12 digits.", "vi") in too_short.get_data(as_text=True)
    assert post(admin, "/admin/pin", {"current": "1234", "pin": "246801", "again": "246801"},
                "/admin/pin").status_code == 302
    assert warning not in admin.get("/admin/").get_data(as_text=True)
    post(admin, "/admin/logout", {})
    assert login(admin, "1234").status_code == 401
    assert login(admin, "246801").status_code == 302


# ---------------------------------------------------------------- search and a reader's loans


def test_search_finds_readers_and_copies_without_diacritics(admin):
    page = admin.get("/admin/search?q=nguyen van").get_data(as_text=True)
    assert "Nguyễn Văn An" in page and "Trần Thị Bình" not in page
    page = admin.get("/admin/search?q=de men").get_data(as_text=True)
    assert "TN-0001" in page and "Dế Mèn phiêu lưu ký" in page
    isbn = Title.get(Title.title == "Toán 6 tập một").isbn
    page = admin.get(f"/admin/search?q={isbn}").get_data(as_text=True)
    assert "SGK-0001" in page and "SGK-0002" in page
    page = admin.get("/admin/search?q=6a1").get_data(as_text=True)
    assert "HS001" in page and "HS002" in page


def test_lending_returning_and_renewing_for_a_reader(admin, circ, clock):
    answer = post(admin, "/admin/patrons/HS001/checkout", {"item": "tn-0001"})
    assert answer.headers["Location"] == "/admin/patrons/HS001"
    loan = Loan.get()
    assert loan.patron.code == "HS001" and loan.copy.code == "TN-0001"
    assert [e.payload["item"] for e in events("loan.checkout")] == ["TN-0001"]
    page = admin.get("/admin/patrons/HS001").get_data(as_text=True)
    assert "Dế Mèn phiêu lưu ký" in page and "Đã cho mượn" in page

    post(admin, "/admin/patrons/HS001/renew", {"item": "TN-0001"})
    assert Loan.get().renewals == 1 and len(events("loan.renew")) == 1
    refused = post(admin, "/admin/patrons/HS001/renew", {"item": "TN-0001"})
    assert refused.status_code == 302
    # Worded for the librarian, not the child's "Em hãy trả sách nhé".
    assert "Lượt mượn này đã gia hạn đủ số lần quy định." in admin.get("/admin/patrons/HS001").get_data(as_text=True)

    post(admin, "/admin/patrons/HS001/checkin", {"item": "TN-0001"})
    assert Loan.get().returned_at is not None and len(events("loan.checkin")) == 1


def test_overdue_loans_are_marked(admin, circ, clock):
    circ.checkout("HS001", "TN-0002")
    clock.set(clock.moment + timedelta(days=30))
    login(admin)
    page = admin.get("/admin/patrons/HS001").get_data(as_text=True)
    assert 'class="overdue"' in page
    due = Loan.get().due
    days = (circ.today() - due).days
    assert translate("%(days)s days overdue", "vi", days=days) in page


def test_a_refused_loan_is_a_message_not_an_error_page(admin):
    answer = post(admin, "/admin/patrons/HS001/checkout", {"item": "BAO-0001"})
    assert answer.status_code == 302
    # Worded for the librarian at the desk, not for a child at the kiosk.
    page = admin.get(answer.headers["Location"]).get_data(as_text=True)
    assert "Bản sách này chỉ đọc tại thư viện." in page and "Sách này chỉ được đọc tại thư viện." not in page
    assert Loan.select().count() == 0


def test_marking_a_copy_lost_then_back_on_the_shelf(admin):
    post(admin, "/admin/copies/TN-0003/status", {"action": "mark_lost", "note": "Mất ở lớp 6A1"})
    copy = Copy.get(Copy.code == "TN-0003")
    assert copy.status == "lost" and copy.status_note == "Mất ở lớp 6A1"
    assert events("copy.status")[-1].payload == {"item": "TN-0003", "status": "lost", "note": "Mất ở lớp 6A1"}
    assert translate("lost", "vi") in admin.get("/admin/copies/TN-0003").get_data(as_text=True)
    post(admin, "/admin/copies/TN-0003/status", {"action": "mark_available", "note": ""})
    assert Copy.get(Copy.code == "TN-0003").status == "available"
    assert post(admin, "/admin/copies/TN-0003/status", {"action": "checkout"}).status_code == 400


def test_copy_page_names_the_borrower_for_the_librarian(admin, circ):
    circ.checkout("HS002", "TN-0004")
    page = admin.get("/admin/copies/TN-0004").get_data(as_text=True)
    assert "Trần Thị Bình" in page
    post(admin, "/admin/copies/TN-0004/checkin", {})
    assert Copy.get(Copy.code == "TN-0004").status == "available"


def test_adding_and_editing_a_reader(admin):
    post(admin, "/admin/patrons/save", {"code": " hs100 ", "name": "  Võ  Thị   Sáu ", "class_name": "7a3",
                                        "kind": "student", "school_year": "2025-2026", "active": "1"})
    patron = Patron.get(Patron.code == "HS100")
    assert (patron.name, patron.class_name, patron.active) == ("Võ Thị Sáu", "7A3", True)
    post(admin, "/admin/patrons/save", {"code": "HS100", "name": "Võ Thị Sáu", "class_name": "8A3",
                                        "kind": "student"})
    patron = Patron.get(Patron.code == "HS100")
    assert (patron.class_name, patron.active) == ("8A3", False)
    assert len(events("patron.upsert")) >= 2
    answer = post(admin, "/admin/patrons/save", {"code": "HS101", "name": "", "kind": "pirate"})
    assert Patron.get_or_none(Patron.code == "HS101") is None
    page = admin.get(answer.headers["Location"]).get_data(as_text=True)
    assert "Cần điền" in page and "pirate" in page


def test_unknown_reader_or_copy_is_a_404_page(admin):
    assert admin.get("/admin/patrons/NOPE").status_code == 404
    assert admin.get("/admin/copies/NOPE").status_code == 404


# ---------------------------------------------------------------- policy


def policy_form(rows: list[dict], block: bool = True) -> dict:
    form = {"rows": str(len(rows))}
    for index, row in enumerate(rows):
        for name, value in row.items():
            form[f"rule-{index}-{name}"] = value
    if block:
        form["block_when_overdue"] = "1"
    return form


STUDENT_ONE_BOOK = {"patron_kind": "student", "category": "*", "max_loans": "1", "loan_days": "7",
                    "max_renewals": "0", "due_mode": "days", "loanable": "1"}
EVERYONE = {"patron_kind": "*", "category": "*", "max_loans": "5", "loan_days": "14", "max_renewals": "1",
            "due_mode": "days", "loanable": "1"}


def test_a_self_check_kiosk_refuses_the_librarians_changes_at_once_and_still_lends(admin, circ):
    """Paired as a self-check kiosk, a device's PIN pages would change the policy here and see it
    undone at the next sync (the server refuses it from that role): it says so at once instead."""
    with write_transaction():
        put_setting(DEVICE_ROLE, "kiosk")
    rules_before = {(r.patron_kind, r.category, r.max_loans) for r in PolicyRule.select()}
    answer = post(admin, "/admin/policy", policy_form([STUDENT_ONE_BOOK, EVERYONE], block=False), "/admin/policy")
    assert answer.status_code == 403
    assert html.escape(translate(NotThisDevicesRole.message, "vi"), quote=False) in answer.get_data(as_text=True)
    assert {(r.patron_kind, r.category, r.max_loans) for r in PolicyRule.select()} == rules_before
    assert events("policy.set") == [] and events("setting.set") == []
    assert admin.post("/api/checkout", json={"patron": "HS001", "item": "TN-0001"}).status_code == 200
    with write_transaction():
        put_setting(DEVICE_ROLE, "desk")  # the librarian made it the desk on the server
    assert post(admin, "/admin/policy", policy_form([STUDENT_ONE_BOOK, EVERYONE], block=False),
                "/admin/policy").status_code == 302
    assert len(events("policy.set")) == 1


def test_saving_the_policy_changes_what_the_kiosk_allows(admin, circ):
    answer = post(admin, "/admin/policy", policy_form([STUDENT_ONE_BOOK, EVERYONE], block=False), "/admin/policy")
    assert answer.status_code == 302
    assert {(r.patron_kind, r.category, r.max_loans) for r in PolicyRule.select()} == {
        ("student", "*", 1), ("*", "*", 5)}
    assert len(events("policy.set")) == 1
    assert events("setting.set")[-1].payload == {"key": "block_when_overdue", "value": False}
    first = admin.post("/api/checkout", json={"patron": "HS001", "item": "TN-0001"}).get_json()
    assert first["loan"]["due"] == (circ.today() + timedelta(days=7)).isoformat()
    second = admin.post("/api/checkout", json={"patron": "HS001", "item": "TN-0002"})
    assert second.status_code == 409 and second.get_json()["error"]["code"] == "loan_limit"
    page = admin.get("/admin/policy").get_data(as_text=True)
    assert 'name="rule-0-max_loans" value="1"' in page or 'name="rule-1-max_loans" value="1"' in page


@pytest.mark.parametrize("change, message", [
    ({"max_loans": "ba"}, "Dòng 1: \"Số sách tối đa\" phải là số nguyên từ 0 đến 200."),
    ({"loan_days": "-3"}, "Dòng 1: \"Số ngày mượn\" phải là số nguyên từ 0 đến 400."),
    ({"due_mode": "tomorrow"}, "không phải là lựa chọn hợp lệ"),
    ({"category": "comics"}, "không phải là lựa chọn hợp lệ"),
])
def test_bad_policy_input_is_explained_and_nothing_is_saved(admin, change, message):
    before = events("policy.set")
    answer = post(admin, "/admin/policy", policy_form([{**STUDENT_ONE_BOOK, **change}, EVERYONE]), "/admin/policy")
    assert answer.status_code == 400
    assert message in html.unescape(answer.get_data(as_text=True))
    assert events("policy.set") == before and PolicyRule.select().count() == 0


def test_duplicate_rules_and_missing_general_rule_are_refused(admin):
    answer = post(admin, "/admin/policy", policy_form([STUDENT_ONE_BOOK, STUDENT_ONE_BOOK]), "/admin/policy")
    assert answer.status_code == 400
    assert "Dòng 2: đã có quy định cho student × *" in answer.get_data(as_text=True)
    only_textbooks = {**STUDENT_ONE_BOOK, "category": "SGK"}
    answer = post(admin, "/admin/policy", policy_form([only_textbooks]), "/admin/policy")
    assert answer.status_code == 400
    assert translate("There must be a rule for every kind of reader with category '*' (all other books).",
                     "vi") in html.unescape(answer.get_data(as_text=True))


def test_english_policy_messages(admin):
    admin.get("/lang/en")
    answer = post(admin, "/admin/policy", policy_form([{**STUDENT_ONE_BOOK, "max_loans": "x"}, EVERYONE]),
                  "/admin/policy")
    assert "Row 1: 'Max. books' must be a whole number from 0 to 200." in html.unescape(answer.get_data(as_text=True))


# ---------------------------------------------------------------- calendar


def test_saving_the_calendar_moves_due_dates_past_closed_days(admin, circ):
    today = circ.today()  # Monday 2 March 2026: a 10-day loan is due Thursday 12 March
    closed = f"{(today + timedelta(days=10)).strftime('%d/%m/%Y')} - {(today + timedelta(days=11)).strftime('%d/%m/%Y')} Nghỉ giữa kỳ"
    answer = post(admin, "/admin/calendar", {"closed_weekdays": ["5", "6"], "closed_days": closed,
                                             "term_ends": ["15/05/2026", ""], "year_end": "31/05/2026"},
                  "/admin/calendar")
    assert answer.status_code == 302
    assert [(d.day, d.reason) for d in ClosedDay.select().order_by(ClosedDay.day)] == [
        (date(2026, 3, 12), "Nghỉ giữa kỳ"), (date(2026, 3, 13), "Nghỉ giữa kỳ")]
    payload = events("calendar.set")[-1].payload
    assert payload["term_ends"] == ["2026-05-15"] and payload["year_end"] == "2026-05-31"
    loan = admin.post("/api/checkout", json={"patron": "HS001", "item": "TN-0001"}).get_json()["loan"]
    assert loan["due"] == "2026-03-16"  # Thu+Fri closed, then the weekend: Monday
    page = admin.get("/admin/calendar").get_data(as_text=True)
    assert "12/03/2026 Nghỉ giữa kỳ" in page and "31/05/2026" in page


def test_a_calendar_saved_without_a_year_end_clears_the_one_before(admin, circ):
    """A blank year end is a choice (the school has not set it yet), not a crash."""
    first = {"closed_weekdays": ["6"], "closed_days": "", "term_ends": ["", ""], "year_end": "31/05/2026"}
    assert post(admin, "/admin/calendar", first, "/admin/calendar").status_code == 302
    assert get_setting("year_end") == "2026-05-31"
    answer = post(admin, "/admin/calendar", {**first, "year_end": ""}, "/admin/calendar")
    assert answer.status_code == 302
    assert events("calendar.set")[-1].payload["year_end"] is None
    assert get_setting("year_end") is None
    assert admin.post("/api/checkout", json={"patron": "HS001", "item": "TN-0001"}).status_code == 200


@pytest.mark.parametrize("form, message", [
    ({"closed_days": "30/02/2026 Tết"}, "Dòng 1: \"30/02/2026\" không phải là ngày"),
    ({"closed_days": "01/01/2026 Tết\nngày mai"}, "Dòng 2: \"ngày\" không phải là ngày"),
    ({"closed_days": "20/02/2026 - 10/02/2026 Tết"}, "Dòng 1: ngày kết thúc đứng trước ngày bắt đầu."),
    ({"closed_weekdays": [str(n) for n in range(7)]}, "Thư viện không thể nghỉ tất cả các ngày trong tuần."),
    ({"year_end": "cuối tháng 5"}, "không phải là ngày"),
])
def test_bad_calendar_input_is_explained_and_nothing_is_saved(admin, form, message):
    answer = post(admin, "/admin/calendar", form, "/admin/calendar")
    assert answer.status_code == 400
    assert message in html.unescape(answer.get_data(as_text=True))
    assert events("calendar.set") == []


# ---------------------------------------------------------------- import


def upload(client, kind: str, name: str, content: bytes):
    return client.post("/admin/import", data={
        "kind": kind, "csrf_token": token(client, "/admin/import"), "file": (io.BytesIO(content), name),
    }, content_type="multipart/form-data")


GOOD_PATRONS = "Mã HS,Họ và tên,Lớp\nHS201,Lý Thị Mai,6A3\nHS202,Đặng Văn Nam,6A3\n".encode()
BAD_PATRONS = "Mã HS,Họ và tên,Lớp\nHS301,Hà Thu,6A3\nHS302,,6A3\nHS301,Trùng Mã,6A3\n".encode()


def test_import_with_bad_rows_lists_them_and_writes_nothing(admin):
    before = Event.select().count()
    answer = upload(admin, "patrons", "hoc-sinh.csv", BAD_PATRONS)
    assert answer.status_code == 422
    page = html.unescape(answer.get_data(as_text=True))
    assert "Dòng 3" in page and "Dòng 4" in page and "Dòng 2:" not in page
    assert 'action="/admin/import/confirm"' not in page
    assert Event.select().count() == before and Patron.get_or_none(Patron.code == "HS301") is None


def test_import_previews_then_writes_only_when_confirmed(admin):
    answer = upload(admin, "patrons", "hoc-sinh.csv", GOOD_PATRONS)
    assert answer.status_code == 200
    page = answer.get_data(as_text=True)
    assert "Lý Thị Mai" in page and "Đặng Văn Nam" in page
    assert Patron.get_or_none(Patron.code == "HS201") is None  # a preview writes nothing
    upload_token = re.search(r'name="token" value="([0-9a-f]+)"', page).group(1)
    confirmed = admin.post("/admin/import/confirm", data={"token": upload_token,
                                                          "csrf_token": CSRF.search(page).group(1)})
    assert confirmed.status_code == 302
    assert Patron.get(Patron.code == "HS202").class_name == "6A3"
    assert translate("Imported %(count)s rows from %(filename)s.", "vi", count=2, filename="hoc-sinh.csv") in \
        admin.get("/admin/import").get_data(as_text=True)
    # The same confirmation again finds nothing waiting: no double import.
    again = admin.post("/admin/import/confirm", data={"token": upload_token,
                                                      "csrf_token": token(admin, "/admin/import")})
    assert again.status_code == 302
    assert len([e for e in events("patron.upsert") if e.payload["code"] == "HS202"]) == 1


def test_import_confirm_rechecks_the_file(admin, circ):
    loans = b"patron,item,checked_out,due\nHS001,TN-0001,01/03/2026,11/03/2026\n"
    page = upload(admin, "loans", "so-muon.csv", loans).get_data(as_text=True)
    upload_token = re.search(r'name="token" value="([0-9a-f]+)"', page).group(1)
    circ.checkout("HS002", "TN-0001")  # lent at the desk between the preview and the confirmation
    answer = admin.post("/admin/import/confirm", data={"token": upload_token,
                                                       "csrf_token": CSRF.search(page).group(1)})
    assert answer.status_code == 422
    assert Loan.open_loans().count() == 1


def test_import_of_a_file_that_is_not_a_table_is_explained(admin):
    damaged = b"PK\x03\x04 this is not really a workbook"
    answer = upload(admin, "catalog", "sach.xlsx", damaged)
    assert answer.status_code == 422
    problem = plan_import("catalog", "sach.xlsx", damaged).errors[0]
    assert problem.message_in("vi") in html.unescape(answer.get_data(as_text=True))
    assert admin.post("/admin/import/confirm", data={"token": "../../etc/passwd",
                                                     "csrf_token": token(admin, "/admin/import")}).status_code == 302


# ---------------------------------------------------------------- copies


def test_adding_and_editing_a_copy(admin):
    answer = post(admin, "/admin/copies/save", {
        "item": "tn-0100", "title": "  Chuyện  cổ tích  Việt Nam ", "author": "Nhiều tác giả", "isbn": "",
        "category": "TN", "year": "2019", "location": "6A1", "shelf": "Tủ 2"})
    assert answer.headers["Location"] == "/admin/copies/TN-0100"
    copy = Copy.get(Copy.code == "TN-0100")
    assert (copy.title.title, copy.title.year, copy.location, copy.shelf) == ("Chuyện cổ tích Việt Nam", 2019,
                                                                              "6A1", "Tủ 2")
    assert events("catalog.upsert")[-1].payload["item"] == "TN-0100"
    stk = Copy.get(Copy.code == "STK-0001")
    post(admin, "/admin/copies/save", {"item": "STK-0001", "title": "Từ điển Tiếng Việt (tái bản)",
                                       "isbn": stk.title.isbn, "category": "STK", "location": "main"})
    assert Copy.get(Copy.code == "STK-0001").title.title == "Từ điển Tiếng Việt (tái bản)"
    page = admin.get("/admin/copies/STK-0001").get_data(as_text=True)
    assert "Từ điển Tiếng Việt (tái bản)" in page
    assert page.count("<form") == len(re.findall(r"</form>", page)) and "<title>STK-0001 · Mượn Trả</title>" in page


def test_bad_copy_input_is_explained_and_nothing_is_saved(admin):
    before = len(events("catalog.upsert"))
    answer = post(admin, "/admin/copies/save", {"item": "TN-0200", "title": "", "isbn": "978-604-0-00000-1",
                                                "category": "comics", "year": "năm ngoái"})
    assert answer.headers["Location"] == "/admin/copies/new"
    page = html.unescape(admin.get("/admin/copies/new").get_data(as_text=True))
    for message in ("Cần điền \"Tên sách\"", "978-604-0-00000-1", "comics", "năm ngoái"):
        assert message in page
    assert len(events("catalog.upsert")) == before and Copy.get_or_none(Copy.code == "TN-0200") is None


# ---------------------------------------------------------------- overdue books by class


def cells(page: str, first_cell: str) -> list[str]:
    """The text of each cell of the table row that begins with ``first_cell``."""
    row = next(tr for tr in page.split("<tr")[1:] if re.match(rf"\s*>\s*<td[^>]*>(<a[^>]*>)?{re.escape(first_cell)}<", tr))
    return [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]


def test_overdue_books_by_class_then_one_class_then_its_files(admin, circ, clock):
    receipts = seed_two_classes(circ, clock)
    today = circ.today()
    del receipts["TN-0004"]  # returned
    late = {item: (today - receipt.due).days for item, receipt in receipts.items() if receipt.due < today}
    assert set(late) == {"TN-0001", "TN-0002", "TN-0003"}  # TN-0005 is not due yet

    overview = html.unescape(admin.get("/admin/overdue").get_data(as_text=True))
    assert cells(overview, "6A1")[:3] == ["6A1", "1", "2"]  # An holds both 6A1 books; Bình's is not late
    assert cells(overview, "6A2")[:3] == ["6A2", "1", "1"]
    assert 'href="/admin/overdue/6A1"' in overview and 'href="/admin/overdue/6A1.pdf"' in overview

    page = html.unescape(admin.get("/admin/overdue/6A2").get_data(as_text=True))
    assert f"<h1>Danh sách sách quá hạn lớp 6A2 ngày {today:%d/%m/%Y}</h1>" in page
    row = cells(page, "Lê Thị Ánh")
    assert row[1:] == ["Tuổi thơ dữ dội", "TN-0003", "02/02/2026", f"{receipts['TN-0003'].due:%d/%m/%Y}",
                       str(late["TN-0003"])]
    assert 'href="/admin/patrons/HS010"' in page and 'href="/admin/copies/TN-0003"' in page
    assert "Nguyễn Văn An" not in page

    slips = admin.get("/admin/overdue/6A1.pdf")
    assert slips.status_code == 200 and slips.mimetype == "application/pdf"
    assert slips.headers["Content-Disposition"] == f"attachment; filename=qua-han-6A1-{today}.pdf"
    assert "Gửi em: Nguyễn Văn An, lớp 6A1" in pdf_text(slips.data)[0]
    listing = admin.get("/admin/overdue/6A1.xlsx")
    assert [row[4] for row in xlsx_rows(listing.data)[2:]] == ["TN-0002", "TN-0001"]
    csv = admin.get("/admin/overdue/6A2.csv")
    assert csv.mimetype == "text/csv" and csv.data.startswith("\ufeff".encode())
    assert csv.data.decode("utf-8-sig").splitlines()[1].startswith("HS010,Lê Thị Ánh,6A2,Tuổi thơ dữ dội,TN-0003,")

    for unknown_format in ("/admin/overdue/6A1.exe", "/admin/overdue/6A1.docx"):
        assert admin.get(unknown_format).status_code == 404, unknown_format


def test_an_unknown_class_says_so_above_the_list_of_classes(admin, circ, clock):
    circ.checkout("HS001", "TN-0001")
    clock.set(clock.moment + timedelta(days=60))
    login(admin)
    for path in ("/admin/overdue/9Z9", "/admin/overdue/9Z9.pdf"):
        for lang, message in (("vi", "Không có lớp nào tên là '9Z9'."), ("en", "There is no class named '9Z9'.")):
            answer = admin.get(f"{path}?lang={lang}")
            page = html.unescape(answer.get_data(as_text=True))
            assert answer.status_code == 404 and answer.mimetype == "text/html", path
            assert f'<p class="banner error" role="alert">{message}</p>' in page
            assert 'href="/admin/overdue/6A1"' in page  # the classes to choose from


def test_no_overdue_books_is_said_kindly(admin, circ, clock):
    circ.checkout("HS001", "TN-0001")
    clock.set(clock.moment + timedelta(days=1))
    login(admin)
    kindly = translate("No overdue books. Well done!", "vi")
    assert kindly in admin.get("/admin/overdue").get_data(as_text=True)
    page = admin.get("/admin/overdue/6A1").get_data(as_text=True)
    assert kindly in page and "TN-0001" not in page


def test_class_names_with_a_slash_or_a_dot_have_their_own_overdue_pages(admin, circ, clock):
    """Schools name classes 6A1, 6/1 or 6.1: each must reach its own list and files."""
    circ.record_facts([patron_fact("HS061", "Hồ Thị Mai", class_name="6/1"),
                       patron_fact("HS062", "Vương Văn Nam", class_name="6.1")])
    circ.checkout("HS061", "TN-0003")
    circ.checkout("HS062", "TN-0004")
    clock.set(clock.moment + timedelta(days=60))
    login(admin)
    today = circ.today()
    overview = admin.get("/admin/overdue").get_data(as_text=True)
    for class_name, student, item in (("6/1", "Hồ Thị Mai", "TN-0003"), ("6.1", "Vương Văn Nam", "TN-0004")):
        assert f'href="/admin/overdue/{class_name}"' in overview
        page = admin.get(f"/admin/overdue/{class_name}")
        assert page.status_code == 200 and student in page.get_data(as_text=True)
        listing = admin.get(f"/admin/overdue/{class_name}.csv")
        assert listing.status_code == 200 and item in listing.data.decode("utf-8-sig")
        slips = admin.get(f"/admin/overdue/{class_name}.pdf")
        assert f"filename=qua-han-{class_name.replace('/', '-')}-{today}.pdf" in slips.headers["Content-Disposition"]
        assert f"lớp {class_name}" in pdf_text(slips.data)[0]


def test_school_name_is_set_by_the_librarian(admin):
    post(admin, "/admin/school", {"school_name": "  Trường THCS   Chu Văn An "})
    assert events("setting.set")[-1].payload == {"key": "school_name", "value": "Trường THCS Chu Văn An"}
    assert "Trường THCS Chu Văn An" in admin.get("/").get_data(as_text=True)
    desk = html.unescape(admin.get("/admin/").get_data(as_text=True))
    title = translate("Librarian's desk", "vi")
    assert f"<title>{title} · Mượn Trả</title>" in desk
    assert desk.count('action="/admin/school"') == 1 and 'value="Trường THCS Chu Văn An"' in desk


def test_labels_with_a_slash_have_their_own_pages(admin):
    """Some libraries number copies like "SGK/0099"; the copy's pages must still be reachable."""
    post(admin, "/admin/copies/save", {"item": "SGK/0099", "title": "Ngữ văn 6", "category": "SGK"})
    page = admin.get("/admin/copies/SGK/0099")
    assert page.status_code == 200 and "Ngữ văn 6" in page.get_data(as_text=True)
    post(admin, "/admin/copies/SGK/0099/status", {"action": "mark_damaged", "note": "rách bìa"})
    assert Copy.get(Copy.code == "SGK/0099").status == "damaged"
