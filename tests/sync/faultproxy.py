"""A TCP proxy that breaks connections on purpose, between a kiosk and the server.

Each new connection takes the next fault from a schedule (then ``default``):
``pass``; ``drop_request`` (close after part of the request, nothing forwarded);
``drop_reply`` (forward the request, swallow the whole reply, close);
``truncate`` (forward half the reply, close); ``cut_headers`` (forward the status
line and the first header line of the reply, close: ``requests`` then hands back
a 200 with an empty body); ``reset`` (RST after the request is forwarded);
``delay`` (hold the reply back ``delay`` seconds).
"""

from __future__ import annotations

import random
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable

FAULTS = ("pass", "drop_request", "drop_reply", "truncate", "cut_headers", "reset", "delay")


class FaultProxy:
    """``target_port`` may be several ports (app servers sharing one database): each connection goes
    to one of them, chosen by ``choose`` (random by default). ``statuses`` collects the status code
    of every reply an upstream server sent, whatever the fault then did with it."""

    def __init__(self, target_port: int | Iterable[int], faults: Iterable[str] = (), default: str = "pass",
                 delay: float = 1.0, choose: Callable[[list[int]], int] = random.choice) -> None:
        ports = [target_port] if isinstance(target_port, int) else list(target_port)
        self.target_ports, self.choose = ports, choose
        self.target_port, self.delay, self.default = ports[0], delay, default
        self.schedule = list(faults)
        self.seen: list[str] = []
        self.statuses: list[int] = []
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._closed = True
        self._listener.close()

    def _next_fault(self) -> str:
        with self._lock:
            fault = self.schedule.pop(0) if self.schedule else self.default
            self.seen.append(fault)
            return fault

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client, self._next_fault()), daemon=True).start()

    def _serve(self, client: socket.socket, fault: str) -> None:
        upstream = None
        try:
            request = _read_http_message(client)
            if fault == "drop_request":
                return
            with self._lock:
                port = self.choose(self.target_ports) if len(self.target_ports) > 1 else self.target_port
            upstream = socket.create_connection(("127.0.0.1", port), timeout=60)
            upstream.sendall(request)
            if fault == "reset":
                time.sleep(0.05)
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                return
            reply = _read_http_message(upstream)
            status_line = reply.split(b"\r\n", 1)[0].split()
            if len(status_line) > 1 and status_line[1].isdigit():
                with self._lock:
                    self.statuses.append(int(status_line[1]))
            if fault == "drop_reply":
                return
            if fault == "truncate":
                client.sendall(reply[: len(reply) // 2])
                return
            if fault == "cut_headers":
                status_end = reply.find(b"\r\n")
                client.sendall(reply[: reply.find(b"\r\n", status_end + 2) + 2])
                return
            if fault == "delay":
                time.sleep(self.delay)
            client.sendall(reply)
        except OSError:
            pass
        finally:
            client.close()
            if upstream is not None:
                upstream.close()


def _read_http_message(sock: socket.socket) -> bytes:
    """One HTTP/1.1 request or response with a Content-Length body (what requests and the servers send)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body
