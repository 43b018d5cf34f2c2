"""The first wall of the engine socket: a handshake header is checked before any decoding.

Pyro5's daemon reads a connecting client's whole first message (whatever size its header
declares) and decodes it with whatever serializer the client names, marshal included,
before the key is compared: one 5-byte marshal message grew an engine from 40 to 552 MiB,
a 50-byte one declaring two billion items froze it for 45 s. So the header (a fixed 40
bytes) is peeked at first, without consuming it: only a small, uncompressed serpent
connect message is then handed to Pyro's own handshake; anything else is answered with a
refusal and the connection is closed, nothing of its body read.
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import time
from typing import Any

from Pyro5 import protocol
from Pyro5.serializers import SerpentSerializer

from swf_adapters.transport.pyro.protocol import MAX_HANDSHAKE_BYTES, SERIALIZER_REFUSED

log = logging.getLogger("swf.engine.pyro")

HEADER_BYTES = protocol._header_size  # fixed by the Pyro wire protocol (40)
#: A client has this long to send its handshake header, so none can hold a server thread.
HANDSHAKE_TIMEOUT = 10.0
_SERPENT = SerpentSerializer.serializer_id


def _peek_header(sock: socket.socket, deadline: float) -> bytes:
    """The first HEADER_BYTES bytes, left in the socket; fewer if the client is slow or
    leaves."""
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([sock], [], [], remaining)[0]:
            return b""
        header = sock.recv(HEADER_BYTES, socket.MSG_PEEK)
        if len(header) >= HEADER_BYTES or not header:
            return header
        time.sleep(0.005)  # part of the header arrived: the rest is on its way


def why_refused(header: bytes) -> str | None:
    """Why a connect message with this header is refused unread (None: it may be read)."""
    if len(header) < HEADER_BYTES:
        return "incomplete handshake"
    try:
        message = protocol.ReceivingMessage(header)
    except Exception:
        return "not a Pyro handshake"
    if message.type != protocol.MSG_CONNECT:
        return "not a Pyro handshake"
    if message.serializer_id != _SERPENT:
        return SERIALIZER_REFUSED
    if message.flags & protocol.FLAGS_COMPRESSED:
        return "compressed handshakes are refused"
    if message.data_size + message.annotations_size > MAX_HANDSHAKE_BYTES:
        return f"handshake larger than {MAX_HANDSHAKE_BYTES} bytes"
    return None


def refuse_unless_serpent_and_small(conn: Any) -> bool:
    """True when Pyro may now read the handshake on ``conn``; else it was refused."""
    sock: socket.socket = conn.sock
    try:
        reason = why_refused(_peek_header(sock, time.monotonic() + HANDSHAKE_TIMEOUT))
    except OSError:
        return False
    if reason is None:
        return True
    log.warning("refused a client handshake: %s", reason)
    refusal = protocol.SendingMessage(
        protocol.MSG_CONNECTFAIL, 0, 0, _SERPENT, SerpentSerializer().dumps(reason)
    )
    with contextlib.suppress(OSError):
        conn.send(refusal.data)
    return False
