"""Every user-facing message exists in Vietnamese, and the compiled catalog is current."""

import importlib.util

from tests.conftest import ROOT

spec = importlib.util.spec_from_file_location("i18n_tool", ROOT / "tools/i18n.py")
i18n_tool = importlib.util.module_from_spec(spec)
spec.loader.exec_module(i18n_tool)


def test_every_message_has_a_vietnamese_translation():
    assert i18n_tool.missing() == []


def test_compiled_catalog_matches_the_po_file():
    assert i18n_tool.MO.read_bytes() == i18n_tool.compiled_bytes(), "run: python tools/i18n.py compile"


def test_rule_messages_are_vietnamese_by_default():
    from kiosk.rules import CopyOnLoan

    error = CopyOnLoan()
    assert error.message_in("vi") != error.message_in("en")
    assert "mượn" in error.message_in()
