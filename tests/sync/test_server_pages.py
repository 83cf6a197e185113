"""The librarian's pages on the server: PIN login with lock-out, devices, conflicts, loans."""

from __future__ import annotations

import re

from sync.server.models import Conflict, Device
from tests.conftest import FakeClock, copy_fact, patron_fact
from tests.sync.conftest import KioskHandle, ServerHandle, csrf_token, utc


def test_pages_need_the_pin_and_show_devices_conflicts_and_loans(tmp_path):
    clock = FakeClock(utc(2026, 3, 2, 2, 0))
    server = ServerHandle(tmp_path / "server", clock)
    server.app.config["TESTING"] = False  # real CSRF checks
    server.facts([patron_fact("HS001", "Nguyễn Văn An"), patron_fact("HS002", "Trần Thị Bình"),
                  copy_fact("TN-0001", "Dế Mèn phiêu lưu ký")])
    kiosks = []
    for name in ("Bàn thủ thư", "Lớp 6A1"):
        kiosk = KioskHandle(tmp_path / name, clock)
        kiosk.pair(server, name)
        kiosk.sync()
        kiosks.append(kiosk)
    for kiosk, patron in zip(kiosks, ("HS001", "HS002"), strict=True):
        with kiosk.run():
            kiosk.circ.checkout(patron, "TN-0001")
        kiosk.sync()

    web = server.app.test_client()
    with server.run():
        assert web.get("/devices").status_code == 302
        login = web.get("/login").get_data(as_text=True)
        assert web.post("/login", data={"pin": "0000", "csrf_token": csrf_token(login)}).status_code == 401
        assert web.post("/login", data={"pin": "1234"}).status_code == 400  # no CSRF token
        response = web.post("/login?next=/conflicts", data={"pin": "1234", "csrf_token": csrf_token(login)})
        assert response.status_code == 302 and response.location.endswith("/conflicts")

        devices = web.get("/devices?lang=vi").get_data(as_text=True)
        assert "Bàn thủ thư" in devices and "Lớp 6A1" in devices and "Thiết bị" in devices
        added = web.post("/devices", data={"name": "Lớp 7A2", "csrf_token": csrf_token(devices)}).get_data(as_text=True)
        code = re.search(r'id="pairing-code">([A-Z0-9]{4}-[A-Z0-9]{4})<', added).group(1)
        # Valid for a day, shown on the school's clock (02:00 UTC is 09:00 in Hà Nội), with the kiosk's command.
        assert "đến 09:00 03/03/2026" in added
        assert f'id="pair-command">muontra pair http://localhost {code} --data DIR<' in added

        conflicts = web.get("/conflicts?lang=en").get_data(as_text=True)
        assert "The same book was lent at two kiosks while offline" in conflicts
        conflict = Conflict.get(Conflict.kind == "double_checkout")
        web.post(f"/conflicts/{conflict.id}/resolve",
                 data={"action": "reopen_loan", "note": "HS002 has it", "csrf_token": csrf_token(conflicts)})
        assert Conflict.get_by_id(conflict.id).status == "resolved"

        loans = web.get("/loans?q=TN-0001&open=1").get_data(as_text=True)
        assert loans.count("<tr><td>TN-0001</td>") == 1 and "HS002 · Trần Thị Bình" in loans

        web.post(f"/devices/{kiosks[1].device}/revoke", data={"csrf_token": csrf_token(devices)})
        assert Device.get_by_id(kiosks[1].device).revoked
    # The librarian's decision reaches both kiosks.
    for kiosk in kiosks:
        kiosk.sync()
    with server.run():
        from kiosk.models import Loan

        open_loans = {(loan.uuid, loan.patron.code) for loan in Loan.open_loans()}
    assert open_loans == {(conflict.loan, "HS002")}
    with kiosks[0].run():
        from kiosk.models import Loan

        assert {(loan.uuid, loan.patron.code) for loan in Loan.open_loans()} == open_loans
