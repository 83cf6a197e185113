"""POST /api/receipt: print the loan receipt on the kiosk's thermal printer (kiosk/receipts.py).

The page sends the card and the labels it lent in this session; the receipt lists only those that
really are on loan to that card now, so the endpoint can't be made to print anything else.
"""

from __future__ import annotations

from flask import Blueprint, current_app, g, jsonify
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from .. import receipts, stored_settings
from ..codes import clean
from ..db import db
from ..errors import N_, BadInput
from ..models import Copy, Loan, Patron, Title
from ..rules import UnknownPatron
from . import circulation
from .api import admit_card, json_body

bp = Blueprint("receipt", __name__)

MAX_COPIES = 20


class TooManyCopies(BadInput):
    code = "too_many_copies"
    message = N_("A receipt lists at most %(limit)s books.")


@bp.post("/api/receipt")
def print_receipt() -> ResponseReturnValue:
    body = json_body("patron", "copies")
    admit_card(body["patron"])  # the public screen's card limit (kiosk/throttle.py)
    codes = [clean(code) for code in body["copies"].split()]
    if len(codes) > MAX_COPIES:
        raise TooManyCopies(limit=MAX_COPIES)
    setting = str(current_app.config.get("RECEIPT_PRINTER") or "")
    if not setting:
        raise receipts.NoReceiptPrinter()
    with db.connection_context():
        patron = Patron.get_or_none(Patron.code == clean(body["patron"]))
        if patron is None:
            raise UnknownPatron()
        loans = (Loan.select(Loan.due, Copy.code, Title.title).join(Copy).join(Title)
                 .where(Loan.patron == patron, Loan.is_open(), Copy.code.in_(codes or [""]))
                 .order_by(Loan.checked_out_at).namedtuples())
        lines = tuple(receipts.ReceiptLine(loan.title, loan.code, loan.due) for loan in loans)
        # Read through the checked store, as the pages do: a bad stored value never breaks printing.
        school = stored_settings.read("school_name") or current_app.config["SCHOOL_NAME"] or _("School library")
    receipt = receipts.Receipt(
        heading=_("Your receipt"), school=school,
        who=" · ".join(part for part in (patron.name, patron.class_name and _("Class %(class_name)s",
                                                                              class_name=patron.class_name)) if part),
        when=circulation().today().strftime("%d/%m/%Y"),
        lines=lines, due_label=_("Return by %(due)s"),
        thanks=_("Please look after the books and return them on time. Thank you!"))
    receipts.send(receipts.render(receipt, int(current_app.config.get("RECEIPT_WIDTH_MM", 58))), setting)
    return jsonify({"printed": len(lines), "lang": g.lang})
