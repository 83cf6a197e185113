"""gunicorn, started from ``muontra server``: several worker processes (threaded), each opening the database itself."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gunicorn.app.base import BaseApplication


class ServerApplication(BaseApplication):
    def __init__(self, config: Mapping[str, Any], options: Mapping[str, Any]) -> None:
        self.config, self.options = dict(config), dict(options)
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        # Called in each worker after the fork: no database connection crosses a fork.
        from .app import create_app

        return create_app(self.config)


THREADS = 8  # per worker: a kiosk that is slow to send its request holds one thread, not the worker


def _when_ready(database_url: str):
    def when_ready(_arbiter: Any) -> None:
        # In gunicorn's master, which outlives its workers: it says "alive" while the database answers.
        # (gunicorn itself sends READY=1 to a Type=notify unit.)
        from kiosk.watchdog import Watchdog, database_check, watchdog_interval

        interval = watchdog_interval()
        if interval is not None:
            Watchdog([database_check(database_url)], interval).start()

    return when_ready


def gunicorn_options(host: str, port: int, workers: int) -> dict[str, Any]:
    """Threaded workers: with sync workers, as many slow or silent sockets as workers stalled the
    server (two sockets sending their headers a byte at a time held it for 20 s). A thread waits for
    a silent socket at most ~5 s (gunicorn hands it back to the poller); a push still gets minutes."""
    return {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": "gthread",
        "threads": THREADS,
        "worker_connections": 200,
        "keepalive": 5,
        "timeout": 120,  # a worker whose main loop hangs this long is restarted
        "graceful_timeout": 10,
        "limit_request_line": 4094,
        "limit_request_fields": 50,
        "limit_request_field_size": 8190,
        "preload_app": False,
        "accesslog": None,
    }


def run_gunicorn(config: Mapping[str, Any], host: str, port: int, workers: int) -> None:
    from .store import database_url

    ServerApplication(config, {
        **gunicorn_options(host, port, workers),
        "when_ready": _when_ready(database_url(config["DATA_DIR"], config.get("DB"))),
    }).run()
