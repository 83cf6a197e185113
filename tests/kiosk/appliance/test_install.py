"""`muontra appliance install --root DIR`: the units verify, and what they start really lends books."""

from __future__ import annotations

import json
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from kiosk.appliance.install import Unsupported32Bit, UnsupportedMachine, check_architecture
from kiosk.appliance.units import escape_path
from tests.conftest import ROOT, free_port, muontra
from tests.kiosk.appliance.conftest import build_wheel


def test_32_bit_systems_are_refused_and_told_why():
    for machine, bits in (("armv7l", 32), ("armv6l", 32), ("aarch64", 32), ("i686", 32)):
        with pytest.raises(Unsupported32Bit) as refused:
            check_architecture(machine, bits)
        assert "64-bit" in refused.value.message_in("en") and "armhf" in refused.value.message_in("en")
        assert "64-bit" in refused.value.message_in("vi")
    with pytest.raises(UnsupportedMachine):
        check_architecture("riscv64", 64)
    check_architecture("aarch64", 64)
    check_architecture("x86_64", 64)


def test_mount_unit_names_are_systemd_escape_paths():
    for path in ("/media/muontra-usb", "/tmp/pytest-of-root/x y/media/muontra-usb", "/srv/thư-viện"):
        expected = subprocess.run(["systemd-escape", "--path", path], capture_output=True, text=True, check=True)
        assert escape_path(path) == expected.stdout.strip()


def verify_units(root: Path) -> None:
    """systemd-analyze verify on every unit (works without systemd as PID 1, e.g. in CI containers)."""
    assert shutil.which("systemd-analyze"), "make system-test-deps installs the systemd package"
    units = sorted((root / "etc" / "systemd" / "system").iterdir())
    verified = subprocess.run(["systemd-analyze", "verify", *map(str, units)], capture_output=True, text=True,
                              timeout=120)
    assert verified.returncode == 0, verified.stderr
    assert verified.stderr.strip() == "", verified.stderr  # not even a warning


def exposure(unit: Path) -> float:
    """systemd's own score of a service's sandboxing (0 = locked down, 10 = none), read offline."""
    analysed = subprocess.run(["systemd-analyze", "security", "--offline=yes", str(unit)], capture_output=True,
                              text=True, timeout=120)
    match = re.search(r"Overall exposure level for \S+: ([\d.]+)", analysed.stdout + analysed.stderr)
    assert match, analysed.stdout + analysed.stderr
    return float(match.group(1))


@pytest.mark.slow
def test_install_into_a_root_verifies_and_serves_a_kiosk(tmp_path: Path):
    root, port, https_port = tmp_path / "root", free_port(), free_port()
    wheel = build_wheel(ROOT, tmp_path / "dist")
    installed = muontra("--lang", "en", "appliance", "install", "--root", str(root), "--role", "both",
                        "--wheel", str(wheel), "--base-venv", sys.prefix, "--port", str(port),
                        "--server-port", str(free_port()), "--camera", "browser", "--tablets",
                        "--https-port", str(https_port), timeout=300)
    try:
        assert installed.returncode == 0, installed.stderr + installed.stdout
        assert "is installed and running" in installed.stdout
        units = {p.name for p in (root / "etc/systemd/system").iterdir()}
        assert {"muontra-kiosk.service", "muontra-server.service", "muontra-screen.service",
                "muontra-backup.service", "muontra-backup.timer"} <= units
        verify_units(root)
        units_dir = root / "etc/systemd/system"
        for name in ("muontra-kiosk.service", "muontra-server.service", "muontra-backup.service"):
            assert exposure(units_dir / name) <= 4.0, name  # "OK" in systemd's words
        assert exposure(units_dir / "muontra-screen.service") <= 8.0  # Chromium keeps its GPU and sandbox

        data = root / "var/lib/muontra"
        for folder in (data, data / "kiosk", data / "server"):
            assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        assert (root / "opt/muontra/current").resolve() == root / "opt/muontra/venvs/0.1.0"
        health = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=10).json()
        assert health["ok"] and health["camera"]["mode"] == "browser"  # kiosk.env reached the service
        # Tablets: HTTPS with the school's own CA, which the kiosk made in its data directory.
        secure = requests.get(f"https://127.0.0.1:{https_port}/healthz", timeout=10,
                              verify=str(root / "var/lib/muontra/kiosk/tls/ca.crt"))
        assert secure.json()["ok"]

        # The kiosk that the unit's ExecStart started lends books from the installed venv.
        muontra_bin = root / "opt/muontra/current/bin/muontra"
        subprocess.run([str(muontra_bin), "demo", "--data", str(data / "kiosk")], check=True, capture_output=True,
                       timeout=300)
        lent = requests.post(f"http://127.0.0.1:{port}/api/checkout", json={"patron": "HS6A102", "item": "TN-00003"},
                             timeout=10)
        assert lent.status_code == 200, lent.text

        status = muontra("appliance", "status", "--root", str(root))
        assert status.returncode == 0 and json.loads(status.stdout)["version"] == "0.1.0"
        # The backup unit's command, run as the timer would.
        backup = muontra("backup", "--data", str(data / "kiosk"), "--no-push")
        assert backup.returncode == 0, backup.stderr
    finally:
        removed = muontra("--lang", "en", "appliance", "uninstall", "--root", str(root))
    assert removed.returncode == 0, removed.stderr
    assert "its data stays" in removed.stdout
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
    assert not (root / "opt/muontra").exists() and not list((root / "etc/systemd/system").iterdir())
    assert (data / "kiosk" / "muontra.sqlite3").exists()  # the loans stay


def test_the_kiosk_screen_cursor_theme_is_a_transparent_pixel(tmp_path: Path):
    """Loaded the way a compositor looks a cursor up ($XCURSOR_PATH, theme, name) by libXcursor."""
    from ctypes.util import find_library

    from kiosk.appliance.install import write_blank_cursor_theme

    if find_library("Xcursor") is None:
        pytest.skip("libXcursor (a dependency of chromium) is not installed")
    write_blank_cursor_theme(tmp_path / "muontra-none")
    probe = """
import ctypes, ctypes.util
lib = ctypes.CDLL(ctypes.util.find_library("Xcursor"))
class Image(ctypes.Structure):
    _fields_ = [(n, ctypes.c_uint) for n in ("version", "size", "width", "height", "xhot", "yhot", "delay")] + \\
               [("pixels", ctypes.POINTER(ctypes.c_uint32))]
lib.XcursorLibraryLoadImage.restype = ctypes.POINTER(Image)
for name in (b"left_ptr", b"text", b"pointer"):
    image = lib.XcursorLibraryLoadImage(name, b"muontra-none", 24)
    assert image, name
    print(name.decode(), image.contents.width, image.contents.height, image.contents.pixels[0])
"""
    shown = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60,
                           env={"XCURSOR_PATH": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.split("\n")[:3] == ["left_ptr 1 1 0", "text 1 1 0", "pointer 1 1 0"]
