"""`make dist`'s wheel carries everything a kiosk needs: installed alone, it serves pages and files."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import requests

from tests.conftest import ROOT, free_port, wait_for_http
from tests.kiosk.appliance.conftest import build_wheel, clean_env, venv_with_wheel

pytestmark = pytest.mark.slow

README = (ROOT / "README.md").read_text(encoding="utf-8")


def readme_checkout() -> dict:
    """The JSON of the README's example `curl …/api/checkout`."""
    match = re.search(r"curl -s localhost:5000/api/checkout .*?-d '(\{.*?\})'", README, re.S)
    assert match, "the README shows a checkout with curl"
    return json.loads(match.group(1))


def test_the_wheel_alone_runs_the_demo_kiosk(tmp_path: Path):
    wheel = build_wheel(ROOT, tmp_path / "dist")
    venv = venv_with_wheel(tmp_path / "venv", wheel)
    env = clean_env()
    where = subprocess.run([str(venv / "bin" / "python"), "-c", "import kiosk, static; print(kiosk.__file__)"],
                           capture_output=True, text=True, env=env, cwd=tmp_path, check=True).stdout
    assert where.startswith(str(venv)), where  # the wheel's code, not this checkout's

    data = tmp_path / "data"
    demo = subprocess.run([str(venv / "bin" / "muontra"), "--lang", "en", "demo", "--data", str(data)],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert demo.returncode == 0, demo.stderr
    assert (data / "demo-sheet.pdf").stat().st_size > 10_000  # reportlab found a font with diacritics

    port = free_port()
    kiosk = subprocess.Popen([str(venv / "bin" / "muontra"), "kiosk", "--data", str(data), "--port", str(port)],
                             env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for_http(url + "/healthz", timeout=60)
        page = requests.get(url + "/", timeout=10)
        assert page.status_code == 200 and "Mượn sách" in page.text  # template + Vietnamese catalog
        english = requests.get(url + "/?lang=en", timeout=10)
        assert "Borrow" in english.text
        stylesheets = re.findall(r'href="(/static/[^"]+\.css)"', page.text)
        assert stylesheets, "the page links its styles"
        for href in stylesheets:
            response = requests.get(url + href, timeout=10)
            assert response.status_code == 200 and len(response.content) > 100
        # The README's example checkout works on a fresh demo school.
        answer = requests.post(url + "/api/checkout", json=readme_checkout(), timeout=10)
        assert answer.status_code == 200, answer.text
    finally:
        kiosk.terminate()
        kiosk.wait(10)
