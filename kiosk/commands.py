"""Every ``muontra`` sub-command defined outside kiosk/cli.py: its name and where it lives.

Commands are imported only when they run (or when ``--help`` lists them), so a kiosk
process doesn't pay for OpenCV, reportlab or matplotlib it never uses, and a command
module can import ``kiosk.cli`` without a cycle.
"""

from __future__ import annotations

COMMANDS: dict[str, str] = {
    "report": "kiosk.reports.cli:report",
    "labels": "kiosk.reports.cli:labels_command",
    "cards": "kiosk.reports.cli:cards_command",
    "import": "kiosk.importer_cli:import_group",
    "export": "kiosk.exporter_cli:export_command",
    "demo": "kiosk.demo_cli:demo_command",
    "rotation": "kiosk.workflows.cli:rotation",
    "stocktake": "kiosk.workflows.cli:stocktake",
    "intake": "kiosk.workflows.cli:intake",
    "server": "sync.cli:server",
    "pair": "sync.cli:pair",
    "sync": "sync.cli:sync",
    "scan-image": "scanner.cli:scan_image",
    "scan-camera": "scanner.cli:scan_camera",
    "backup": "kiosk.backup_cli:backup_command",
    "restore": "kiosk.backup_cli:restore_command",
    "appliance": "kiosk.appliance.cli:appliance",
}
