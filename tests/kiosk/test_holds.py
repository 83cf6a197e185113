"""Holds at the kiosk and the librarian's desk, on a real SQLite file through the HTTP API."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.models import Event, Hold
from tests.kiosk.test_pages_admin import login, post

ALL_OUT = [("HS001", "TN-0001")]  # Dế Mèn has one copy: lent, it can be reserved


def lend(client, patron, item):
    reply = client.post("/api/checkout", json={"patron": patron, "item": item})
    assert reply.status_code == 200, reply.get_json()


def place(client, patron, item):
    return client.post("/api/hold", json={"patron": patron, "item": item})


def test_a_reserved_book_waits_for_its_reader_and_only_for_them(school, client, clock):
    lend(client, "HS001", "TN-0001")
    reply = place(client, "HS002", "TN-0001")
    assert reply.status_code == 200
    hold = reply.get_json()["hold"]
    assert hold["state"] == "waiting" and hold["position"] == 1 and "patron_name" not in hold
    assert [e.type for e in Event.select().order_by(Event.seq)][-1] == "hold.place"

    back = client.post("/api/checkin", json={"item": "TN-0001", "lang": "vi"}).get_json()["checkin"]
    assert back["hold_shelf"] is True and "đặt trước" in back["hold_message"]
    assert "Bình" not in str(back)  # the return screen never says for whom

    refused = client.post("/api/checkout", json={"patron": "HS001", "item": "TN-0001"})
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "copy_on_hold"
    mine = client.post("/api/holds", json={"patron": "HS002"}).get_json()["holds"]
    assert mine[0]["state"] == "ready" and mine[0]["copy"] == "TN-0001"
    lend(client, "HS002", "TN-0001")  # the reader it waited for takes it: the hold is collected
    assert client.post("/api/holds", json={"patron": "HS002"}).get_json()["holds"] == []


def test_a_book_on_the_shelf_is_borrowed_not_reserved_and_twice_is_refused(school, client):
    reply = place(client, "HS002", "TN-0002")
    assert reply.status_code == 409 and reply.get_json()["error"]["code"] == "hold_not_needed"
    lend(client, "HS001", "TN-0002")
    assert place(client, "HS002", "TN-0002").status_code == 200
    again = place(client, "HS002", "TN-0002")
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "already_reserved"
    assert place(client, "HS003", "TN-0002").status_code == 403  # inactive card
    assert place(client, "NOBODY", "TN-0002").status_code == 404
    assert place(client, "HS001", "NOTHING").status_code == 404
    assert Hold.select().count() == 1


def test_an_uncollected_book_passes_to_the_next_reader(school, client, clock):
    lend(client, "HS001", "TN-0001")
    first = place(client, "HS002", "TN-0001").get_json()["hold"]
    clock.moment += timedelta(minutes=5)
    second = place(client, "GV001", "TN-0001").get_json()["hold"]
    client.post("/api/checkin", json={"item": "TN-0001"})
    clock.moment += timedelta(days=4)  # three days on the shelf, not collected
    theirs = client.post("/api/holds", json={"patron": "GV001"}).get_json()["holds"]
    assert [(h["uuid"], h["state"]) for h in theirs] == [(second["uuid"], "ready")]
    assert client.post("/api/holds", json={"patron": "HS002"}).get_json()["holds"][0]["state"] == "expired"
    assert first["uuid"] != second["uuid"]


def test_a_reader_cancels_only_their_own_hold(school, client):
    lend(client, "HS001", "TN-0001")
    hold = place(client, "HS002", "TN-0001").get_json()["hold"]
    other = client.post("/api/hold/cancel", json={"patron": "GV001", "hold": hold["uuid"]})
    assert other.status_code == 404
    assert client.post("/api/hold/cancel", json={"patron": "HS002", "hold": hold["uuid"]}).status_code == 200
    assert Hold.get(Hold.uuid == hold["uuid"]).cancelled_at is not None
    assert client.post("/api/holds", json={"patron": "HS002"}).get_json()["holds"] == []


def test_the_librarian_reserves_lists_and_cancels(school, client):
    lend(client, "HS001", "TN-0001")
    login(client)
    reply = post(client, "/admin/holds/", {"patron": "HS002", "item": "TN-0001"}, form_page="/admin/holds/")
    assert reply.status_code == 302
    page = client.get("/admin/holds/?lang=vi").get_data(as_text=True)
    assert "Trần Thị Bình" in page and "Dế Mèn phiêu lưu ký" in page
    bad = post(client, "/admin/holds/", {"patron": "HS002", "item": "TN-0002"}, form_page="/admin/holds/")
    assert bad.status_code == 409
    hold = Hold.get()
    post(client, f"/admin/holds/{hold.uuid}/cancel", {}, form_page="/admin/holds/")
    assert Hold.get().cancelled_at is not None


def test_the_holds_pages_need_the_librarian(client):
    assert client.get("/admin/holds/").status_code == 302


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(["/api/hold", "/api/holds", "/api/hold/cancel"]),
       body=st.one_of(st.dictionaries(st.sampled_from(["patron", "item", "hold", "lang"]),
                                      st.one_of(st.text(max_size=80), st.integers(), st.none()), max_size=4),
                      st.text(max_size=20), st.lists(st.integers(), max_size=2)))
def test_any_body_is_answered_without_a_server_error(school, client, path, body):
    assert client.post(path, json=body).status_code < 500
