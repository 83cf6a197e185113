"""The README documents what the kiosk really offers: its API routes, refusal codes and commands."""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

from kiosk import errors, settings
from kiosk.cli import main

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def _all_errors() -> list[type[errors.MuontraError]]:
    """Every MuontraError subclass in every module of kiosk, sync and scanner."""
    for package in ("kiosk", "sync", "scanner"):
        for info in pkgutil.walk_packages(importlib.import_module(package).__path__, package + "."):
            if not info.name.endswith("__main__"):  # running it would run the CLI
                importlib.import_module(info.name)

    def below(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from below(sub)

    return list(below(errors.MuontraError))


def _is_family(error: type[errors.MuontraError]) -> bool:
    """A base class only grouping refusals (its own message is the generic one), never raised itself."""
    return error.message == errors.MuontraError.message and any(
        sub.code != error.code for sub in error.__subclasses__())


def test_every_kiosk_api_route_is_in_the_readme(app):
    routes = {rule.rule for rule in app.url_map.iter_rules()
              if rule.rule.startswith("/api/") or rule.rule == "/healthz"}
    assert routes, "the kiosk has an API"
    missing = sorted(route for route in routes if f"`{route}`" not in README and f" {route}`" not in README)
    assert missing == []


def test_every_refusal_code_is_in_the_readme():
    wanted = {error.code for error in _all_errors() if not _is_family(error)}
    assert {"copy_on_loan", "stocktake_finished", "clock_skew", "frame_not_jpeg", "bad_setting"} <= wanted
    missing = sorted(code for code in wanted if not re.search(rf"`{code}`", README))
    assert missing == []


def test_every_former_code_is_documented_as_an_alias():
    renamed = [error for error in _all_errors() if error.aliases]
    assert renamed, "some codes were renamed"
    missing = sorted(f"{error.code} <- {alias}" for error in renamed for alias in error.aliases
                     if not re.search(rf"`{error.code}`\s+←\s+`{alias}`", README))
    assert missing == []


def test_every_command_is_in_the_readme():
    names = main.list_commands(None)
    assert "kiosk" in names and "scan-image" in names
    missing = sorted(name for name in names if not re.search(rf"muontra [^`]*\b{re.escape(name)}\b", README))
    assert missing == []


def test_every_documented_screenshot_exists():
    """The docs' pictures are refreshed by `make screenshots`, not by the test run; none may go missing."""
    root = Path(__file__).resolve().parent.parent
    texts = [root / "README.md", *sorted((root / "docs").glob("*.md"))]
    named = {m for path in texts for m in re.findall(r"screenshots/([\w.-]+\.png)", path.read_text(encoding="utf-8"))}
    assert named, "the docs show the screens"
    missing = sorted(name for name in named if not (root / "docs" / "screenshots" / name).is_file())
    assert missing == []


def test_the_configuration_page_is_the_settings_registry():
    """docs/configuration.md is generated from kiosk/settings.py: `python -m kiosk.settings --write`."""
    assert settings.DOC.read_text(encoding="utf-8") == settings.markdown()
    assert "`MUONTRA_SYNC_MAX_BACKOFF`" in settings.markdown() and "`MASTER_KEY`" in settings.markdown()
