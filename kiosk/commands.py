"""Every ``muontra`` sub-command defined outside kiosk/cli.py, one line each."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []

from .importer_cli import import_group  # noqa: E402

COMMANDS.append(import_group)
