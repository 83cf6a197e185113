"""The school's workflows around circulation: class-library rotation, helpers, stock-take, intake.

``rules`` holds the pure decisions, ``services`` the transactions (like kiosk/rules.py
and kiosk/services.py); the tables are in kiosk/models.py and their facts in kiosk/ledger.py.
"""
