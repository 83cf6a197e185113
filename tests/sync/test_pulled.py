"""What a kiosk pulls is checked before it is applied, as what a server is pushed is.

A wrong or hostile server (or anything answering in its place) must not set a kiosk's own
settings, smuggle one kind of record in as another, or stop the rest of a page from applying.
And every record a real server publishes must pass the same checks, or kiosks would refuse
their own school's data.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.ledger import get_setting
from kiosk.models import Patron
from sync import kiosk_state, schema
from sync.messages import split_records
from sync.server.changes import PUBLISHERS
from sync.server.models import Change
from tests.conftest import copy_fact, patron_fact
from tests.sync.conftest import school_with_kiosks

SCHOOL = [
    patron_fact("HS001", "Nguyễn Văn An"),
    patron_fact("GV001", "Phạm Thu Hà", class_name="", kind="teacher", gender="female"),
    copy_fact("TN-0001", "Dế Mèn phiêu lưu ký", author="Tô Hoài", isbn="9786042000000"),
    copy_fact("TN-0002", "Đất rừng phương Nam", author="Đoàn Giỏi"),
]


class Hostile:
    """The real server behind the transport, with records of the attacker's added to each pull page."""

    def __init__(self, inner, extra: list[dict[str, Any]]) -> None:
        self.inner, self.extra = inner, extra

    def post(self, path: str, body: bytes, headers: Mapping[str, str]) -> tuple[int, dict[str, Any]]:
        status, reply = self.inner.post(path, body, headers)
        if path == "/sync/pull" and status == 200:
            top = max((record["seq"] for record in reply["records"]), default=0)
            reply["records"] = reply["records"] + [dict(record, seq=top + n) for n, record in
                                                   enumerate(self.extra, start=1)]
        return status, reply


def _record(kind: str, key: str, record_type: str, payload: dict[str, Any], op: str = "upsert") -> dict[str, Any]:
    return {"seq": 0, "kind": kind, "key": key, "op": op, "type": record_type, "payload": payload}


ATTACK = [
    # The kiosk's own PIN, through the one kind that carries settings.
    _record("setting", "admin_pin_hash", "setting.set", {"key": "admin_pin_hash", "value": "pbkdf2:known"}),
    # A setting dressed up as a reader's card.
    _record("patron", "HS001", "setting.set", {"key": "admin_pin_hash", "value": "pbkdf2:known"}),
    # A card under another card's key: the record would overwrite HS001 while the log says HS009.
    _record("patron", "HS009", "patron.upsert", {"code": "HS001", "name": "Kẻ mạo danh", "active": False}),
    # A shared setting with a value that means nothing.
    _record("setting", "closed_weekdays", "setting.set", {"key": "closed_weekdays", "value": [0, 1, 2, 3, 4, 5, 6]}),
    # A book with a 20,000-character title.
    _record("copy", "TN-0009", "catalog.upsert", {"item": "TN-0009", "title": "x" * 20_000, "location": "main"}),
]


def test_a_hostile_server_cannot_set_a_kiosks_pin_or_pass_one_kind_off_as_another(tmp_path):
    with school_with_kiosks(tmp_path, SCHOOL, names=("corner",)) as (_clock, server, kiosk):
        with kiosk.run():
            pin_before = get_setting("admin_pin_hash")
        server.facts([patron_fact("HS002", "Trần Thị Bình")])  # a real change in the same page
        kiosk.client.transport = Hostile(server.transport, ATTACK)
        summary = kiosk.sync()
        assert summary.complete, summary
        assert summary.refused == len(ATTACK)
        with kiosk.run():
            assert get_setting("admin_pin_hash") == pin_before
            assert get_setting("closed_weekdays") != ATTACK[3]["payload"]["value"]
            hs001 = Patron.get(Patron.code == "HS001")
            assert (hs001.name, hs001.active) == ("Nguyễn Văn An", True)
            assert Patron.get_or_none(Patron.code == "HS002") is not None, "the page's good record applied"
            shown = kiosk_state.status(kiosk.device)["recent_refused"]
        assert [(entry["kind"], entry["key"]) for entry in shown] == [(r["kind"], r["key"]) for r in ATTACK]
        assert all(entry["reason"] for entry in shown)


def test_every_record_a_real_server_publishes_passes_the_kiosks_checks(tmp_path):
    with school_with_kiosks(tmp_path, SCHOOL, names=("corner",)) as (_clock, server, kiosk):
        with kiosk.run():
            kiosk.circ.checkout("HS001", "TN-0001")
            kiosk.circ.checkout("GV001", "TN-0002")
            kiosk.circ.checkin("TN-0001")
        assert kiosk.sync().complete
        with server.run():
            records = [{"seq": row.seq, "kind": row.kind, "key": row.key, "op": row.op, "type": row.type,
                        "payload": row.payload} for row in Change.select()]
        usable, refused = split_records(records)
        assert refused == [] and len(usable) == len(records) > 5
        assert {record["kind"] for record in records} >= {"patron", "copy", "loan"}


def test_a_teachers_gender_from_the_import_syncs_like_the_rest_of_the_card(tmp_path):
    """The desk's import sets how the kiosk addresses a teacher (thầy / cô); the server refused
    the whole card for that one field, so no other kiosk ever got the teacher."""
    with school_with_kiosks(tmp_path, [], names=("desk", "corner")) as (_clock, _server, desk, corner):
        with desk.run():
            desk.circ.record_facts([SCHOOL[1]])
        assert desk.sync().complete and desk.sync().conflicts == 0
        assert corner.sync().complete
        with corner.run():
            teacher = Patron.get(Patron.code == "GV001")
        assert (teacher.kind, teacher.gender) == ("teacher", "female")


def test_the_kiosks_kinds_are_the_servers_kinds():
    assert {kind: publisher[0] for kind, publisher in PUBLISHERS.items()} == \
        {kind: pulled[0] for kind, pulled in schema.PULLED.items()}


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=30),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                                         max_size=4), max_leaves=12)
kinds = st.sampled_from([*schema.PULLED, "novel"]) | st.text(max_size=10)
types = st.sampled_from([pulled[0] for pulled in schema.PULLED.values()]) | st.text(max_size=12)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=kinds, key=json_values, op=st.sampled_from(["upsert", "delete"]), record_type=types,
       payload=json_values | st.dictionaries(st.sampled_from(["key", "code", "item", "loan", "title", "value",
                                                              "batch", "session", "hold"]), json_values))
def test_any_record_is_refused_with_a_reason_or_usable_never_an_exception(kind, key, op, record_type, payload):
    record = {"seq": 1, "kind": kind, "key": key, "op": op, "type": record_type, "payload": payload}
    usable, refused = split_records([record])
    assert len(usable) + len(refused) == 1
    if refused:
        assert refused[0]["reason"]
    elif kind in schema.PULLED and op == "upsert":
        assert record_type == schema.PULLED[kind][0] and isinstance(payload, dict)
        if kind == "setting":
            assert payload["key"] in schema.SHARED_SETTINGS


def test_a_year_end_cleared_at_the_desk_is_cleared_on_every_kiosk(tmp_path):
    """Unsetting a shared setting reaches the kiosks as a tombstone; it used to crash the desk
    (a NULL setting) and, had it not, would have left the old year end on every other kiosk."""
    with school_with_kiosks(tmp_path, SCHOOL, names=("desk", "corner")) as (_clock, _server, desk, corner):
        with desk.run():
            desk.circ.set_calendar([6], [], [], date(2026, 5, 31))
        assert desk.sync().complete and corner.sync().complete
        with corner.run():
            assert get_setting("year_end") == "2026-05-31"
            pin = get_setting("admin_pin_hash")
        with desk.run():
            desk.circ.set_calendar([6], [], [], None)
        assert desk.sync().complete and corner.sync().complete
        with corner.run():
            assert get_setting("year_end") is None
            assert get_setting("admin_pin_hash") == pin
