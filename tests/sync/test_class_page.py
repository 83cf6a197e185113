"""A homeroom teacher's link made on a kiosk opens the class page on the school server."""

from __future__ import annotations

from datetime import timedelta

from kiosk.reports import class_links
from tests.conftest import FakeClock, copy_fact, patron_fact
from tests.sync.conftest import KioskHandle, ServerHandle, utc

SCHOOL = [
    patron_fact("HS001", "Nguyễn Văn An", "6A1"),
    patron_fact("HS002", "Trần Thị Bình", "6A2"),
    copy_fact("TN-0001", "Dế Mèn phiêu lưu ký", author="Tô Hoài"),
    copy_fact("TN-0002", "Đất rừng phương Nam", author="Đoàn Giỏi"),
]


def test_class_link_made_on_a_kiosk_shows_only_that_class_on_the_server(tmp_path):
    clock = FakeClock(utc(2026, 3, 2, 2, 0))
    server = ServerHandle(tmp_path / "server", clock)
    server.facts(SCHOOL)
    kiosk = KioskHandle(tmp_path / "kiosk", clock)
    kiosk.pair(server, "desk")
    assert kiosk.sync().complete
    with kiosk.run():
        kiosk.circ.checkout("HS001", "TN-0001")
        kiosk.circ.checkout("HS002", "TN-0002")
        token = class_links.create_link(kiosk.circ, "6A1")
    assert kiosk.sync().complete

    clock.set(clock.moment + timedelta(days=30))  # both loans are overdue now
    with server.run():  # the models' database is the server's for these requests
        page = server.app.test_client().get(f"/class/{token}?lang=vi")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Nguyễn Văn An" in text and "Dế Mèn phiêu lưu ký" in text
    assert "Trần Thị Bình" not in text and "Đất rừng phương Nam" not in text
    assert "HS001" not in text  # never the students' card codes

    with kiosk.run():
        class_links.revoke_link(kiosk.circ, token)
    assert kiosk.sync().complete
    with server.run():
        gone = server.app.test_client().get(f"/class/{token}")
    assert gone.status_code == 404
    assert "Nguyễn Văn An" not in gone.get_data(as_text=True)
    server.database.close()
