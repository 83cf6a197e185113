"""HTTPS for tablets: a real kiosk process serving TLS with the school's own CA, opened in Chromium
as a tablet on the LAN would (by a LAN name, not loopback), once with the CA trusted and once without."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import sync_playwright

from kiosk import tls
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, LARGE, SCAN_TIMING, SMALL, screenshot, seed_school
from tests.conftest import KioskProcess, free_port

pytestmark = pytest.mark.browser

LAN_NAME = "thuvien.school.test"  # what a tablet would type; mapped to loopback inside Chromium only


def _nss_home(tmp: Path, trusted_ca: Path | None) -> Path:
    """A HOME whose NSS database (what Chromium on Linux trusts) holds the CA, or nothing."""
    home = tmp / ("home-trusting" if trusted_ca else "home-plain")
    nssdb = home / ".pki" / "nssdb"
    nssdb.mkdir(parents=True)
    subprocess.run(["certutil", "-N", "-d", f"sql:{nssdb}", "--empty-password"], check=True)
    if trusted_ca:
        subprocess.run(["certutil", "-A", "-d", f"sql:{nssdb}", "-n", "school-ca", "-t", "C,,",
                        "-i", str(trusted_ca)], check=True)
    return home


def _tablet(playwright, home: Path, profile: Path):
    args = [*CHROMIUM_ARGS, f"--host-resolver-rules=MAP {LAN_NAME} 127.0.0.1",
            "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]
    return playwright.chromium.launch_persistent_context(
        str(profile), executable_path=CHROMIUM, args=args, env={"HOME": str(home)},
        viewport=LARGE, locale="vi-VN")


@pytest.fixture(scope="module")
def https_kiosk(tmp_path_factory):
    if shutil.which("certutil") is None:
        pytest.fail("certutil is missing: run `make test` (it installs libnss3-tools)")
    data = tmp_path_factory.mktemp("tls") / "data"
    seed_school(data)
    # The LAN name a school gives the kiosk, besides the names the machine finds itself.
    tls.ensure_server_cert(data, names=[LAN_NAME])
    port = free_port()
    process = KioskProcess(data, env={**SCAN_TIMING, "MUONTRA_CAMERA": "browser"},
                           args=["--https-port", str(port)]).start()
    yield process, port, data
    process.stop()


def test_the_certificate_names_the_lan_and_is_signed_by_the_school_ca(https_kiosk):
    _process, _port, data = https_kiosk
    files = tls.ensure_server_cert(data)
    leaf = x509.load_pem_x509_certificate(files.cert.read_bytes())
    ca = x509.load_pem_x509_certificate(files.ca_cert.read_bytes())
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert LAN_NAME in sans.get_values_for_type(x509.DNSName)
    assert leaf.issuer == ca.subject
    leaf.verify_directly_issued_by(ca)
    assert (files.key.stat().st_mode & 0o777) == 0o600
    assert (data / "tls" / "ca.key").stat().st_mode & 0o077 == 0


def test_a_tablet_trusting_the_school_ca_gets_a_secure_page_and_its_camera(https_kiosk, tmp_path):
    _process, port, data = https_kiosk
    home = _nss_home(tmp_path, trusted_ca=data / "tls" / "ca.crt")
    with sync_playwright() as playwright:
        context = _tablet(playwright, home, tmp_path / "profile")
        try:
            page = context.new_page()
            page.goto(f"https://{LAN_NAME}:{port}/")
            assert page.evaluate("window.isSecureContext") is True
            tracks = page.evaluate("""async () => {
                const stream = await navigator.mediaDevices.getUserMedia({video: true});
                const n = stream.getVideoTracks().length; stream.getTracks().forEach(t => t.stop()); return n; }""")
            assert tracks == 1
            page.goto(f"https://{LAN_NAME}:{port}/ca")
            page.wait_for_selector(".tls-qr")
            screenshot(page, "tls-ca-page-1280", full_page=True)
            page.set_viewport_size(SMALL)
            screenshot(page, "tls-ca-page-800")
        finally:
            context.close()


def test_without_the_school_ca_the_page_is_refused_and_plain_http_has_no_camera(https_kiosk, tmp_path):
    process, port, _data = https_kiosk
    home = _nss_home(tmp_path, trusted_ca=None)
    with sync_playwright() as playwright:
        context = _tablet(playwright, home, tmp_path / "profile")
        try:
            page = context.new_page()
            with pytest.raises(PlaywrightError, match="ERR_CERT_AUTHORITY_INVALID"):
                page.goto(f"https://{LAN_NAME}:{port}/")
            page = context.new_page()  # the refused navigation's error page would interrupt the next one
            page.goto(f"http://{LAN_NAME}:{process.port}/ca")
            assert page.evaluate("window.isSecureContext") is False
            assert page.evaluate("typeof navigator.mediaDevices") == "undefined"
            # The certificate downloads from the plain page, in the form tablets install.
            kind, body = page.evaluate("""async () => {
                const r = await fetch('/ca.crt');
                return [r.headers.get('content-type'), Array.from(new Uint8Array(await r.arrayBuffer()))]; }""")
            assert kind == "application/x-x509-ca-cert"
            x509.load_der_x509_certificate(bytes(body))
        finally:
            context.close()
