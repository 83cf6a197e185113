"""The desk's facts travel like loans: an override and a lost book made good reach the server, and the
other kiosk sees the loan ended and the copy lost."""

from __future__ import annotations

from kiosk import rules
from kiosk.models import Copy, Loan, LoanNote
from tests.conftest import copy_fact, patron_fact
from tests.sync.conftest import school_with_kiosks


def test_an_override_and_a_settled_loss_reach_the_server_and_the_other_kiosk(tmp_path):
    facts = [patron_fact("HS001", "Nguyễn Văn An"), copy_fact("TN-0001", "Dế Mèn phiêu lưu ký"),
             copy_fact("BAO-0001", "Báo Thiếu niên", category="periodical")]
    with school_with_kiosks(tmp_path, facts) as (_clock, server, desk, corner):
        with desk.run():
            lent = desk.circ.checkout("HS001", "BAO-0001", override="class_work")  # not for loan, overridden
            desk.circ.checkout("HS001", "TN-0001")
            desk.circ.set_copy_status("TN-0001", "mark_lost", "", rules.settlement("paid", 45000, ""))
        assert desk.sync().complete
        with server.run():
            notes = {note.kind: note for note in LoanNote.select()}
            assert notes["override"].loan == lent.loan and notes["override"].details["refusal"] == "copy_not_for_loan"
            assert notes["settle"].details["amount"] == 45000
            assert Copy.get(Copy.code == "TN-0001").status == "lost"
            assert Loan.select().where(Loan.returned_at.is_null()).count() == 1  # only the overridden loan
        assert corner.sync().complete
        with corner.run():
            assert Copy.get(Copy.code == "TN-0001").status == "lost"
            assert [loan.copy.code for loan in Loan.select().where(Loan.returned_at.is_null())] == ["BAO-0001"]
