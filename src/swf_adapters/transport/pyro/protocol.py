"""What client and server agree on: object id, serializer, URI form, the operations served.

The engine object exposes one Pyro method, ``call(operation, arguments)``: the operation is
a name of the link table (``swf_app.link.OPERATIONS``) or of the engine's own management
table below; the arguments travel as one packed text and the result comes back as one
(``wire_models``), so serpent only ever decodes two short strings per call.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from swf_app.link import OPERATIONS, Operation, command, operations_of, query

#: The link protocol number. RULE: bump it in the same commit as any change to what crosses
#: the link — the link table (``swf_app.link.OPERATIONS``, ``MANAGEMENT`` below), how
#: arguments and results are packed (``wire_models``, ``wire_data``, ``wire_errors``) or the
#: handshake. A client and an engine talk only when their numbers are equal (``compatible``):
#: a version string alone cannot tell two builds of one release apart.
WIRE_PROTOCOL = 2
#: The number of an engine that advertises none (swf before the number existed).
LEGACY_PROTOCOL = 1

OBJECT_ID = "swf.engine"
SERIALIZER = "serpent"
#: The one exposed method.
CALL = "call"
#: Refusal reason sent to a client whose handshake does not carry the key.
KEY_REFUSED = "swf engine refused the client key"
#: Refusal reason sent to a client that names another serializer than serpent.
SERIALIZER_REFUSED = "swf engine accepts the serpent serializer only"
#: Reason a call is rejected while the engine shuts down (the client reconnects and retries).
SHUTTING_DOWN = "swf engine is shutting down"
#: A handshake (key + object name, serpent) is ~200 bytes: anything bigger is refused unread.
MAX_HANDSHAKE_BYTES = 4096


class EngineManagement(Protocol):
    """Operations of the engine process itself (``swf engine ...``), not of its service."""

    @query
    def ping(self) -> int:
        """The engine's pid (a liveness probe that counts as client activity)."""
        ...

    @query
    def stats(self) -> dict[str, Any]:
        """Where the engine runs, since when, and what it holds."""
        ...

    @command
    def shutdown_engine(self) -> bool:
        """Stop the engine cleanly; its jobs keep running."""
        ...


MANAGEMENT: dict[str, Operation] = operations_of(EngineManagement)
#: Everything a client may call, by name.
SERVED: dict[str, Operation] = {**OPERATIONS, **MANAGEMENT}


@dataclass(frozen=True)
class Peer:
    """One side of a link: its swf version and link protocol number."""

    version: str
    protocol: int = WIRE_PROTOCOL

    def describe(self) -> str:
        return f"swf {self.version} (link protocol {self.protocol})"


def peer_of(hello: Any) -> Peer:
    """The peer an engine's handshake answer (or an agent's ``hello``) describes; an answer
    without a protocol number comes from an swf older than the number: LEGACY_PROTOCOL."""
    if not isinstance(hello, dict):
        return Peer("unknown", LEGACY_PROTOCOL)
    protocol = hello.get("protocol")
    number = protocol if type(protocol) is int else LEGACY_PROTOCOL
    return Peer(str(hello.get("swf", "unknown")), number)


def swf_version() -> str:
    """This installation's swf version ("unknown" when run from a tree not installed)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("swf")
    except PackageNotFoundError:
        return "unknown"


def local_peer() -> Peer:
    """This side of every link (read at call time, so a test may change WIRE_PROTOCOL)."""
    return Peer(swf_version(), WIRE_PROTOCOL)


def compatible(remote: Peer, local: Peer) -> bool:
    """Can ``local`` talk to ``remote`` (an engine, a remote agent)? Same link protocol
    (what crosses the wire matches) and same ``major.minor`` (the agent's commands and the
    engine's behaviour match)."""
    same_release = remote.version.split(".")[:2] == local.version.split(".")[:2]
    return same_release and remote.protocol == local.protocol


def engine_uri(socket_path: Path) -> str:
    """The Pyro URI of the engine object served on ``socket_path``."""
    return f"PYRO:{OBJECT_ID}@./u:{socket_path}"
