"""Server discovery (mDNS) and the pairing QR code: what crosses from the LAN or a scanner is checked."""

from __future__ import annotations

import html
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.app import create_app
from kiosk.db import db
from sync import discovery, kiosk_state
from sync.protocol import BadPairingQr, pairing_qr, parse_pairing_qr
from tests.sync.conftest import ServerProcess


@given(server=st.sampled_from(["http://192.168.1.10:8000", "https://thuvien.lan", "http://10.0.0.2:8000/sub"]),
       code=st.text("ABCDEFGHJKMNPQRSTUVWXYZ23456789-", min_size=1, max_size=12).filter(lambda c: c.strip("-")))
def test_a_pairing_qr_reads_back_whatever_case_the_scanner_types(server, code):
    text = pairing_qr(server, code)
    assert parse_pairing_qr(text) == (server, code)
    upper_server, upper_code = parse_pairing_qr(text.upper())  # a scanner left on caps lock
    assert upper_code == code and upper_server.split("/")[2] == server.split("/")[2]
    assert parse_pairing_qr("]Q1" + text) == (server, code)  # a scanner's AIM prefix


@settings(max_examples=300)
@given(st.text(max_size=500))
def test_anything_else_scanned_is_refused_with_a_reason(text):
    try:
        parse_pairing_qr(text)
    except BadPairingQr:
        pass


@pytest.mark.parametrize("text", ["", "TN-0001", "muontra://pair?", "muontra://pair?server=x",
                                  "muontra://pair?server=a&server=b&code=c", "muontra://pair?code=A&server=%20",
                                  "muontra://pair?" + "a" * 500])
def test_incomplete_or_doubled_fields_are_refused(text):
    with pytest.raises(BadPairingQr):
        parse_pairing_qr(text)


def test_a_bad_scan_on_the_kiosk_pairing_form_changes_nothing(data_dir):
    app = create_app({"DATA_DIR": str(data_dir), "TESTING": True, "WTF_CSRF_ENABLED": False, "SYNC_INTERVAL": 0})
    client = app.test_client()
    client.post("/admin/login", data={"pin": "1234"})
    reply = client.post("/admin/sync/pair?lang=vi", data={"qr": "TN-0001", "server": "", "code": ""})
    assert reply.status_code == 400
    assert BadPairingQr().message_in("vi") in html.unescape(reply.get_data(as_text=True))
    db.connect(reuse_if_open=True)
    assert kiosk_state.pairing() is None
    db.close()


def test_names_fit_one_dns_label_whatever_the_school_is_called():
    for school in ["", "Trường THCS Nguyễn Du", "Trường Tiểu học và Trung học cơ sở Nguyễn Bỉnh Khiêm – Hà Nội",
                   "a.b.c"]:
        name = discovery.service_name(school)
        assert 0 < len(name.encode("utf-8")) <= 63 and "." not in name


@pytest.mark.slow
def test_a_running_server_is_found_and_gone_when_stopped(tmp_path):
    server = ServerProcess(tmp_path / "server", announce=True).start()
    try:
        found: list[str] = []
        deadline = time.monotonic() + 60  # the announcer is a child process: slow to start on a loaded box
        while server.url not in found and time.monotonic() < deadline:
            found = [s.url for s in discovery.browse(1.0)]
        assert server.url in found
    finally:
        server.stop()
    assert server.url not in [s.url for s in discovery.browse(1.0)]
