"""What the kiosk checks in every server reply before it believes it.

A reply cut inside its headers reaches the client as a 200 with an empty body; a
proxy or a half-written reply can give any other 2xx. A reply that lacks what the
protocol promises is *no answer*: nothing in it is acknowledged or applied, the
request is asked again, and a sync that still gets no usable answer ends with a
reason (``muontra sync`` exits 2) instead of a ``KeyError``.

One function per reply; each returns the reply unchanged or raises
:class:`BadReply` naming the first thing missing. Nothing here touches a
database, so the checks are cheap and testable on their own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .protocol import parse_cursor
from .schema import Invalid, check_pulled

OUTCOMES = ("applied", "applied_with_conflict", "rejected")
RECORD_OPS = ("upsert", "delete")


class BadReply(ValueError):
    """A 2xx reply that does not say what the protocol promises."""


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _need(condition: bool, reason: str) -> None:
    if not condition:
        raise BadReply(reason)


def check_object(reply: Any) -> dict[str, Any]:
    _need(isinstance(reply, dict) and bool(reply), "empty or not a JSON object")
    return reply


def check_push_reply(reply: Any, sent: Iterable[int]) -> dict[str, Any]:
    """``last_seq``, ``stopped`` and one result per processed event, each for an event we sent."""
    reply = check_object(reply)
    _need(_int(reply.get("last_seq")) and reply["last_seq"] >= 0, "push reply without last_seq")
    _need(reply.get("stopped") is None or isinstance(reply["stopped"], str), "push reply with a bad stopped")
    results = reply.get("results")
    _need(isinstance(results, list), "push reply without results")
    sent_seqs = set(sent)
    for result in results:
        _need(isinstance(result, dict) and _int(result.get("seq")) and result["seq"] in sent_seqs,
              "push result for an event not sent")
        _need(result.get("outcome") in OUTCOMES, "push result without an outcome")
        _need(isinstance(result.get("reason", ""), str), "push result with a bad reason")
        _need(isinstance(result.get("conflicts", []), list), "push result with bad conflicts")
    return reply


def check_record(record: Any) -> None:
    _need(isinstance(record, dict), "pulled record is not an object")
    _need(_int(record.get("seq")), "pulled record without seq")
    _need(isinstance(record.get("kind"), str) and isinstance(record.get("key"), str), "pulled record without key")
    _need(record.get("op") in RECORD_OPS, "pulled record without op")
    _need(isinstance(record.get("type"), str), "pulled record without type")
    _need(isinstance(record.get("payload"), dict), "pulled record without payload")


def check_records(records: Any, what: str = "pull") -> None:
    _need(isinstance(records, list), f"{what} reply without records")
    for record in records:
        check_record(record)


def check_pull_reply(reply: Any) -> dict[str, Any]:
    """A readable cursor, ``reset``/``more`` flags and well-formed records."""
    reply = check_object(reply)
    _need(isinstance(reply.get("cursor"), str) and parse_cursor(reply["cursor"]) is not None,
          "pull reply without a readable cursor")
    _need(isinstance(reply.get("reset"), bool) and isinstance(reply.get("more"), bool),
          "pull reply without reset/more")
    check_records(reply.get("records"))
    _need(_int(reply.get("conflicts_open", 0)), "pull reply with bad conflicts_open")
    _need(reply.get("total") is None or _int(reply["total"]), "pull reply with a bad total")
    return reply


def check_digest_reply(reply: Any, buckets: int) -> dict[str, Any]:
    """The server's change number, the buckets that differ, and the server's rows for some of them."""
    reply = check_object(reply)
    _need(_int(reply.get("change_seq")), "digest reply without change_seq")
    _need(isinstance(reply.get("moved"), bool), "digest reply without moved")
    for name in ("differs", "buckets"):
        numbers = reply.get(name)
        _need(isinstance(numbers, list) and all(_int(b) and 0 <= b < buckets for b in numbers),
              f"digest reply without {name}")
    _need(set(reply["buckets"]) <= set(reply["differs"]), "digest reply with rows of buckets that agree")
    check_records(reply.get("records"), "digest")
    shelved = reply.get("shelved")
    _need(isinstance(shelved, list) and all(isinstance(code, str) for code in shelved), "digest reply without shelved")
    return reply


def check_server_time(reply: Mapping[str, Any]) -> float:
    """The server's clock in a ``clock_skew`` refusal."""
    moment = reply.get("server_time")
    _need(isinstance(moment, int | float) and not isinstance(moment, bool), "refusal without server_time")
    return float(moment)


def split_records(records: Iterable[Mapping[str, Any]]) -> tuple[list[Mapping[str, Any]], list[dict[str, Any]]]:
    """The well-formed records of a reply, and what is wrong with each of the others.

    One record a kiosk cannot believe does not make the whole page unreadable (the sync would
    then stop on it forever): it is left out, named with its reason, and the rest apply.
    """
    usable, refused = [], []
    for record in records:
        try:
            check_pulled(record["kind"], record["key"], record["op"], record["type"], record["payload"])
        except Invalid as exc:
            refused.append({"kind": str(record["kind"])[:40], "key": str(record["key"])[:80],
                            "type": str(record["type"])[:40], "reason": exc.reason})
        else:
            usable.append(record)
    return usable, refused
