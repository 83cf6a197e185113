"""``muontra appliance install`` / ``uninstall``: a kiosk, a server or both as system services."""

from __future__ import annotations

import grp
import json
import os
import platform
import pwd
import shutil
import struct
import subprocess
import sys
from pathlib import Path

from ..errors import N_, MuontraError
from .layout import SCREEN_USER, USER, Layout
from .services import healthz_url, manager, wait_healthy
from .units import Options, all_units, enabled_units, service_environment

SUPPORTED_MACHINES = ("aarch64", "arm64", "x86_64", "amd64")
SYSTEM_PACKAGES = ("python3-venv", "libzbar0", "fonts-dejavu-core")
SCREEN_PACKAGES = ("cage", "chromium")


class ApplianceError(MuontraError):
    code = "appliance"


class Unsupported32Bit(ApplianceError):
    code = "unsupported_32bit"
    message = N_(
        "This is a 32-bit system (%(machine)s). Mượn Trả needs a 64-bit one: PyPI has no 32-bit ARM (armhf) "
        "packages of opencv-python-headless, zxing-cpp, numpy, pillow, matplotlib or psycopg2-binary, and "
        "Debian's armhf packages are older than Mượn Trả needs. Install Raspberry Pi OS (64-bit): it runs on "
        "every Raspberry Pi 3, 4, 5 and Zero 2 W."
    )


class UnsupportedMachine(ApplianceError):
    code = "unsupported_machine"
    message = N_("Mượn Trả's appliance runs on 64-bit ARM (Raspberry Pi OS 64-bit) or x86-64 Debian 12, "
                 "not on %(machine)s.")


class NeedsRoot(ApplianceError):
    code = "needs_root"
    message = N_("Run it as root: sudo muontra appliance …")


class NotInstalled(ApplianceError):
    code = "not_installed"
    message = N_("Mượn Trả is not installed as an appliance here (%(path)s is missing).")


class BadWheel(ApplianceError):
    code = "bad_wheel"
    message = N_("%(path)s is not a Mượn Trả wheel (muontra-VERSION-py3-none-any.whl).")


class StepFailed(ApplianceError):
    code = "step_failed"
    message = N_("%(step)s failed: %(reason)s")


def check_architecture(machine: str | None = None, pointer_bits: int | None = None) -> None:
    """Refuse 32-bit systems plainly (a 64-bit kernel under a 32-bit userland counts as 32-bit)."""
    machine = (machine or platform.machine()).lower()
    bits = pointer_bits or struct.calcsize("P") * 8
    if bits == 32 or machine.startswith(("armv6", "armv7", "armhf", "armel", "i386", "i686")):
        raise Unsupported32Bit(machine=f"{machine}, {bits}-bit")
    if machine not in SUPPORTED_MACHINES:
        raise UnsupportedMachine(machine=machine)


def wheel_version(wheel: Path) -> str:
    from packaging.version import InvalidVersion, Version

    parts = wheel.name.split("-")
    if len(parts) < 5 or parts[0] != "muontra" or wheel.suffix != ".whl" or not wheel.is_file():
        raise BadWheel(path=str(wheel))
    try:
        Version(parts[1])
    except InvalidVersion as exc:
        raise BadWheel(path=str(wheel)) from exc
    return parts[1]


def run(step: str, argv: list[str], **kwargs) -> subprocess.CompletedProcess:
    """A step of the procedure; its failure names the step and what the command said."""
    try:
        return subprocess.run(argv, check=True, capture_output=True, text=True, timeout=kwargs.pop("timeout", 1800),
                              **kwargs)
    except subprocess.CalledProcessError as exc:
        raise StepFailed(step=step, reason=(exc.stderr or exc.stdout or str(exc)).strip()[-2000:]) from exc
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise StepFailed(step=step, reason=str(exc)) from exc


def clean_env() -> dict[str, str]:
    """No variable of the calling shell's venv or kiosk leaks into the new venv's commands."""
    return {key: value for key, value in os.environ.items()
            if not key.startswith(("PYTHON", "MUONTRA_", "VIRTUAL_ENV", "NOTIFY_SOCKET", "WATCHDOG_"))}


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:  # another file system
        shutil.copy2(source, target)


def clone_venv(source: Path, target: Path) -> None:
    """A copy of a venv made of hard links (seconds, no disk space), its scripts pointing at ``target``.

    pip never changes an installed file in place (it removes and writes), so the two venvs stay
    independent; only the scripts' ``#!`` lines name the venv, and those are rewritten.
    """
    shutil.copytree(source, target, symlinks=True, copy_function=_link_or_copy)
    old, new = str(source).encode(), str(target).encode()
    for path in [*(target / "bin").iterdir(), target / "pyvenv.cfg"]:
        if path.is_symlink() or not path.is_file():
            continue
        content = path.read_bytes()
        if old not in content[:4096]:
            continue
        mode = path.stat().st_mode
        path.unlink()  # a new file: the source venv keeps its own
        path.write_bytes(content.replace(old, new))
        path.chmod(mode)


def make_venv(target: Path, wheel: Path, base: Path | None, wheelhouse: Path | None) -> None:
    """A venv at ``target`` with the wheel and its dependencies (cloned from ``base`` when given)."""
    if target.exists():
        shutil.rmtree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    if base is not None:
        clone_venv(base, target)
    else:
        python = getattr(sys, "_base_executable", None) or sys.executable
        run("python3 -m venv", [python, "-m", "venv", str(target)], env=clean_env())
    pip = [str(target / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
           "--no-warn-script-location"]
    offline = ["--no-index", "--find-links", str(wheelhouse)] if wheelhouse else []
    # The wheel itself even when the same version is there (a rebuilt wheel), then whatever of its
    # dependencies is missing: with everything present, pip needs no network.
    run("pip install", [*pip, "--no-deps", "--force-reinstall", *offline, str(wheel)], env=clean_env())
    run("pip install", [*pip, *offline, str(wheel)], env=clean_env())


def switch_current(layout: Layout, venv: Path) -> None:
    """Point ``current`` at ``venv`` atomically (a symlink renamed over the old one)."""
    link = layout.current.with_name("current.new")
    link.unlink(missing_ok=True)
    link.symlink_to(venv.relative_to(layout.home))
    os.replace(link, layout.current)


def current_version(layout: Layout) -> str | None:
    return os.readlink(layout.current).rsplit("/", 1)[-1] if layout.current.is_symlink() else None


def load_options(layout: Layout) -> Options:
    if not layout.state.exists():
        raise NotInstalled(path=str(layout.state))
    saved = json.loads(layout.state.read_text(encoding="utf-8"))
    return Options(**saved["options"])


def as_service_user(layout: Layout, argv: list[str]) -> list[str]:
    """Commands that write the data directory run as its owner (root would leave root's files)."""
    return ["runuser", "-u", USER, "--", *argv] if layout.real else argv


def migrate_data(layout: Layout, options: Options) -> None:
    env = {**clean_env(), **service_environment(layout)}
    for service in options.services:
        data = str(layout.data_for(service))
        argv = [str(layout.muontra), "migrate", "--data", data] if service == "kiosk" else \
            [str(layout.muontra), "server", "migrate", "--data", data]
        run(f"muontra migrate ({service})", as_service_user(layout, argv), env=env, cwd=layout.data)


def _exists(lookup, name: str) -> bool:
    """A user (pwd.getpwnam) or group (grp.getgrnam) of that name exists."""
    try:
        lookup(name)
    except KeyError:
        return False
    return True


def _user_exists(name: str) -> bool:
    return _exists(pwd.getpwnam, name)


def create_users(layout: Layout, options: Options) -> None:
    if not _user_exists(USER):
        run("useradd", ["useradd", "--system", "--user-group", "--home-dir", str(layout.data), "--no-create-home",
                        "--shell", "/usr/sbin/nologin", USER])
    # The USB camera; the receipt printer's /dev/usb/lp0.
    run("usermod", ["usermod", "-aG", ",".join(g for g in ("video", "lp") if _group_exists(g)), USER])
    if options.screen and "kiosk" in options.services and not _user_exists(SCREEN_USER):
        groups = [g for g in ("video", "render", "input", "audio") if _group_exists(g)]
        run("useradd", ["useradd", "--system", "--user-group", "--create-home", "--home-dir", str(layout.screen_home),
                        "--shell", "/usr/sbin/nologin", "--groups", ",".join(groups), SCREEN_USER])


def _group_exists(name: str) -> bool:
    return _exists(grp.getgrnam, name)


def prepare_directories(layout: Layout, options: Options) -> None:
    for folder in (layout.venvs, layout.etc, layout.units, layout.cache / "matplotlib"):
        folder.mkdir(parents=True, exist_ok=True)
    layout.data.mkdir(mode=0o700, parents=True, exist_ok=True)
    for service in options.services:
        layout.data_for(service).mkdir(mode=0o700, exist_ok=True)
    for folder in (layout.data, *(layout.data_for(s) for s in options.services)):
        folder.chmod(0o700)  # readers' names and loans: the service user's only
    if layout.real:
        for folder in (layout.data, *(layout.data_for(s) for s in options.services), layout.cache,
                       layout.cache / "matplotlib"):
            shutil.chown(folder, USER, USER)
    if options.screen and "kiosk" in options.services:
        write_blank_cursor_theme(layout.cursors / "muontra-none")


ENV_TEMPLATE = """\
# Settings of the Mượn Trả {service} (MUONTRA_<NAME>=value; every one in docs/configuration.md).
# After a change: sudo systemctl restart muontra-{service}
{kiosk}# MUONTRA_SCHOOL_NAME=Trường THCS …
"""


def write_env_files(layout: Layout, options: Options) -> None:
    """The school's settings: written once, never overwritten (an upgrade keeps them)."""
    for service in options.services:
        path = layout.etc / f"{service}.env"
        if not path.exists():
            kiosk = ""
            if service == "kiosk":
                kiosk = (f"MUONTRA_CAMERA={options.camera}\n" if options.camera else "# MUONTRA_CAMERA=/dev/video0\n")
                # Tablets reach the kiosk over the network: their camera needs HTTPS (docs/network.md).
                kiosk += (f"MUONTRA_HTTPS_PORT={options.https_port}\n" if options.tablets
                          else "# MUONTRA_HTTPS_PORT=8443\n")
                kiosk += "# MUONTRA_RECEIPT_PRINTER=file:/dev/usb/lp0\n# MUONTRA_IDLE_SECONDS=60\n"
            path.write_text(ENV_TEMPLATE.format(service=service, kiosk=kiosk), encoding="utf-8")


def write_blank_cursor_theme(theme: Path) -> None:
    """An Xcursor theme whose every cursor is one transparent pixel: no arrow on the kiosk's screen.

    cage has no option to hide the pointer; wlroots and Chromium draw it from $XCURSOR_THEME.
    """
    (theme / "cursors").mkdir(parents=True, exist_ok=True)
    (theme / "index.theme").write_text("[Icon Theme]\nName=muontra-none\n", encoding="utf-8")
    image = struct.pack("<9I", 36, 0xFFFD0002, 24, 1, 1, 1, 0, 0, 0) + struct.pack("<I", 0)
    header = b"Xcur" + struct.pack("<3I", 16, 0x10000, 1) + struct.pack("<3I", 0xFFFD0002, 24, 16 + 12)
    blank = theme / "cursors" / "default"
    blank.write_bytes(header + image)
    for name in ("left_ptr", "pointer", "hand1", "hand2", "text", "xterm", "arrow", "top_left_arrow", "wait",
                 "progress", "watch", "not-allowed", "grab", "grabbing", "crosshair"):
        alias = theme / "cursors" / name
        if not alias.is_symlink():
            alias.unlink(missing_ok=True)
            alias.symlink_to("default")


def write_units(layout: Layout, options: Options) -> list[str]:
    units = all_units(layout, options)
    for name, text in units.items():
        (layout.units / name).write_text(text, encoding="utf-8")
    return list(units)


def save_state(layout: Layout, options: Options, units: list[str]) -> None:
    layout.state.write_text(json.dumps({"options": options.to_json(), "units": units}, indent=2), encoding="utf-8")


def install_packages(packages: list[str]) -> None:
    """The Debian packages that are missing, without recommends (12 packages, not 101)."""
    missing = [p for p in packages
               if subprocess.run(["dpkg", "-s", p], capture_output=True, check=False).returncode != 0]
    if missing:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        run("apt-get update", ["apt-get", "update", "-q"], env=env)
        run("apt-get install", ["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing], env=env)


def install(layout: Layout, options: Options, wheel: Path, *, base: Path | None = None,
            wheelhouse: Path | None = None, apt: bool = True, start: bool = True, timeout: float = 120) -> str:
    """Install (or re-install) the appliance; returns the version now running."""
    check_architecture()
    version = wheel_version(wheel)
    if layout.real:
        if os.geteuid() != 0:
            raise NeedsRoot()
        if apt:
            install_packages([*SYSTEM_PACKAGES, *(SCREEN_PACKAGES if options.screen and "kiosk" in options.services
                                                   else ())])
        create_users(layout, options)
    prepare_directories(layout, options)
    make_venv(layout.venvs / version, wheel, base, wheelhouse)
    switch_current(layout, layout.venvs / version)
    if layout.real:  # `sudo muontra appliance upgrade …`, `muontra backup …` from any shell
        link = Path("/usr/local/bin/muontra")
        link.unlink(missing_ok=True)
        link.symlink_to(layout.muontra)
    write_env_files(layout, options)
    units = write_units(layout, options)
    save_state(layout, options, units)
    migrate_data(layout, options)
    services = manager(layout)
    services.reload()
    services.enable(enabled_units(all_units(layout, options)))
    if start:
        for service in options.services:
            services.start(service, options)
        for service in options.services:
            if wait_healthy(healthz_url(options, service), timeout,
                            lambda service=service: services.running(service)) is None:
                raise StepFailed(step=f"muontra-{service}", reason=f"no answer from {healthz_url(options, service)}")
    return version


def uninstall(layout: Layout, *, purge: bool = False) -> list[Path]:
    """Stop and remove the services and the program; the data stays unless ``purge``."""
    options = load_options(layout)
    units = json.loads(layout.state.read_text(encoding="utf-8"))["units"]
    services = manager(layout)
    for service in options.services:
        services.stop(service)
    services.disable(units)
    for name in units:
        (layout.units / name).unlink(missing_ok=True)
    services.reload()
    removed = [layout.home, layout.cursors.parent, layout.state]
    if layout.real:
        removed.append(Path("/usr/local/bin/muontra"))
    if purge:
        removed += [layout.data, layout.cache, layout.etc, layout.screen_home]
    for path in removed:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    if purge and layout.real:
        for user in (SCREEN_USER, USER):
            if _user_exists(user):
                subprocess.run(["userdel", user], check=False, timeout=60)
    return removed
