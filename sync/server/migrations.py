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


def _copy_names(database: Database) -> None:
    # The physical book is a *copy* everywhere (issue 9): conflicts stored under the old kinds
    # keep their meaning under the new ones.
    for old, new in (("unknown_item", "unknown_copy"), ("unknown_item_returned", "unknown_copy_returned")):
        mark = database.param  # "?" on SQLite, "%s" on PostgreSQL
        database.execute_sql(f'UPDATE "conflict" SET kind = {mark} WHERE kind = {mark}', (new, old))


SERVER = Component("server", [("0001_initial", _server_v1), ("0002_copy_conflict_kinds", _copy_names)])
