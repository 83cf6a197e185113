"""Anti-entropy: a digest of what a kiosk and the server must agree on, by buckets of codes.

What must agree once a kiosk has sent everything and pulled everything: which copies
are out of circulation or on loan (their status and their open loan: uuid, reader,
due date, renewals), and each reader's card (name, class, kind, active). Every copy
and card falls into one of ``BUCKETS`` buckets by a hash of its code (ranges of
hashed ids, as in Dynamo's and Cassandra's Merkle trees), and a bucket's digest is
a hash of its sorted leaves. The kiosk sends its bucket digests with its cursor; the
server answers with the buckets that differ and its own rows for them, and the
kiosk makes those rows its own (``kiosk_state.repair``), logging every change.

The digest is *sparse*: a copy on the shelf (``available``, no open loan) has no
leaf, so a school of 50,000 copies with a few thousand out hashes a few thousand
rows, not 50,000. A copy out on one side and on the shelf on the other still makes
its bucket differ; a copy missing from one side's catalogue altogether does not
(the change log's business, not circulation's).

Both sides run this module on the same models (the server stores kiosk tables), so
a leaf is the same text on both when the data is the same. Nothing here writes.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterable, Sequence
from datetime import date

from kiosk.models import Copy, Loan, Patron

BUCKETS = 256
BUCKETS_PER_REPLY = 16  # the server's rows of at most this many differing buckets per answer


def bucket_of(code: str) -> int:
    return zlib.crc32(code.encode()) % BUCKETS


def _rows(query) -> list[tuple]:
    """The query's raw rows: peewee's per-value conversion would cost more than the hashing."""
    return query.model._meta.database.execute_sql(*query.sql()).fetchall()


def _day(value: date | str | None) -> str:
    return value.isoformat() if isinstance(value, date) else str(value or "")


def _out_of_circulation():
    """Copies with a leaf: not on the shelf, or with an open loan (normally both)."""
    lent = Loan.open_loans(Loan.copy)
    return (Copy.status != "available") | Copy.id.in_(lent)


def copy_leaves(codes: Iterable[str] | None = None) -> dict[str, str]:
    """Each copy's leaf, ``code|status|open loans``: every copy off the shelf, or ``codes`` whatever
    their state (a repair compares a copy before and after)."""
    copies = Copy.select(Copy.id, Copy.code, Copy.status)
    loans = (Loan.select(Loan.copy, Loan.uuid, Patron.code, Loan.due, Loan.renewals)
             .join(Patron).where(Loan.is_open()))
    if codes is None:
        copies = copies.where(_out_of_circulation())
    else:
        wanted = list(codes)
        copies = copies.where(Copy.code.in_(wanted))
        loans = loans.where(Loan.copy.in_(Copy.select(Copy.id).where(Copy.code.in_(wanted))))
    open_loans: dict[int, list[str]] = {}
    for copy_id, uuid, patron, due, renewals in _rows(loans):
        open_loans.setdefault(copy_id, []).append(f"{uuid}:{patron}:{_day(due)}:{renewals}")
    return {code: f"c|{code}|{status}|{','.join(sorted(open_loans.get(copy_id, ())))}"
            for copy_id, code, status in _rows(copies)}


def patron_leaves(codes: Iterable[str] | None = None) -> dict[str, str]:
    query = Patron.select(Patron.code, Patron.name, Patron.class_name, Patron.kind, Patron.active)
    if codes is not None:
        query = query.where(Patron.code.in_(list(codes)))
    return {code: f"p|{code}|{name}|{class_name}|{kind}|{int(bool(active))}"
            for code, name, class_name, kind, active in _rows(query)}


def bucket_digests() -> list[str]:
    """The digest of every bucket (16 hex digits each), from this database's current rows."""
    leaves: list[list[str]] = [[] for _ in range(BUCKETS)]
    for table in (copy_leaves(), patron_leaves()):
        for code, leaf in table.items():
            leaves[bucket_of(code)].append(leaf)
    return [hashlib.blake2b("\n".join(sorted(bucket)).encode(), digest_size=8).hexdigest() for bucket in leaves]


def differing(mine: Sequence[str], theirs: Sequence[str]) -> list[int]:
    return [number for number, (a, b) in enumerate(zip(mine, theirs, strict=True)) if a != b]


def codes_in(buckets: Iterable[int]) -> tuple[list[str], list[str]]:
    """The copies with a leaf (off the shelf) and the cards that fall in ``buckets``."""
    wanted = set(buckets)
    if not wanted:  # nothing differs: the usual answer, and it must stay cheap
        return [], []
    copies = [code for (code,) in _rows(Copy.select(Copy.code).where(_out_of_circulation()))
              if bucket_of(code) in wanted]
    patrons = [code for (code,) in _rows(Patron.select(Patron.code)) if bucket_of(code) in wanted]
    return copies, patrons


def shelved_in(buckets: Iterable[int]) -> list[str]:
    """The copies in ``buckets`` that have no leaf: on the shelf (read only when buckets differ)."""
    wanted = set(buckets)
    if not wanted:
        return []
    return [code for (code,) in _rows(Copy.select(Copy.code).where(~_out_of_circulation()))
            if bucket_of(code) in wanted]
