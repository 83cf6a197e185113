"""`muontra appliance upgrade`: an old kiosk upgrades straight to the latest; a broken one rolls back.

Three real wheels: an older commit's tree (two kiosk migrations: a kiosk that missed versions),
this tree, and this tree broken on purpose (a new migration, then a kiosk that crashes on start).
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import requests

from kiosk.migrations import KIOSK
from tests.conftest import ROOT, free_port, muontra
from tests.kiosk.appliance.conftest import build_wheel

pytestmark = pytest.mark.slow

OLD_COMMIT = "5ceccee^"  # before migration 0003_title_lookup


def _old_tree(where: Path) -> Path:
    archive = where / "old.tar"
    subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", "-o", str(archive), OLD_COMMIT], check=True,
                   timeout=120)
    tree = where / "old-tree"
    with tarfile.open(archive) as tar:
        tar.extractall(tree, filter="data")
    return tree


def _break(tree: Path) -> None:
    """A version that migrates the database, then cannot serve."""
    migrations = tree / "kiosk" / "migrations.py"
    migrations.write_text(migrations.read_text(encoding="utf-8").replace(
        '    ("0003_title_lookup", _title_lookup),\n',
        '    ("0003_title_lookup", _title_lookup),\n'
        '    ("0099_broken", lambda database: database.execute_sql("CREATE TABLE broken_marker (x INTEGER)")),\n'),
        encoding="utf-8")
    app = tree / "kiosk" / "app.py"
    app.write_text(app.read_text(encoding="utf-8").replace(
        "    app = Flask(__name__, static_folder=STATIC_DIR",
        '    raise RuntimeError("a deliberately broken release")\n    app = Flask(__name__, static_folder=STATIC_DIR'),
        encoding="utf-8")
    assert "deliberately broken" in app.read_text(encoding="utf-8") and "0099_broken" in migrations.read_text()


def _lend(url: str, patron: str, item: str) -> int:
    return requests.post(url + "/api/checkout", json={"patron": patron, "item": item}, timeout=30).status_code


def test_upgrade_across_versions_and_roll_back_a_broken_one(tmp_path: Path):
    dist = tmp_path / "dist"
    old = build_wheel(_old_tree(tmp_path), dist, version="0.0.9")
    new = build_wheel(ROOT, dist, version="0.2.0")
    broken = build_wheel(ROOT, dist, version="0.3.0", edit=_break)
    root, port = tmp_path / "root", free_port()
    url = f"http://127.0.0.1:{port}"
    installed = muontra("appliance", "install", "--root", str(root), "--role", "kiosk", "--no-screen",
                        "--wheel", str(old), "--base-venv", sys.prefix, "--port", str(port), timeout=300)
    try:
        assert installed.returncode == 0, installed.stderr
        assert requests.get(url + "/healthz", timeout=10).json()["schema"] == 2
        data = root / "var/lib/muontra/kiosk"
        subprocess.run([str(root / "opt/muontra/current/bin/muontra"), "demo", "--data", str(data)], check=True,
                       capture_output=True, timeout=300)
        assert _lend(url, "HS6A102", "TN-00002") == 200

        upgraded = muontra("--lang", "en", "appliance", "upgrade", str(new), "--root", str(root), timeout=300)
        assert upgraded.returncode == 0, upgraded.stderr
        assert "Upgraded from 0.0.9 to 0.2.0" in upgraded.stdout
        health = requests.get(url + "/healthz", timeout=10).json()
        assert health["schema"] == KIOSK.latest  # every migration the old kiosk lacked, at once
        assert _lend(url, "HS6A102", "TN-00002") == 409  # the loan lent before the upgrade is still there
        assert _lend(url, "HS6A103", "TN-00003") == 200  # lent on the new version, before the broken upgrade
        assert (root / "opt/muontra/current").resolve().name == "0.2.0"

        failed = muontra("--lang", "en", "appliance", "upgrade", str(broken), "--root", str(root), "--timeout", "20",
                         timeout=300)
        assert failed.returncode == 1
        assert "Version 0.3.0 did not come up" in failed.stderr and "0.2.0" in failed.stderr
        assert (root / "opt/muontra/current").resolve().name == "0.2.0"
        assert sorted(p.name for p in (root / "opt/muontra/venvs").iterdir()) == ["0.0.9", "0.2.0"]
        # 0.2.0 runs again on the database from before the broken migration (else it would refuse it).
        assert requests.get(url + "/healthz", timeout=10).json()["schema"] == KIOSK.latest
        assert _lend(url, "HS6A103", "TN-00003") == 409
        assert _lend(url, "HS6A104", "TN-00004") == 200

        again = muontra("--lang", "en", "appliance", "upgrade", str(new), "--root", str(root), timeout=120)
        assert again.returncode == 1 and "not newer" in again.stderr
    finally:
        muontra("appliance", "uninstall", "--root", str(root))
