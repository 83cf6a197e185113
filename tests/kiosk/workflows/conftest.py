"""Shared set-up for the workflow tests (kept out of conftest.py, which everyone edits)."""

from __future__ import annotations

from kiosk.services import Circulation
from kiosk.workflows.services import Workflows


def shelve(circ: Circulation, shelves: dict[str, tuple[str, str]]) -> None:
    """Put existing copies on shelves: {code: (location, shelf)}."""
    circ.record_facts([
        ("copy.move", {"item": code, "location": location, "shelf": shelf, "at": "2026-03-01T00:00:00",
                       "by": "librarian"})
        for code, (location, shelf) in shelves.items()
    ])


def workflows(circ: Circulation) -> Workflows:
    return Workflows(circ)
