"""Serving the monitor: a loopback socket, a random token, uvicorn, the browser opened."""

from __future__ import annotations

import contextlib
import secrets
import socket
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
    """Open ``url`` when this machine has a browser (never blocks, never fails)."""
    try:
        webbrowser.get()
    except webbrowser.Error:
        return False
    with contextlib.suppress(Exception):
        return webbrowser.open(url, new=2)
    return False


def serve(
    link: EngineLink,
    port: int = 0,
    browser: bool = True,
    announce: Callable[[Served], None] = print,
    token: str | None = None,
) -> None:
    """Run the monitor until interrupted (Ctrl-C); the link is the caller's to close."""
    import uvicorn

    token = token or secrets.token_urlsafe(32)
    sock = bind(port)
    bound = sock.getsockname()[1]
    served = Served(f"http://{HOST}:{bound}/?token={token}", token, bound)
    hub = Hub(MonitorSource(link))
    config = uvicorn.Config(
        create_app(hub, token),
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=2,
        lifespan="off",
    )
    server = uvicorn.Server(config)
    announce(served)
    if browser:
        open_browser(served.url)
    try:
        server.run(sockets=[sock])
    finally:
        hub.close()
        sock.close()
