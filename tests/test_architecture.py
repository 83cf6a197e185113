"""The import-linter layers (pyproject.toml) place every module, so a new one cannot slip past them."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
# Packages whose __init__ holds no code of a layer of its own.
CONTAINERS = {"kiosk", "kiosk.reports", "kiosk.workflows", "kiosk.appliance", "sync", "sync.server"}


def _layered() -> set[str]:
    layers = next(c for c in CONFIG["contracts"] if c["id"] == "layers")["layers"]
    return {name.strip() for layer in layers for name in re.split(r"[:|]", layer)}


def test_every_kiosk_and_sync_module_is_in_a_layer():
    graph = grimp.build_graph("kiosk", "sync", "scanner")
    layered = _layered()
    ours = {m for m in graph.modules if m.split(".")[0] in ("kiosk", "sync")} - CONTAINERS
    assert "kiosk.services" in ours and "sync.server.apply" in ours
    unplaced = sorted(m for m in ours if not any(m == name or m.startswith(name + ".") for name in layered))
    assert unplaced == [], "add these to a layer in pyproject.toml [tool.importlinter] (docs/architecture.md)"


def test_the_layers_name_only_modules_that_exist():
    graph = grimp.build_graph("kiosk", "sync", "scanner")
    assert sorted(_layered() - set(graph.modules)) == []
