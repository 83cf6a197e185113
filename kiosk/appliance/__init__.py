"""The Raspberry Pi / Debian appliance: install, upgrade and remove Mượn Trả as system services.

``layout`` says where everything goes, ``units`` writes the systemd units, ``services`` starts and
stops them (systemctl, or directly under ``--root``), ``install`` and ``upgrade`` are the two
procedures, ``cli`` the ``muontra appliance`` commands.
"""
