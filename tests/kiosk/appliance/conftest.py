"""Helpers for the appliance tests: real wheels built from a source tree, venvs made from them."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Callable
from pathlib import Path


def build_wheel(tree: Path, out: Path, version: str | None = None,
                edit: Callable[[Path], None] | None = None) -> Path:
    """``make dist``'s wheel of ``tree`` in ``out``, optionally with another version and ``edit``ed.

    Built from a copy, so the checkout never gets build/, *.egg-info or another version number.
    """
    out.mkdir(parents=True, exist_ok=True)
    work = out / f"src-{version or 'current'}"
    shutil.copytree(tree, work, ignore=shutil.ignore_patterns(
        ".venv", ".git", "build", "dist", "data", "*.egg-info", "__pycache__", "test-artifacts",
        ".hypothesis", ".pytest_cache", "tests", "bench", "docs"))
    if version is not None:
        pyproject = work / "pyproject.toml"
        text = pyproject.read_text(encoding="utf-8")
        pyproject.write_text(re.sub(r'(?m)^version = "[^"]+"', f'version = "{version}"', text), encoding="utf-8")
    if edit is not None:
        edit(work)
    before = set(out.glob("*.whl"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(out),
                    str(work)], check=True, capture_output=True, env={**os.environ, "PYTHONWARNINGS": "ignore"},
                   timeout=300)
    shutil.rmtree(work)
    (wheel,) = set(out.glob("*.whl")) - before
    return wheel


def site_packages() -> str:
    """This test venv's site-packages: the dependencies a fresh venv borrows instead of downloading."""
    return sysconfig.get_paths()["purelib"]


def clean_env(**extra: str) -> dict[str, str]:
    """An environment in which only what is installed in a venv can be imported (no checkout)."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("PYTHON", "MUONTRA_", "VIRTUAL_ENV"))}
    env.update(extra)
    return env


def venv_with_wheel(path: Path, wheel: Path) -> Path:
    """A new venv with ``wheel`` installed; its dependencies are borrowed from this test venv
    (a .pth line: no download, and this checkout itself is not importable there)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True, timeout=120)
    purelib = Path(subprocess.run([str(path / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                  check=True, capture_output=True, text=True).stdout.strip())
    (purelib / "borrowed-dependencies.pth").write_text(site_packages() + "\n", encoding="utf-8")
    subprocess.run([str(path / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
                   check=True, capture_output=True, env=clean_env(), cwd=path, timeout=300)
    return path
