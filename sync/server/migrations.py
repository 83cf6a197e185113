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




def _roles_and_secrets(database: Database) -> None:
    """Device roles and re-pairing codes; the session signing key leaves the database.

    A device paired before roles existed becomes a self-check kiosk: the safe default (it can
    still lend, return, renew and scan); the librarian gives a desk its role on the devices page.
    The cookie key is derived from server.key from now on (store.session_key), so the row that
    held it goes: a copy of the database must not be enough to sign a librarian's cookie.
    """
    for table, column, sql in (("device", "role", "VARCHAR(16) NOT NULL DEFAULT 'kiosk'"),
                               ("pairing_code", "role", "VARCHAR(16) NOT NULL DEFAULT 'kiosk'"),
                               ("pairing_code", "device", "VARCHAR(255)")):
        # 0001 creates today's models, so a new database has the columns already.
        if column not in {info.name for info in database.get_columns(table)}:
            database.execute_sql(f"ALTER TABLE {table} ADD COLUMN {column} {sql}")
    database.execute_sql("DELETE FROM setting WHERE key = 'secret_key'")


SERVER = Component("server", [("0001_initial", _server_v1), ("0002_copy_conflict_kinds", _copy_names),
                              ("0003_roles_and_secrets", _roles_and_secrets)])
