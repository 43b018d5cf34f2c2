"""What client and server agree on: object id, serializer, URI form, the operations served.

The engine object exposes one Pyro method, ``call(operation, arguments)``: the operation is
a name of the link table (``swf_app.link.OPERATIONS``) or of the engine's own management
table below; the arguments travel as one packed text and the result comes back as one
(``wire_models``), so serpent only ever decodes two short strings per call.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from swf_app.link import OPERATIONS, Operation, command, operations_of, query

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


def compatible(remote: str, local: str) -> bool:
    """Can swf ``local`` talk to swf ``remote`` (a remote engine, its agent)? Same
    ``major.minor``: the link table, the wire and the agent's commands match."""
    return remote.split(".")[:2] == local.split(".")[:2]


def engine_uri(socket_path: Path) -> str:
    """The Pyro URI of the engine object served on ``socket_path``."""
    return f"PYRO:{OBJECT_ID}@./u:{socket_path}"
