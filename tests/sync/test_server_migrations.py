"""The server's schema line carries stored data across renames."""

from __future__ import annotations

from datetime import datetime

from kiosk.db import connect, db
from kiosk.migrations import KIOSK, migrate
from sync.server import migrations
from sync.server.models import Conflict


def test_conflicts_stored_under_the_item_kinds_read_as_copy_kinds(tmp_path):
    """A server that recorded `unknown_item` conflicts before the copy rename keeps them, renamed."""
    database = connect(tmp_path / "server.sqlite3")
    db.initialize(database)
    before = migrations.Component("server", migrations.SERVER.migrations[:1])
    migrate(database, KIOSK)
    migrate(database, before)
    for kind in ("unknown_item", "unknown_item_returned", "double_checkout"):
        Conflict.create(kind=kind, item="TN-0001", received_at=datetime(2026, 3, 2))

    migrate(database, migrations.SERVER)

    assert sorted(c.kind for c in Conflict.select()) == ["double_checkout", "unknown_copy", "unknown_copy_returned"]
    database.close()
