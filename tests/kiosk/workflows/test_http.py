"""Staff pages over HTTP: helper mode, what helpers may and may not reach, batch and stock-take JSON."""

from __future__ import annotations

import pytest

from kiosk.app import create_app
from kiosk.db import db
from kiosk.models import Event
from tests.kiosk.workflows.conftest import shelve, workflows


@pytest.fixture
def staff_app(data_dir, clock, school):
    db.close()
    app = create_app({"DATA_DIR": str(data_dir), "TESTING": True, "CLOCK": clock, "WTF_CSRF_ENABLED": False})
    return app


def helper_client(app, card="CTV01"):
    client = app.test_client()
    r = client.post("/staff/helper", json={"card": card})
    assert r.status_code == 200, r.json
    return client


def librarian_client(app):
    client = app.test_client()
    r = client.post("/staff/pin", data={"pin": "1234"})
    assert r.status_code == 302
    return client


def test_staff_pages_ask_for_a_card_first(staff_app):
    client = staff_app.test_client()
    r = client.get("/staff/rotation")
    assert r.status_code == 302 and r.headers["Location"].endswith("/staff/?next=/staff/rotation")
    r = client.post("/staff/shelving", json={"code": "TN-0001"})
    assert r.status_code == 401 and r.json["error"]["code"] == "staff_only"
    r = client.post("/staff/helper", json={"card": "HS001"})
    assert r.status_code == 403 and r.json["error"]["message"] == "Thẻ này không phải thẻ cộng tác viên thư viện."
    r = client.post("/staff/pin", data={"pin": "9999"})
    assert r.status_code == 401 and "Sai mã PIN" in r.get_data(as_text=True)


def test_helpers_are_refused_every_librarian_and_admin_page(staff_app):
    with staff_app.app_context():
        db.connect(reuse_if_open=True)
        session = workflows(staff_app.extensions["circulation"]).open_stocktake(None, "", "", by="librarian")
        db.close()
    client = helper_client(staff_app)
    assert client.get("/staff/menu").status_code == 200
    refused = [
        ("post", "/staff/rotation"), ("get", "/staff/intake"), ("post", "/staff/intake"),
        ("post", "/staff/stocktake"), ("post", f"/staff/stocktake/{session}/finish"),
        ("get", f"/staff/stocktake/{session}/record.xlsx"), ("get", "/staff/intake/labels.pdf?codes=TN-0001"),
    ]
    # Every admin page of the kiosk (policy, patrons, catalogue…), whoever adds them later.
    # The PIN login page is the way in, open to anyone.
    admin_rules = [rule for rule in staff_app.url_map.iter_rules() if rule.rule.startswith("/admin")
                   and "GET" in rule.methods and not rule.arguments and rule.endpoint != "admin.login"]
    refused += [("get", rule.rule) for rule in admin_rules]
    for method, url in refused:
        r = getattr(client, method)(url)
        assert r.status_code in (302, 401, 403), (url, r.status_code)
        if r.status_code == 302:
            assert "/admin" not in r.headers["Location"] or "login" in r.headers["Location"] or "pin" in r.headers[
                "Location"], url
    assert client.get("/staff/intake").get_data(as_text=True).count("Chỉ cán bộ thư viện") == 1
    assert "go-intake" not in client.get("/staff/menu").get_data(as_text=True)


def test_batch_mode_over_http_hides_students_from_helpers(staff_app):
    librarian = librarian_client(staff_app)
    r = librarian.post("/staff/rotation", data={"class_name": "6A1", "teacher": "GV001", "helpers": "CTV01",
                                                 "due": "2026-04-30"})
    assert r.status_code == 302
    batch = r.headers["Location"].split("/")[-2]
    helper = helper_client(staff_app)
    for code in ("TN-0001", "TN-0002", "TN-0003"):
        assert helper.post(f"/staff/rotation/{batch}/add", json={"code": code}).status_code == 200
    with staff_app.app_context():
        db.connect(reuse_if_open=True)
        staff_app.extensions["circulation"].checkout("HS002", "TN-0003")
        db.close()
    r = helper.post(f"/staff/rotation/{batch}/return", json={"code": "TN-0001"})
    assert r.json["scan"]["outcome"] == "returned" and r.json["scan"]["message"] == "Đã về: 1 / 3"
    assert (r.json["batch"]["returned"], r.json["batch"]["total"]) == (1, 3)
    missing = {m["code"]: m for m in r.json["batch"]["missing"]}
    assert missing["TN-0003"]["on_loan"] and missing["TN-0003"]["borrower"] is None
    page = helper.get(f"/staff/rotation/{batch}/return").get_data(as_text=True)
    assert "đang cho mượn" in page and "Bình" not in page
    summary = librarian.get(f"/staff/rotation/{batch}/summary").get_data(as_text=True)
    assert "Trần Thị Bình (6A1)" in summary
    r = helper.post(f"/staff/rotation/{batch}/return", json={"code": "STK-0001", "lang": "en"})
    assert r.json["scan"]["outcome"] == "not_in_batch"
    assert r.json["scan"]["message"].startswith("STOP: this book is not part of this batch (it belongs to Main")
    r = helper.post(f"/staff/rotation/{batch}/undo", json={})
    assert r.json["undone"] == "TN-0001" and r.json["batch"]["returned"] == 0
    r = helper.post(f"/staff/rotation/{batch}/return", json={"code": "   "})
    assert r.status_code == 400 and r.json["error"]["code"] == "empty_code"
    with staff_app.app_context():
        db.connect(reuse_if_open=True)
        done = [e.payload for e in Event.select().where(Event.type.startswith("rotation."))]
        db.close()
    assert [p["by"] for p in done] == ["librarian", "CTV01", "CTV01", "CTV01", "CTV01", "CTV01"]


def test_shelving_and_stocktake_scans(staff_app):
    with staff_app.app_context():
        db.connect(reuse_if_open=True)
        circ = staff_app.extensions["circulation"]
        shelve(circ, {"TN-0001": ("main", "A1"), "TN-0002": ("main", "A1"), "STK-0001": ("main", "C2")})
        session = workflows(circ).open_stocktake("main", "A1", "A1", by="librarian")
        db.close()
    helper = helper_client(staff_app)
    r = helper.post("/staff/shelving", json={"code": "stk-0001"})
    assert (r.json["shelving"]["place"], r.json["shelving"]["shelf"]) == ("Thư viện chính", "C2")
    r = helper.post(f"/staff/stocktake/{session}/scan", json={"code": "TN-0001"})
    assert (r.json["scan"]["outcome"], r.json["scan"]["seen"], r.json["scan"]["expected"]) == ("counted", 1, 2)
    r = helper.post(f"/staff/stocktake/{session}/scan", json={"code": "STK-0001"})
    assert r.json["scan"]["message"] == "Để sai chỗ: sách thuộc Thư viện chính, giá C2."
    librarian = librarian_client(staff_app)
    assert librarian.post(f"/staff/stocktake/{session}/finish").status_code == 302
    page = librarian.get(f"/staff/stocktake/{session}").get_data(as_text=True)
    assert "TN-0002" in page and "Kết thúc ngày 02/03/2026." in page
    r = librarian.get(f"/staff/stocktake/{session}/record.pdf")
    assert r.status_code == 200 and r.data.startswith(b"%PDF")
    assert librarian.get(f"/staff/stocktake/{session}/record.doc").status_code == 400


def test_intake_form_keeps_what_was_typed_when_refused(staff_app):
    librarian = librarian_client(staff_app)
    r = librarian.post("/staff/intake", data={"isbn": "9786041234567", "title": "", "prefix": "TN-", "count": "2"})
    assert r.status_code == 409 and "vui lòng nhập nhan đề" in r.get_data(as_text=True)
    assert 'value="9786041234567"' in r.get_data(as_text=True)
    r = librarian.post("/staff/intake", data={"isbn": "9786041234567", "title": "Cho tôi xin một vé đi tuổi thơ",
                                              "author": "Nguyễn Nhật Ánh", "prefix": "TN-", "count": "2",
                                              "donor": "Hội cha mẹ học sinh"})
    text = r.get_data(as_text=True)
    assert r.status_code == 200 and "TN-0005" in text and "TN-0006" in text
    r = librarian.post("/staff/intake/isbn", json={"isbn": "978-604-1-23456-7"})
    assert r.json["title"]["title"] == "Cho tôi xin một vé đi tuổi thơ"


def test_one_pin_for_admin_and_staff_pages_never_for_helpers(staff_app):
    via_admin = staff_app.test_client()
    assert via_admin.post("/admin/login", data={"pin": "1234"}).status_code == 302
    assert via_admin.get("/staff/intake").status_code == 200
    via_staff = librarian_client(staff_app)
    assert via_staff.get("/admin/policy").status_code == 200
    via_staff.post("/staff/signout")
    assert via_staff.get("/admin/policy").status_code == 302
    helper = helper_client(staff_app)
    for url in ("/admin/", "/admin/policy", "/admin/patrons/HS001", "/admin/copies/TN-0001", "/admin/import",
                "/admin/calendar", "/admin/overdue", "/admin/search?q=An"):
        r = helper.get(url)
        assert r.status_code == 302 and "/admin/login" in r.headers["Location"], url
    assert helper.post("/admin/policy", data={}).status_code == 302
