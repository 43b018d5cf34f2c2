"""How a Pyro link reaches its engine: the connector seam.

``PyroEngineLink`` knows Pyro (connections, retries, the operations table); a connector
knows where the engine is and how to bring it back: the URI to dial, the key to present,
the check that the endpoint is the user's own before the key is sent, and what to do when
the engine is found gone. ``LocalSocketConnector`` is the local daemon's (a private Unix
socket and a key file); a remote resource plugs in an SSH connector (a tunnelled socket, a
key read over SSH, an engine started with a remote command) without touching the link.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from swf_adapters.transport.pyro.private_files import check_socket_is_ours, read_key
from swf_adapters.transport.pyro.protocol import engine_uri


class Connector(Protocol):
    """Where an engine is and how to bring it back."""

    def describe(self) -> str:
        """The engine's place for messages ("the engine at /run/.../engine.sock")."""
        ...

    def uri(self) -> str:
        """The Pyro URI of the engine object."""
        ...

    def key(self) -> str:
        """The key to present (EngineError naming the reason when there is none)."""
        ...

    def check(self) -> None:
        """Refuse (EngineError) an endpoint that someone else could have put there."""
        ...

    def restart(self) -> None:
        """The engine was found gone: start one if this connector can (or do nothing)."""
        ...


class LocalSocketConnector:
    """The local daemon: a Unix socket in a private directory and a 0600 key file."""

    def __init__(
        self,
        socket_path: Path | str,
        key_file: Path | str,
        on_disconnect: Callable[[], None] | None = None,
    ) -> None:
        self.socket_path = Path(socket_path)
        self.key_file = Path(key_file)
        self._on_disconnect = on_disconnect

    def describe(self) -> str:
        return f"the engine at {self.socket_path}"

    def uri(self) -> str:
        return engine_uri(self.socket_path)

    def key(self) -> str:
        return read_key(self.key_file)

    def check(self) -> None:
        check_socket_is_ours(self.socket_path)

    def restart(self) -> None:
        if self._on_disconnect is not None:
            self._on_disconnect()
