"""The central school server: authoritative catalogue and every loan from every kiosk."""
