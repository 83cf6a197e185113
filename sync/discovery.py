"""Finding the school server on the LAN: mDNS / DNS-SD (``_muontra._tcp``), so nobody types an address.

The server announces itself as "Thư viện – <school>" with its port and path; a kiosk's pairing page
lists what it finds. Nothing here is trusted: an announcement only fills in an address the
librarian still confirms, and pairing then needs the one-time code from the server's own page, so a
rogue announcement gains nothing but a failed pairing.

``MUONTRA_MDNS_INTERFACES`` (comma-separated addresses) limits the interfaces, e.g. to 127.0.0.1 in
tests; by default every interface is used.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from ipaddress import ip_address

SERVICE_TYPE = "_muontra._tcp.local."
MAX_FOUND = 20  # a LAN with more Mượn Trả servers than this is not a school's
MAX_TEXT = 200  # TXT values are the announcer's word: bounded before they reach a page


@dataclass(frozen=True)
class FoundServer:
    name: str
    url: str


def _interfaces():
    from zeroconf import InterfaceChoice

    wanted = os.environ.get("MUONTRA_MDNS_INTERFACES", "").strip()
    return [a.strip() for a in wanted.split(",") if a.strip()] if wanted else InterfaceChoice.All


def _zeroconf():
    from zeroconf import IPVersion, Zeroconf

    return Zeroconf(interfaces=_interfaces(), ip_version=IPVersion.V4Only)


def service_name(school: str) -> str:
    """The instance label: at most 63 bytes of UTF-8 (DNS), cut on a character boundary."""
    label = f"Thư viện – {school}".strip(" –") if school else "Thư viện Mượn Trả"
    label = label.replace(".", " ")
    while len(label.encode("utf-8")) > 63:
        label = label[:-1]
    return label


@contextmanager
def announced(school: str, port: int, addresses: list[str], path: str = "/") -> Iterator[str]:
    """Announce the server while the block runs; the name announced is yielded."""
    from zeroconf import ServiceInfo

    packed = [socket.inet_aton(a) for a in addresses if ip_address(a).version == 4 and a != "0.0.0.0"]
    name = service_name(school)
    info = ServiceInfo(SERVICE_TYPE, f"{name}.{SERVICE_TYPE}", addresses=packed, port=port,
                       properties={"path": path, "app": "muontra"},
                       server=f"{socket.gethostname()}.local.")
    zc = _zeroconf()
    try:
        zc.register_service(info, allow_name_change=True)
        yield name
    finally:
        try:
            zc.unregister_service(info)
        finally:
            zc.close()


def browse(seconds: float = 1.5) -> list[FoundServer]:
    """The Mượn Trả servers that answer on the LAN within ``seconds``, by name."""
    from zeroconf import ServiceBrowser, ServiceStateChange

    names: list[str] = []

    def on_change(zeroconf, service_type, name, state_change) -> None:  # noqa: ARG001 (zeroconf's signature)
        if state_change is ServiceStateChange.Added and name not in names and len(names) < MAX_FOUND:
            names.append(name)

    zc = _zeroconf()
    try:
        ServiceBrowser(zc, SERVICE_TYPE, handlers=[on_change])
        time.sleep(seconds)
        found: dict[str, FoundServer] = {}
        for name in list(names):
            info = zc.get_service_info(SERVICE_TYPE, name, timeout=int(seconds * 1000))
            if info is None or not info.port:
                continue
            addresses = [a for a in info.parsed_addresses() if ip_address(a).version == 4]
            if not addresses:
                continue
            path = (info.properties or {}).get(b"path", b"/") or b"/"
            path = path.decode("utf-8", "replace")[:MAX_TEXT]
            if not path.startswith("/"):
                path = "/"
            label = name.removesuffix("." + SERVICE_TYPE)[:MAX_TEXT]
            url = f"http://{addresses[0]}:{int(info.port)}{path.rstrip('/')}"
            found[url] = FoundServer(label, url)
        return sorted(found.values(), key=lambda s: (s.name, s.url))
    finally:
        zc.close()


def main(argv: list[str] | None = None) -> int:
    """``python -m sync.discovery SCHOOL PORT [ADDRESS…]``: announce until killed (run by muontra server)."""
    import signal
    import sys

    args = list(sys.argv[1:] if argv is None else argv)
    school, port, addresses = args[0], int(args[1]), args[2:]
    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    parent = os.getppid()
    with announced(school, port, addresses):
        try:
            # A server killed outright (SIGKILL, power) can't stop us: stop when it is gone.
            while not stop["now"] and os.getppid() == parent:
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
