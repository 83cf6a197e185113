"""`make run` reinstalls only when pyproject.toml changed: a kiosk with no internet starts."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tests.conftest import ROOT


def dry_run(tree: Path, target: str) -> str:
    done = subprocess.run(["make", "-n", "--no-print-directory", "-C", str(tree), target], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_run_needs_pip_only_after_pyproject_changes(tmp_path: Path):
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy(ROOT / name, tmp_path / name)
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / ".venv" / "bin" / "python").touch()

    first = dry_run(tmp_path, "run")
    assert "pip install" in first and "-e ." in first  # never installed: pip runs once

    (tmp_path / ".venv" / ".muontra-installed").touch()
    os.utime(tmp_path / "pyproject.toml", (1, 1))
    again = dry_run(tmp_path, "run")
    assert "bin/pip" not in again  # installed and nothing changed: no network, nothing from pip
    assert "muontra kiosk" in again

    os.utime(tmp_path / "pyproject.toml", None)  # a new version's pyproject.toml
    assert "pip install" in dry_run(tmp_path, "run")


def test_system_packages_come_without_recommends():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    installs = [line for line in makefile.splitlines() if "apt-get install" in line]
    assert installs and all("--no-install-recommends" in line for line in installs)
