"""The words the tables and the pure rules share: patron kinds, copy categories and statuses, the
main library's location. Plain values, so kiosk/rules.py and kiosk/workflows/rules.py need no models."""

from __future__ import annotations

PATRON_KINDS = ("student", "teacher", "helper")
CATEGORIES = ("SGK", "STK", "SNV", "TN", "periodical", "other")
COPY_STATUSES = ("available", "on_loan", "lost", "damaged", "withdrawn", "not_for_loan")
MAIN_LIBRARY = "main"
# Optional: only how the kiosk addresses a teacher (thầy / cô); "" = not known, a neutral "Thầy/Cô".
GENDERS = ("", "male", "female")
