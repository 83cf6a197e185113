"""The school CA and what plain HTTP answers to LAN browsers when HTTPS is on (kiosk/tls.py, kiosk/web/tls.py)."""

from __future__ import annotations

import pytest
from cryptography import x509
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk import tls
from kiosk.app import create_app

TABLET = {"REMOTE_ADDR": "192.168.1.23"}


def test_the_ca_is_made_once_and_its_key_is_private(tmp_path):
    cert, key = tls.ensure_ca(tmp_path, "THCS Nguyễn Du")
    assert key.stat().st_mode & 0o077 == 0
    again = tls.ensure_ca(tmp_path, "another name")
    assert again == (cert, key) and cert.read_bytes() == again[0].read_bytes()
    ca = x509.load_pem_x509_certificate(cert.read_bytes())
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    assert "Nguyễn Du" in ca.subject.rfc4514_string()


def test_the_server_certificate_is_kept_until_a_name_is_missing(tmp_path):
    first = tls.ensure_server_cert(tmp_path, names=["thuvien.lan"])
    serial = x509.load_pem_x509_certificate(first.cert.read_bytes()).serial_number
    kept = tls.ensure_server_cert(tmp_path, names=["thuvien.lan"])
    assert x509.load_pem_x509_certificate(kept.cert.read_bytes()).serial_number == serial
    # The kiosk got a new address on the Wi-Fi: the certificate is made again, by the same CA.
    moved = tls.ensure_server_cert(tmp_path, names=["thuvien.lan"], addresses=["10.20.30.40"])
    leaf = x509.load_pem_x509_certificate(moved.cert.read_bytes())
    assert leaf.serial_number != serial
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "10.20.30.40" in {str(a) for a in sans.get_values_for_type(x509.IPAddress)}
    leaf.verify_directly_issued_by(x509.load_pem_x509_certificate(moved.ca_cert.read_bytes()))


def test_a_certificate_near_expiry_is_renewed(tmp_path, monkeypatch):
    files = tls.ensure_server_cert(tmp_path)
    old = x509.load_pem_x509_certificate(files.cert.read_bytes())
    later = old.not_valid_after_utc - tls.RENEW_BEFORE
    monkeypatch.setattr(tls, "_now", lambda: later)
    renewed = x509.load_pem_x509_certificate(tls.ensure_server_cert(tmp_path).cert.read_bytes())
    assert renewed.serial_number != old.serial_number and renewed.not_valid_after_utc > old.not_valid_after_utc


def _app(tmp_path, https_port):
    from kiosk.store import open_store

    open_store(tmp_path, upgrade=True).close()
    return create_app({"DATA_DIR": str(tmp_path), "TESTING": True, "HTTPS_PORT": https_port})


def test_plain_http_from_a_tablet_explains_and_points_at_https(tmp_path):
    client = _app(tmp_path, 8443).test_client()
    page = client.get("/borrow", base_url="http://192.168.1.5:5000", environ_base=TABLET)
    assert page.status_code == 200
    assert b'data-https="https://192.168.1.5:8443/borrow"' in page.data
    assert b"/ca" in page.data
    # It may ask that HTTPS address (and only it, besides itself) whether the tablet trusts it yet.
    assert "connect-src 'self' https://192.168.1.5:8443;" in page.headers["Content-Security-Policy"]
    # The kiosk's own screen (loopback) and JSON clients keep plain HTTP.
    own = client.get("/borrow")
    assert b"data-https" not in own.data
    assert client.get("/healthz", environ_base=TABLET).status_code == 200
    assert client.get("/ca.crt", environ_base=TABLET).mimetype == "application/x-x509-ca-cert"


def test_without_https_nothing_is_redirected(tmp_path):
    client = _app(tmp_path, None).test_client()
    assert b"data-https" not in client.get("/borrow", environ_base=TABLET).data


@pytest.fixture(scope="module")
def tablet_client(tmp_path_factory):
    return _app(tmp_path_factory.mktemp("https"), 8443).test_client()


@settings(max_examples=80, deadline=None)
@given(path=st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=60),
       host=st.one_of(st.sampled_from(["192.168.1.5:5000", "[fe80::1]:5000", "thuvien.lan", "a" * 300]),
                      st.text(st.characters(codec="latin-1", exclude_categories=["Cc"]), max_size=80)))
def test_any_path_or_host_answers_without_a_server_error(tablet_client, path, host):
    response = tablet_client.get("/" + path.lstrip("/"), headers={"Host": host}, environ_base=TABLET)
    assert response.status_code < 500
