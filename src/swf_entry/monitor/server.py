"""Serving the monitor: a loopback socket, a random token, uvicorn, the browser opened."""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import sys
import threading
import time
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass

from swf_app.link import EngineLink

from .hub import Hub
from .source import MonitorSource
from .web import create_app

HOST = "127.0.0.1"


@dataclass(frozen=True, slots=True)
class Served:
    url: str
    token: str
    port: int


def bind(port: int) -> socket.socket:
    """A listening socket on the loopback address (``port`` 0: a free one, no race)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((HOST, port))
    except OSError:
        sock.close()
        raise
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def open_browser(url: str) -> bool:
    """Open ``url`` when this machine has a graphical browser (never blocks, never fails).

    Without a display (an SSH session, a cluster node), Python's ``webbrowser`` would
    start a text browser (lynx, w3m) in the terminal that runs the monitor: not wanted.
    """
    graphical = sys.platform in ("darwin", "win32") or any(
        os.environ.get(name) for name in ("DISPLAY", "WAYLAND_DISPLAY")
    )
    if not graphical:
        return False
    try:
        webbrowser.get()
    except webbrowser.Error:
        return False
    with contextlib.suppress(Exception):
        return webbrowser.open(url, new=2)
    return False


class MonitorServer:
    """The monitor on a loopback socket: ``run`` in the foreground (the command), or
    ``start`` / ``stop`` on a thread (tests, benchmarks)."""

    def __init__(
        self, link: EngineLink, port: int = 0, token: str | None = None, long_poll: bool = False
    ) -> None:
        import uvicorn

        self.token = token or secrets.token_urlsafe(32)
        self.socket = bind(port)
        self.port = self.socket.getsockname()[1]
        self.url = f"http://{HOST}:{self.port}/?token={self.token}"
        self.hub = Hub(MonitorSource(link, long_poll=long_poll))
        config = uvicorn.Config(
            create_app(self.hub, self.token),
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=2,
            lifespan="off",
        )
        self.server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None
        # The link's first call sets up its connections (a second or so on a busy
        # machine): made now, not by the first page.
        threading.Thread(target=self.hub.warm_up, name="swf-monitor-warm-up", daemon=True).start()

    def run(self) -> None:
        """Serve until interrupted (uvicorn handles Ctrl-C in the main thread)."""
        try:
            self.server.run(sockets=[self.socket])
        finally:
            self.hub.close()
            self.socket.close()

    def start(self) -> MonitorServer:
        self._thread = threading.Thread(target=self.run, name="swf-monitor", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)


def serve(
    link: EngineLink,
    port: int = 0,
    browser: bool = True,
    announce: Callable[[Served], None] = print,
) -> None:
    """``swf monitor``: run until interrupted; the link is the caller's to close.

    At the user's priority, not ``nice``: a niced monitor starved on a busy machine (its
    first event up to 75 s late); its cost is bounded by design instead (the hub's
    followers rest in proportion to the CPU they used)."""
    server = MonitorServer(link, port)
    announce(Served(server.url, server.token, server.port))
    if browser:
        open_browser(server.url)
    server.run()
