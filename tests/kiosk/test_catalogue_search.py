"""Tra cứu: the public catalogue search — Vietnamese-insensitive, where the copies are, never who."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk import catalogue
from tests.kiosk.test_api_hostile_input import assert_json_error


def search(client, text: str, lang: str = "vi"):
    return client.post("/api/search", json={"q": text, "lang": lang})


def test_without_accents_or_case_and_by_author_or_isbn(client, school):
    assert [r["title"] for r in search(client, "DE MEN").get_json()["results"]] == ["Dế Mèn phiêu lưu ký"]
    assert [r["title"] for r in search(client, "phung quan").get_json()["results"]] == ["Tuổi thơ dữ dội"]
    by_isbn = search(client, "978-604-0-00001-9").get_json()["results"]
    assert [r["title"] for r in by_isbn] == ["Từ điển Tiếng Việt"]
    assert search(client, "x").get_json()["results"] == []  # one letter finds everything: nothing


def test_where_the_copies_are_and_never_who_has_them(client, school):
    school.checkout("HS001", "TN-0001")
    school.record_facts([("catalog.upsert", {"item": "TN-0101", "title": "Dế Mèn phiêu lưu ký", "author": "Tô Hoài",
                                             "category": "TN", "isbn": None, "shelf": "A1"}),
                         ("copy.move", {"item": "TN-0101", "location": "lop-6A1", "shelf": "",
                                        "at": "2026-03-01T00:00:00"})])
    answer = search(client, "de men")
    (found,) = answer.get_json()["results"]
    assert found["available"] == 1
    assert [(p["where"], p["status"], p["count"]) for p in found["places"]] == [
        ("Thư viện lớp 6A1", "available", 1), ("Thư viện chính", "on_loan", 1)]
    assert found["places"][1]["due"]
    assert "HS001" not in answer.get_data(as_text=True) and "An" not in answer.get_data(as_text=True).split('"')


def test_a_lost_copy_is_not_somewhere_to_look(client, school):
    school.set_copy_status("TN-0002", "mark_lost")
    (found,) = search(client, "dat rung").get_json()["results"]
    assert found["places"] == [] and found["available"] == 0


def test_a_long_query_is_refused_politely(client, school):
    assert_json_error(search(client, "a" * (catalogue.MAX_QUERY + 1)), 400, "query_too_long")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=120))
def test_any_text_answers_results_or_a_4xx_never_a_5xx(client, school, text):
    answer = search(client, text)
    if answer.status_code == 200:
        assert isinstance(answer.get_json()["results"], list)
    else:
        assert_json_error(answer)
