"""Every ``muontra`` sub-command defined outside kiosk/cli.py, one line each."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []

from sync.cli import COMMANDS as SYNC_COMMANDS  # noqa: E402  (appended registry lines)

COMMANDS += SYNC_COMMANDS
