"""Every ``muontra`` sub-command defined outside kiosk/cli.py, one line each."""

from __future__ import annotations

import click

from scanner import cli as scanner_cli
from sync import cli as sync_cli

from .demo_cli import demo_command
from .importer_cli import import_group
from .reports import cli as reports_cli
from .workflows import cli as workflows_cli

COMMANDS: list[click.Command] = []
COMMANDS.append(reports_cli.report)
COMMANDS.append(reports_cli.labels_command)
COMMANDS.append(reports_cli.cards_command)
COMMANDS.append(import_group)
COMMANDS.append(demo_command)
COMMANDS.append(workflows_cli.rotation)
COMMANDS.append(workflows_cli.stocktake)
COMMANDS.append(workflows_cli.intake)
COMMANDS.extend(sync_cli.COMMANDS)
COMMANDS.append(scanner_cli.scan_image)
COMMANDS.append(scanner_cli.scan_camera)
