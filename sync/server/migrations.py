"""The server's schema line. The server also runs the kiosk's line: it shares those tables."""

from __future__ import annotations

import secrets

from peewee import Database

from kiosk.migrations import Component


def _server_v1(database: Database) -> None:
    from .models import SERVER_MODELS, ServerState

    database.create_tables(SERVER_MODELS)
    with database.bind_ctx([ServerState]):
        ServerState.create(id=1, epoch=secrets.token_hex(6), change_seq=0)


SERVER = Component("server", [("0001_initial", _server_v1)])
