"""Starting, stopping and watching the appliance's services.

On a real machine that is systemctl. Under ``--root`` (tests, trying it out) there is no systemd
to ask, so the service's own command runs as a child process with its pid in ``run/``: the same
command, data directory and environment as its unit, so an upgrade is exercised for real.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from .layout import Layout
from .units import Options


def healthz_url(options: Options, service: str) -> str:
    port = options.kiosk_port if service == "kiosk" else options.server_port
    return f"http://127.0.0.1:{port}/healthz"


def wait_healthy(url: str, timeout: float, running: Callable[[], bool] = lambda: True) -> dict | None:
    """The /healthz answer once it says ok, or None when ``timeout`` passes first (or the
    service is known to have exited: no use waiting for a process that crashed)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and running():
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:  # noqa: S310 (loopback, our URL)
                body = json.loads(answer.read().decode())
                if answer.status == 200 and body.get("ok"):
                    return body
        except (OSError, ValueError, urllib.error.URLError):
            pass  # not up yet
        time.sleep(0.3)
    return None


class Systemd:
    def __init__(self, layout: Layout) -> None:
        self.layout = layout

    def _ctl(self, *args: str) -> None:
        subprocess.run(["systemctl", *args], check=True, timeout=120)

    def reload(self) -> None:
        self._ctl("daemon-reload")

    def enable(self, units: list[str]) -> None:
        self._ctl("enable", *units)

    def disable(self, units: list[str]) -> None:
        subprocess.run(["systemctl", "disable", "--now", *units], check=False, timeout=120)

    def start(self, service: str, options: Options) -> None:
        self._ctl("start", f"muontra-{service}.service")

    def stop(self, service: str) -> None:
        self._ctl("stop", f"muontra-{service}.service")

    def running(self, service: str) -> bool:
        return True  # Restart=always: a crashing service is "activating" again; only the timeout tells


class Direct:
    """The service's command as a child process (under --root: no systemd to ask)."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout

    def _pidfile(self, service: str) -> Path:
        return self.layout.run / f"muontra-{service}.pid"

    def reload(self) -> None:
        pass

    def enable(self, units: list[str]) -> None:
        pass

    def disable(self, units: list[str]) -> None:
        pass

    def start(self, service: str, options: Options) -> None:
        """Run what the unit file says: its ExecStart, Environment and EnvironmentFile lines."""
        argv, unit_env = unit_command(self.layout.units / f"muontra-{service}.service")
        self.layout.run.mkdir(parents=True, exist_ok=True)
        log = open(self.layout.run / f"muontra-{service}.log", "ab")  # noqa: SIM115 (the child keeps it)
        env = {key: value for key, value in os.environ.items()
               if not key.startswith(("PYTHON", "MUONTRA_", "VIRTUAL_ENV", "NOTIFY_SOCKET", "WATCHDOG_"))}
        env.update(unit_env)
        process = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   cwd=self.layout.root, start_new_session=True)
        log.close()
        self._pidfile(service).write_text(str(process.pid))

    def running(self, service: str) -> bool:
        try:
            return _alive(int(self._pidfile(service).read_text()))
        except (OSError, ValueError):
            return False

    def stop(self, service: str) -> None:
        pidfile = self._pidfile(service)
        try:
            pid = int(pidfile.read_text())
        except (OSError, ValueError):
            return
        try:
            os.killpg(pid, signal.SIGTERM)  # the service and its decoder worker or gunicorn workers
        except ProcessLookupError:
            pidfile.unlink(missing_ok=True)
            return
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                done, _status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:  # not our child (another command started it): poll instead
                done = 0 if _alive(pid) else pid
            if done:
                break
            time.sleep(0.1)
        else:
            os.killpg(pid, signal.SIGKILL)
        pidfile.unlink(missing_ok=True)


def unit_command(unit: Path) -> tuple[list[str], dict[str, str]]:
    """A service unit's ExecStart (split) and environment, read from the file systemd would read."""
    argv: list[str] = []
    env: dict[str, str] = {}
    for line in unit.read_text(encoding="utf-8").splitlines():
        key, _, value = line.partition("=")
        if key == "ExecStart":
            argv = shlex.split(value)
        elif key == "Environment":
            name, _, setting = value.partition("=")
            env[name] = setting
        elif key == "EnvironmentFile":
            env.update(read_env_file(Path(value.lstrip("-"))))
    return argv, env


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=value lines (comments and blank lines skipped), as systemd's EnvironmentFile= reads them."""
    if not path.exists():
        return {}
    pairs = (line.split("=", 1) for line in path.read_text(encoding="utf-8").splitlines()
             if "=" in line and not line.lstrip().startswith("#"))
    return {key.strip(): value.strip().strip('"') for key, value in pairs}


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for init to reap it is not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def manager(layout: Layout) -> Systemd | Direct:
    return Systemd(layout) if layout.real else Direct(layout)
