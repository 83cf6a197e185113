"""The README documents what the kiosk really offers: its API routes, refusal codes and commands."""

from __future__ import annotations

import re
from pathlib import Path

from kiosk import codes, errors, rules, throttle, webkit
from kiosk.cli import main
from kiosk.workflows import rules as workflow_rules

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def _codes_of(module) -> set[str]:
    return {
        value.code for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, errors.MuontraError)
        and value.code not in ("error", "circulation", "bad_input", "bad_transition", "workflow")
    }


def test_every_kiosk_api_route_is_in_the_readme(app):
    routes = {rule.rule for rule in app.url_map.iter_rules()
              if rule.rule.startswith("/api/") or rule.rule == "/healthz"}
    assert routes, "the kiosk has an API"
    missing = sorted(route for route in routes if f"`{route}`" not in README and f" {route}`" not in README)
    assert missing == []


def test_every_refusal_code_is_in_the_readme():
    wanted = (_codes_of(rules) | _codes_of(codes) | _codes_of(errors) | _codes_of(workflow_rules)
              | _codes_of(webkit) | _codes_of(throttle))
    assert "item_on_loan" in wanted and "stocktake_finished" in wanted
    missing = sorted(code for code in wanted if not re.search(rf"`{code}`", README))
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
