"""Where the appliance puts things, on a real machine (root ``/``) or under a test's ``--root DIR``.

Under ``--root`` every path, also those written into the units, lies inside DIR, so what is
installed there really runs (the tests start it) and ``systemd-analyze verify`` finds every file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

USER = "muontra"  # runs the kiosk and server services
SCREEN_USER = "muontra-screen"  # owns the kiosk's screen session (Chromium in cage)
ROLES = ("kiosk", "server", "both")


@dataclass(frozen=True)
class Layout:
    root: Path = Path("/")

    @property
    def real(self) -> bool:
        """True on a real machine (systemctl, useradd, apt); False under a test's --root."""
        return self.root == Path("/")

    def _at(self, path: str) -> Path:
        return self.root / path.lstrip("/")

    @property
    def home(self) -> Path:
        return self._at("/opt/muontra")

    @property
    def venvs(self) -> Path:
        return self.home / "venvs"

    @property
    def current(self) -> Path:
        """A symlink to the venv in use: the units run ``current/bin/muontra``."""
        return self.home / "current"

    @property
    def muontra(self) -> Path:
        return self.current / "bin" / "muontra"

    @property
    def data(self) -> Path:
        return self._at("/var/lib/muontra")

    def data_for(self, service: str) -> Path:
        return self.data / service

    @property
    def cache(self) -> Path:
        return self._at("/var/cache/muontra")

    @property
    def screen_home(self) -> Path:
        return self._at("/var/lib/muontra-screen")

    @property
    def etc(self) -> Path:
        return self._at("/etc/muontra")

    @property
    def units(self) -> Path:
        return self._at("/etc/systemd/system")

    @property
    def cursors(self) -> Path:
        return self._at("/usr/local/share/muontra/cursors")

    @property
    def run(self) -> Path:
        """Pid files of services started directly (under --root only)."""
        return self._at("/run/muontra")

    @property
    def state(self) -> Path:
        """What was installed (role, port…), for upgrade and uninstall."""
        return self.etc / "appliance.json"
