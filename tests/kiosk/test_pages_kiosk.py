"""The public kiosk pages over HTTP: rendering, language, settings handed to the script."""

from __future__ import annotations

import json
import re

from kiosk.i18n import translate


def settings_of(html: str) -> dict:
    found = re.search(r'<script id="muontra-settings" type="application/json">(.*?)</script>', html, re.S)
    return json.loads(found.group(1))


def test_idle_page_is_vietnamese_by_default(client):
    html = client.get("/").get_data(as_text=True)
    assert '<html lang="vi">' in html
    assert "Mượn sách" in html and "Trả sách" in html
    assert settings_of(html)["view"] == "idle"


def test_each_screen_has_its_own_address(client):
    for path, view in (("/", "idle"), ("/borrow", "borrow"), ("/return", "return")):
        answer = client.get(path)
        assert answer.status_code == 200
        assert settings_of(answer.get_data(as_text=True))["view"] == view
        assert f'data-view="{view}"' in answer.get_data(as_text=True)


def test_language_switch_is_remembered_and_only_goes_to_local_pages(client):
    answer = client.get("/lang/en?next=/borrow")
    assert answer.status_code == 302 and answer.headers["Location"] == "/borrow"
    html = client.get("/borrow").get_data(as_text=True)
    assert '<html lang="en">' in html and "Scan your student card" in html
    assert client.get("/lang/en?next=//evil.example/x").headers["Location"] == "/"
    assert client.get("/lang/en?next=https://evil.example/").headers["Location"] == "/"
    client.get("/lang/xx")
    assert '<html lang="en">' in client.get("/").get_data(as_text=True)


def test_reset_forgets_the_language_and_logs_the_librarian_out(client):
    client.get("/lang/en")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/admin/login").get_data(as_text=True))
    assert client.post("/admin/login", data={"pin": "1234", "csrf_token": csrf.group(1)}).status_code == 302
    assert client.get("/admin/").status_code == 200
    assert client.get("/reset").headers["Location"] == "/"
    assert '<html lang="vi">' in client.get("/").get_data(as_text=True)
    assert client.get("/admin/").status_code == 302


def test_script_gets_its_settings_and_translated_words(data_dir, clock):
    from kiosk.app import create_app

    app = create_app({"DATA_DIR": str(data_dir), "TESTING": True, "CLOCK": clock,
                      "IDLE_SECONDS": 7, "DOUBLE_SCAN_SECONDS": 3, "SCAN_KEY_GAP_MS": 30, "SCAN_PAUSE_MS": 250})
    client = app.test_client()
    settings = settings_of(client.get("/borrow").get_data(as_text=True))
    assert settings["idleSeconds"] == 7 and settings["doubleScanSeconds"] == 3
    assert settings["scanKeyGapMs"] == 30 and settings["scanPauseMs"] == 250
    assert settings["words"]["student"]["due"] == translate("Return by %(due)s", "vi")
    # The words that speak to the reader come worded for a teacher too (thầy / cô, not em).
    assert settings["words"]["student"]["your_receipt"] == "Phiếu mượn sách của em"
    assert settings["words"]["teacher_female"]["your_receipt"] == "Phiếu mượn sách của cô"
    client.get("/lang/en")
    settings = settings_of(client.get("/borrow").get_data(as_text=True))
    assert settings["lang"] == "en" and settings["words"]["teacher"]["due"] == "Return by %(due)s"


def test_idle_seconds_come_from_the_environment(data_dir, monkeypatch):
    from kiosk.app import create_app

    monkeypatch.setenv("MUONTRA_IDLE_SECONDS", "5")
    app = create_app({"DATA_DIR": str(data_dir), "TESTING": True})
    assert settings_of(app.test_client().get("/").get_data(as_text=True))["idleSeconds"] == 5


def test_school_name_setting_is_shown(client, circ):
    circ.record_facts([("setting.set", {"key": "school_name", "value": "Trường Tiểu học Kim Đồng"})])
    assert "Trường Tiểu học Kim Đồng" in client.get("/").get_data(as_text=True)


def test_unknown_page_is_a_translated_page_not_a_traceback(client):
    answer = client.get("/no-such-page")
    assert answer.status_code == 404
    html = answer.get_data(as_text=True)
    assert translate("There is nothing at this address.", "vi") in html
    assert "Traceback" not in html


def test_static_assets_are_served_locally(client):
    html = client.get("/").get_data(as_text=True)
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in html
    for asset in re.findall(r'(?:href|src)="(/static/[^"]+)"', html):
        assert client.get(asset).status_code == 200, asset
