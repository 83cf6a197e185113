"""Anti-entropy: a digest of what a kiosk and the server must agree on, by buckets of codes.

What must agree once a kiosk has sent everything and pulled everything: each copy's
status and its open loan (uuid, reader, due date, renewals), and each reader's card
(name, class, kind, active). Every copy and card falls into one of ``BUCKETS``
buckets by a hash of its code (a range of hashed ids, as in Cassandra's or
Dynamo's Merkle trees), and a bucket's digest is a hash of its sorted leaves. The
kiosk sends its bucket digests with its cursor; the server answers with the
buckets that differ and its own rows for them, and the kiosk makes those rows
its own (``kiosk_state.repair``), logging every change.

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


def _day(value: date | str | None) -> str:
    return value.isoformat() if isinstance(value, date) else str(value or "")


def copy_leaves(codes: Iterable[str] | None = None) -> dict[str, str]:
    """Each copy's leaf: ``code|status|open loans``; only ``codes`` when given."""
    copies = Copy.select(Copy.id, Copy.code, Copy.status)
    loans = (Loan.select(Loan.copy, Loan.uuid, Patron.code, Loan.due, Loan.renewals)
             .join(Patron).where(Loan.returned_at.is_null()))
    if codes is not None:
        wanted = list(codes)
        copies = copies.where(Copy.code.in_(wanted))
        loans = loans.where(Loan.copy.in_(Copy.select(Copy.id).where(Copy.code.in_(wanted))))
    open_loans: dict[int, list[str]] = {}
    for copy_id, uuid, patron, due, renewals in loans.tuples().iterator():
        open_loans.setdefault(copy_id, []).append(f"{uuid}:{patron}:{_day(due)}:{renewals}")
    return {code: f"c|{code}|{status}|{','.join(sorted(open_loans.get(copy_id, ())))}"
            for copy_id, code, status in copies.tuples().iterator()}


def patron_leaves(codes: Iterable[str] | None = None) -> dict[str, str]:
    query = Patron.select(Patron.code, Patron.name, Patron.class_name, Patron.kind, Patron.active)
    if codes is not None:
        query = query.where(Patron.code.in_(list(codes)))
    return {code: f"p|{code}|{name}|{class_name}|{kind}|{int(bool(active))}"
            for code, name, class_name, kind, active in query.tuples().iterator()}


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
    """The copy codes and the card codes that fall in ``buckets``."""
    wanted = set(buckets)
    copies = [code for (code,) in Copy.select(Copy.code).tuples().iterator() if bucket_of(code) in wanted]
    patrons = [code for (code,) in Patron.select(Patron.code).tuples().iterator() if bucket_of(code) in wanted]
    return copies, patrons
