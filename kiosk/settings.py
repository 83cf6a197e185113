"""Every setting of the kiosk, the server and the command line, in one list (datasette's model).

Each :class:`Setting` has a name (the Flask config key), a default, a type, the environment
variable that sets it, a help line, and the app that reads it. Both app factories and
``open_kiosk`` (every CLI command) take their values from :func:`resolve`: defaults, then the
environment, then what the caller passes. docs/configuration.md is generated from this list
(``python -m kiosk.settings --write``) and tests/test_docs.py fails when the two differ.

To add a setting: append a :class:`Setting` here, read it from ``app.config`` (or the values
``resolve`` returns), run ``python -m kiosk.settings --write`` and commit docs/configuration.md.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .clock import DEFAULT_TIMEZONE, utc_now
from .errors import N_, MuontraError
from .i18n import DEFAULT_LANGUAGE, translate

APPS = ("kiosk", "server", "both", "cli")
DOC = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"


class BadSetting(MuontraError):
    code = "bad_setting"
    message = N_("The setting %(name)s cannot be '%(value)s': %(expected)s.")

    def message_in(self, lang: str = DEFAULT_LANGUAGE) -> str:
        # ``expected`` is a msgid from TYPES: the reader gets it in their language.
        return translate(self.message, lang, **{**self.params, "expected": translate(self.params["expected"], lang)})


def _text(raw: str) -> str:
    return raw


def _int(raw: str) -> int:
    return int(raw.strip())


def _number(raw: str) -> float:
    return float(raw.strip())


def _flag(raw: str) -> bool:
    word = raw.strip().lower()
    if word in ("1", "true", "yes", "on"):
        return True
    if word in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(raw)


def _list(raw: str) -> tuple[str, ...]:
    """A JSON list (``["]C0", "~"]``) or comma-separated words."""
    text = raw.strip()
    if text.startswith("["):
        values = json.loads(text)
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise ValueError(raw)
        return tuple(values)
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _timezone(raw: str) -> str:
    try:
        ZoneInfo(raw.strip())
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(raw) from exc
    return raw.strip()


# type name → (parser of the environment's text, what the reader is told is expected)
TYPES: Mapping[str, tuple[Callable[[str], Any], str]] = {
    "text": (_text, N_("text")),
    "int": (_int, N_("a whole number")),
    "number": (_number, N_("a number")),
    "flag": (_flag, N_("1/0, true/false, yes/no or on/off")),
    "list": (_list, N_("a JSON list of texts or comma-separated words")),
    "timezone": (_timezone, N_("an IANA time zone such as Asia/Ho_Chi_Minh")),
    "clock": (_text, N_("a function (tests only)")),
}


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    type: str
    help: str
    app: str  # kiosk | server | both | cli (the command line only)
    env: str | None = ""  # "" = MUONTRA_<name>; None = not settable from the environment
    server_default: Any = None  # when the server's default differs from the kiosk's

    @property
    def env_var(self) -> str | None:
        return None if self.env is None else (self.env or f"MUONTRA_{self.name}")

    def default_for(self, app: str) -> Any:
        return self.server_default if app == "server" and self.server_default is not None else self.default

    def parse(self, raw: str) -> Any:
        parser, expected = TYPES[self.type]
        try:
            return parser(raw)
        except ValueError as exc:
            raise BadSetting(name=self.env_var or self.name, value=raw, expected=expected) from exc


KIB = 1024
SETTINGS: tuple[Setting, ...] = (
    # ------------------------------------------------------------ both apps
    Setting("DATA_DIR", "data", "text", "Data directory: the database, the keys, the camera's files.", "both",
            env="MUONTRA_DATA"),
    Setting("TIMEZONE", DEFAULT_TIMEZONE, "timezone",
            "The school's time zone: what day it is for due dates, overdue lists and reports.", "both"),
    Setting("AUTO_MIGRATE", False, "flag",
            "Create or upgrade the database when the app starts (otherwise run `muontra migrate`).", "both"),
    Setting("SECRET_KEY", None, "text",
            "Signs the session cookie; by default a random key kept in the database.", "both"),
    Setting("ADMIN_SESSION_MINUTES", 15, "int", "Minutes a librarian's PIN session lasts without a click.",
            "both", server_default=30),
    Setting("PIN_MAX_ATTEMPTS", 5, "int", "Wrong PINs from one address before that address is locked out for a while.",
            "both"),
    Setting("PIN_LOCKOUT_MINUTES", 5, "int",
            "Minutes of an address's first lock-out; each further one lasts twice as long (at most a day).", "both"),
    # The server's must hold a whole sync push (sync.protocol.MAX_BODY_BYTES; tests/test_settings.py).
    Setting("MAX_CONTENT_LENGTH", 2 * KIB * KIB, "int",
            "Largest request body in bytes (a sync push arrives gzip-compressed).", "both"),
    Setting("API_MAX_JSON_BYTES", 16 * KIB, "int", "Largest JSON request to the kiosk API, in bytes.", "both"),
    Setting("CLOCK", utc_now, "clock", "The clock (tests put a fake one here).", "both", env=None),
    Setting("FONT_DIR", None, "text", "Extra folder searched for the PDF fonts (DejaVu).", "both"),
    # ------------------------------------------------------------ the kiosk
    Setting("SCHOOL_NAME", "", "text", "The school's name on the kiosk's pages (else the one in the database).",
            "kiosk"),
    Setting("IDLE_SECONDS", 60, "int", "Back to the start screen after this many seconds without a touch or scan.", "kiosk"),
    Setting("DOUBLE_SCAN_SECONDS", 2, "number", "The same code scanned again within this many seconds is ignored.",
            "kiosk"),
    Setting("RECEIPT_SECONDS", 20, "int", "Seconds a receipt stays after Done (never longer than IDLE_SECONDS).", "kiosk"),
    Setting("SCAN_KEY_GAP_MS", 50, "int",
            "Most milliseconds between the keystrokes of a USB scanner (slower typing is a person).", "kiosk"),
    Setting("SCAN_PAUSE_MS", 100, "int", "Milliseconds of silence that end a scan without an Enter key.", "kiosk"),
    Setting("SCANNER_PREFIXES", (), "list", "Texts a scanner adds before every code, stripped from scans.", "kiosk"),
    Setting("SCANNER_SUFFIXES", (), "list", "Texts a scanner adds after every code, stripped from scans.", "kiosk"),
    Setting("CARD_LOOKUPS_PER_MINUTE", 10, "int",
            "Different cards one client may name in a minute on the public screen (the same card again is free).",
            "kiosk"),
    Setting("CARD_LOOKUPS_PER_MINUTE_ALL", 60, "int", "Different cards all clients together may name in a minute.",
            "kiosk"),
    Setting("RENEW_WRONG_CARD_LIMIT", 3, "int",
            "Renewals with a card that doesn't hold the book, per client per 10 minutes, before a pause.", "kiosk"),
    Setting("HELPER_WRONG_CARD_LIMIT", 5, "int",
            "Helper sign-ins with a card that isn't a helper's, per client per 10 minutes, before a pause.", "kiosk"),
    Setting("IMPORT_MAX_CONTENT_LENGTH", 65 * KIB * KIB, "int",
            "Largest upload to the librarian's import page, in bytes (a whole MARC catalogue; docs/import.md).",
            "kiosk"),
    Setting("HTTPS_PORT", None, "int", "Also serve HTTPS on this port with the school's own certificate "
            "(tablets' cameras need it); LAN browsers on plain HTTP are sent there. Set by "
            "`muontra kiosk --https-port`. See docs/network.md.", "kiosk"),
    Setting("RECEIPT_PRINTER", "", "text", 'Thermal receipt printer: "usb:VID:PID" (hex) or "file:/dev/usb/lp0"; '
            '"" prints through the browser. See docs/network.md.', "kiosk"),
    Setting("RECEIPT_WIDTH_MM", 58, "int", "Paper width of the receipt printer: 58 or 80 (mm).", "kiosk"),
    Setting("DISCOVERY_SECONDS", 1.5, "number", "Seconds the pairing form listens for school servers on the LAN "
            "(mDNS).", "kiosk"),
    Setting("SYNC_INTERVAL", 60, "number", "Seconds between background syncs with the server (0: no background sync).",
            "kiosk"),
    Setting("SYNC_MAX_BACKOFF", 900, "number", "Longest wait in seconds between retries while the server is away.",
            "kiosk"),
    Setting("CAMERA", "", "text",
            'Camera for scanning: "" none, 0 or /dev/video0, a video file, or "browser" (docs/camera.md).', "kiosk"),
    Setting("CAMERA_WIDTH", 640, "int", "Picture width asked of a USB camera.", "kiosk"),
    Setting("CAMERA_HEIGHT", 480, "int", "Picture height asked of a USB camera.", "kiosk"),
    Setting("CAMERA_FPS", 30, "int", "Frames per second asked of a USB camera.", "kiosk"),
    Setting("CAMERA_MIRROR", False, "flag", "Flip the picture horizontally (a camera facing the student).", "kiosk"),
    Setting("CAMERA_ROI", "", "text", 'Region scanned, as fractions "x,y,width,height" (e.g. "0.2,0.2,0.6,0.6").',
            "kiosk"),
    Setting("CAMERA_COOLDOWN", 2.0, "number", "Seconds the same code stays quiet while it is still in view.",
            "kiosk"),
    Setting("CAMERA_HEARTBEAT_SECONDS", 15.0, "number", "Seconds between keep-alive messages to the pages.",
            "kiosk"),
    Setting("CAMERA_BROWSER_FPS", 5.0, "number", "Frames per second a tablet's page sends.", "kiosk"),
    Setting("CAMERA_FRAME_RATE_LIMIT", 10.0, "number", "Most tablet frames per second the kiosk accepts.",
            "kiosk"),
    # ------------------------------------------------------------ the server
    Setting("DB", None, "text", "Server database URL (postgresql://…); default: server.sqlite3 in the data "
            "directory.", "server"),
    Setting("MASTER_KEY", None, "text", "The key every kiosk's secret is derived from; default: server.key in "
            "the data directory.", "server", env="MUONTRA_SERVER_KEY"),
    Setting("SQLITE_BUSY_TIMEOUT_MS", 10_000, "int",
            "SQLite: milliseconds a request waits for another writer before answering 503 (busy).", "server"),
    # ------------------------------------------------------------ the command line
    Setting("LANG", "vi", "text", "Language of the command line's messages (vi or en); `--lang` also sets it.",
            "cli"),
    Setting("BACKUP_MOUNTS", "", "text", "Where `muontra backup` looks for USB sticks with a `muontra-backup` "
            "folder (paths separated by ':'); default: what is mounted under /media, /mnt and /run/media.", "cli"),
)
BY_NAME: Mapping[str, Setting] = {setting.name: setting for setting in SETTINGS}


def default(name: str) -> Any:
    return BY_NAME[name].default


def settings_of(app: str) -> list[Setting]:
    return [s for s in SETTINGS if s.app in (app, "both")]


def resolve(app: str, overrides: Mapping[str, Any] | None = None,
            environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The values ``app`` runs with: defaults, then the environment, then ``overrides``.

    ``overrides`` may hold other keys (Flask's TESTING…); they pass through.
    """
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for setting in settings_of(app):
        values[setting.name] = setting.default_for(app)
        if setting.env_var and environ.get(setting.env_var) is not None:
            values[setting.name] = setting.parse(environ[setting.env_var])
    values.update(overrides or {})
    return values


# ---------------------------------------------------------------- docs/configuration.md


def _shown(value: Any) -> str:
    if value is None:
        return "—"
    if callable(value):
        return "real clock"
    if isinstance(value, tuple):
        return "none" if not value else ", ".join(value)
    if isinstance(value, bool):
        return "off" if not value else "on"
    return f"`{value}`" if value != "" else '`""`'


def markdown() -> str:
    lines = [
        "# Configuration",
        "",
        "<!-- Generated from kiosk/settings.py by `python -m kiosk.settings --write`; edit the list there. -->",
        "",
        "Every setting has a default; set it in the environment (`MUONTRA_…`, e.g. "
        "`MUONTRA_TIMEZONE=Asia/Bangkok muontra kiosk`) or, for tests and WSGI files, in the config passed "
        "to `create_app`. The kiosk app, the server app and every `muontra` command read the same list.",
        "",
    ]
    titles = {"both": "Kiosk and server", "kiosk": "Kiosk", "server": "Server", "cli": "Command line"}
    for app in ("both", "kiosk", "server", "cli"):
        lines += [f"## {titles[app]}", "", "| Setting | Environment | Default | Type | Meaning |", "|---|---|---|---|---|"]
        for s in SETTINGS:
            if s.app != app:
                continue
            default = _shown(s.default)
            if s.server_default is not None:
                default += f" (server: {_shown(s.server_default)})"
            env = f"`{s.env_var}`" if s.env_var else "—"
            lines.append(f"| `{s.name}` | {env} | {default} | {s.type} | {s.help} |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    if "--write" in sys.argv:
        DOC.write_text(markdown(), encoding="utf-8")
        print(DOC)
    else:
        print(markdown(), end="")
