"""The systemd units of the appliance, as text.

Every service unit is hardened the same way: read-only system (``ProtectSystem=strict``) except
its own data directory, private /tmp, no privilege gain, no kernel tunables or modules. The kiosk
and server are ``Type=notify`` with ``WatchdogSec``: they say ready once the port is open and
alive while their database answers (kiosk/watchdog.py), and are restarted whatever happens.
"""

from __future__ import annotations

import shlex
from dataclasses import asdict, dataclass

from .layout import SCREEN_USER, USER, Layout

HARDENING = """\
UMask=0077
ProtectSystem=strict
PrivateTmp=yes
NoNewPrivileges=yes
ProtectHome=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
RestrictSUIDSGID=yes
RestrictRealtime=yes
RestrictNamespaces=yes
LockPersonality=yes
# AF_NETLINK: the LAN addresses (getifaddrs) for the kiosk's certificate and the mDNS announcement.
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK
SystemCallArchitectures=native
CapabilityBoundingSet=
"""
# ProtectClock=yes implies an allow-list of devices (DeviceAllow=char-rtc): the kiosk's USB camera
# and receipt printer (usblp's /dev/usb/lp0, or libusb's /dev/bus/usb for python-escpos) must be
# on it, or they could not be opened.
KIOSK_DEVICES = "DeviceAllow=char-video4linux rw\nDeviceAllow=char-usb rw\nDeviceAllow=char-usb_device rw\n"

# Chromium and cage need the GPU, input devices, their own sandbox (namespaces) and a writable
# profile: only what leaves those alone.
SCREEN_HARDENING = """\
ProtectSystem=full
ProtectHome=yes
PrivateTmp=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
LockPersonality=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
"""

# What Chromium needs to be the kiosk's screen: full screen without any way out, sounds without
# a first touch, the receipt printed without a dialog, no "restore pages?" after a power cut.
CHROMIUM_FLAGS = (
    "--kiosk", "--noerrdialogs", "--disable-infobars", "--no-first-run", "--disable-session-crashed-bubble",
    "--autoplay-policy=no-user-gesture-required", "--kiosk-printing", "--ozone-platform=wayland",
    "--disable-features=Translate,TranslateUI", "--disable-pinch", "--overscroll-history-navigation=0",
    "--check-for-update-interval=31536000", "--password-store=basic",
)
USB_LABEL = "MUONTRA"  # a stick with this label is mounted for the daily backup


@dataclass(frozen=True)
class Options:
    role: str = "kiosk"
    kiosk_port: int = 5000
    server_port: int = 8000
    listen: str = "127.0.0.1"  # the kiosk's address: 0.0.0.0 when tablets use it
    screen: bool = True  # Chromium on the kiosk's own screen
    camera: str = ""  # MUONTRA_CAMERA for the kiosk, e.g. /dev/video0 or "browser"
    https_port: int = 8443  # with tablets: HTTPS with the school's own CA (docs/network.md)

    @property
    def tablets(self) -> bool:
        return self.listen != "127.0.0.1"

    @property
    def services(self) -> tuple[str, ...]:
        return {"kiosk": ("kiosk",), "server": ("server",), "both": ("kiosk", "server")}[self.role]

    def to_json(self) -> dict:
        return asdict(self)


def service_command(layout: Layout, options: Options, service: str) -> list[str]:
    """What a service runs (systemd's ExecStart, or the direct runner under --root)."""
    muontra = str(layout.muontra)
    data = str(layout.data_for(service))
    if service == "kiosk":
        return [muontra, "kiosk", "--data", data, "--host", options.listen, "--port", str(options.kiosk_port)]
    return [muontra, "server", "--data", data, "--host", "0.0.0.0", "--port", str(options.server_port),
            "--workers", "2"]


def service_environment(layout: Layout) -> dict[str, str]:
    return {
        # Fewer malloc arenas: less memory for a threaded server on a small board.
        "MALLOC_ARENA_MAX": "2",
        "PYTHONUNBUFFERED": "1",
        # matplotlib (statistics charts) wants a writable cache; the home directory is read-only.
        "MPLCONFIGDIR": str(layout.cache / "matplotlib"),
        "XDG_CACHE_HOME": str(layout.cache),
    }


def _exec(argv: list[str]) -> str:
    return " ".join(shlex.quote(part) for part in argv)


def service_unit(layout: Layout, options: Options, service: str) -> str:
    title = {"kiosk": "Mượn Trả kiosk (library lending)", "server": "Mượn Trả school server"}[service]
    # The screen follows the kiosk: started again whenever the kiosk is back after a restart
    # (Chromium doesn't reload an error page by itself), stopped while it is down (BindsTo there).
    upholds = "Upholds=muontra-screen.service\n" if service == "kiosk" and options.screen else ""
    environment = "".join(f"Environment={key}={value}\n" for key, value in service_environment(layout).items())
    return f"""\
[Unit]
Description={title}
After=network.target
# Never give up: a kiosk restarts however often it fails.
StartLimitIntervalSec=0
{upholds}
[Service]
Type=notify
NotifyAccess=main
User={USER}
Group={USER}
SupplementaryGroups=video
{environment}EnvironmentFile=-{layout.etc / (service + '.env')}
ExecStart={_exec(service_command(layout, options, service))}
Restart=always
RestartSec=3
TimeoutStartSec=180
WatchdogSec=60
ReadWritePaths={layout.data_for(service)} {layout.cache}
{HARDENING}{KIOSK_DEVICES if service == "kiosk" else ""}
[Install]
WantedBy=multi-user.target
"""


def screen_unit(layout: Layout, options: Options) -> str:
    """Chromium full screen in cage (a one-window Wayland compositor) on tty1, logged in by PAM.

    PAMName + TTYPath make a real login session on tty1 for the screen user (the automatic
    login); cage never blanks its output; the cursor theme is transparent (no arrow on a touch
    screen or over the page while a USB scanner types).
    """
    url = f"http://127.0.0.1:{options.kiosk_port}/"
    profile = layout.screen_home / "chromium"
    chromium = ["/usr/bin/chromium", *CHROMIUM_FLAGS, f"--user-data-dir={profile}", url]
    return f"""\
[Unit]
Description=Mượn Trả kiosk screen (Chromium in cage on tty1)
After=muontra-kiosk.service systemd-user-sessions.service plymouth-quit-wait.service
BindsTo=muontra-kiosk.service
Conflicts=getty@tty1.service
After=getty@tty1.service

[Service]
User={SCREEN_USER}
PAMName=login
TTYPath=/dev/tty1
TTYReset=yes
TTYVHangup=yes
TTYVTDisallocate=yes
UtmpIdentifier=tty1
UtmpMode=user
StandardInput=tty-fail
StandardOutput=journal
StandardError=journal
Environment=XDG_SESSION_TYPE=wayland
Environment=XCURSOR_PATH={layout.cursors}
Environment=XCURSOR_THEME=muontra-none
# Start even when only a barcode scanner (a keyboard) is plugged in.
Environment=WLR_LIBINPUT_NO_DEVICES=1
ExecStart=/usr/bin/cage -d -- {_exec(chromium)}
Restart=always
RestartSec=3
{SCREEN_HARDENING}
[Install]
WantedBy=multi-user.target
"""


def backup_service(layout: Layout, options: Options) -> str:
    lines = "".join(f"ExecStart={_exec([str(layout.muontra), 'backup', '--data', str(layout.data_for(s))])}\n"
                    for s in options.services)
    writable = " ".join(str(layout.data_for(s)) for s in options.services)
    settings = "".join(f"EnvironmentFile=-{layout.etc / (s + '.env')}\n" for s in options.services)
    return f"""\
[Unit]
Description=Mượn Trả daily backup (and a kiosk's unsynced loans to its server)
After=network-online.target
Wants=network-online.target

[Service]
Type=oneshot
User={USER}
Group={USER}
Nice=10
IOSchedulingClass=idle
{settings}{lines}ReadWritePaths={writable} -/media -/mnt -/run/media
{HARDENING}"""


def backup_timer() -> str:
    return """\
[Unit]
Description=Mượn Trả daily backup

[Timer]
OnCalendar=*-*-* 12:30
# A kiosk switched off at lunchtime backs up when it is next switched on.
Persistent=true
RandomizedDelaySec=10min

[Install]
WantedBy=timers.target
"""


def escape_path(path: str) -> str:
    """``systemd-escape --path``: the unit name of a mount point."""
    trimmed = path.strip("/")
    out = []
    for i, char in enumerate(trimmed):
        if char == "/":
            out.append("-")
        elif char.isascii() and (char.isalnum() or char in ":_" or (char == "." and i > 0)):
            out.append(char)
        else:
            out.append("".join(f"\\x{byte:02x}" for byte in char.encode()))
    return "".join(out) or "-"


def usb_mount_point(layout: Layout) -> str:
    return str(layout.root / "media" / "muontra-usb")


def usb_units(layout: Layout) -> dict[str, str]:
    """A stick labelled MUONTRA is mounted on first use, writable by the service user only."""
    where = usb_mount_point(layout)
    name = escape_path(where)
    return {
        f"{name}.mount": f"""\
[Unit]
Description=Mượn Trả backup USB stick (label {USB_LABEL})

[Mount]
What=/dev/disk/by-label/{USB_LABEL}
Where={where}
Options=nofail,noatime,uid={USER},gid={USER},umask=0077
TimeoutSec=10
""",
        f"{name}.automount": f"""\
[Unit]
Description=Mượn Trả backup USB stick, mounted when used

[Automount]
Where={where}
TimeoutIdleSec=60

[Install]
WantedBy=multi-user.target
""",
    }


def all_units(layout: Layout, options: Options) -> dict[str, str]:
    """Unit file name -> text, for what the role needs."""
    units = {f"muontra-{service}.service": service_unit(layout, options, service) for service in options.services}
    if "kiosk" in options.services and options.screen:
        units["muontra-screen.service"] = screen_unit(layout, options)
    units["muontra-backup.service"] = backup_service(layout, options)
    units["muontra-backup.timer"] = backup_timer()
    units.update(usb_units(layout))
    return units


def enabled_units(units: dict[str, str]) -> list[str]:
    """What starts at boot: services with an [Install] section, the timer, the automount."""
    return [name for name, text in units.items() if "[Install]" in text]
