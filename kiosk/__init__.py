"""Mượn Trả kiosk: local store, circulation rules and the kiosk web app."""
