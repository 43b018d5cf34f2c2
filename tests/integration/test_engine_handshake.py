"""The engine socket refuses hostile handshakes before decoding them (issue 9).

Raw bytes over the real Unix socket of a real engine daemon: a marshal handshake (which
Pyro5 alone would decode before checking the key: 5 bytes took an engine from 40 to 552
MiB, 50 bytes froze one for 45 s), a handshake declaring a body far bigger than any key,
and one that never finishes. Each is refused at once, the engine's memory does not move,
and the engine keeps serving its real clients.
"""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from Pyro5 import protocol
from Pyro5.serializers import MarshalSerializer, SerpentSerializer

from swf_adapters.transport.pyro import PyroEngineLink
from swf_adapters.transport.pyro.handshake import HEADER_BYTES
from swf_entry.daemon import EngineEndpoint, ensure_engine
from tests.integration.engine_daemon_fixtures import FAKE_FACTORY, engine_state_dir

pytestmark = pytest.mark.timeout(120)

#: A marshal list claiming 2**31 - 1 items: 5 bytes that make marshal allocate gigabytes.
HUGE_MARSHAL_LIST = b"[\xff\xff\xff\x7f"
#: Engine memory growth tolerated per hostile handshake (the attack made it ~500 MiB).
MAX_GROWTH = 16 * 1024 * 1024
#: Refusals must come at once, not after decoding or after waiting for a body.
MAX_SECONDS = 3.0


@pytest.fixture
def endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[EngineEndpoint]:
    with engine_state_dir(monkeypatch) as state_dir:
        yield ensure_engine(state_dir, FAKE_FACTORY, idle_timeout=0)


def header(serializer_id: int, data_size: int, flags: int = 0) -> bytes:
    """A Pyro connect header declaring ``data_size`` bytes of body."""
    return struct.pack(
        protocol._header_format,
        b"PYRO",
        protocol.PROTOCOL_VERSION,
        protocol.MSG_CONNECT,
        serializer_id,
        flags,
        0,
        data_size,
        0,
        b"\0" * 16,
        0,
        protocol._magic_number,
    )


def refusal(socket_path: Path, message: bytes) -> tuple[str, float]:
    """Send ``message`` raw; the engine's refusal reason and how long it took."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(30)
        client.connect(str(socket_path))
        started = time.monotonic()
        client.sendall(message)
        reply = b""
        while len(reply) < HEADER_BYTES:
            chunk = client.recv(4096)
            assert chunk, "the engine closed the connection without a refusal"
            reply += chunk
        answer = protocol.ReceivingMessage(reply[:HEADER_BYTES])
        while len(reply) < HEADER_BYTES + answer.data_size:
            reply += client.recv(4096)
        elapsed = time.monotonic() - started
    assert answer.type == protocol.MSG_CONNECTFAIL
    assert answer.serializer_id == SerpentSerializer.serializer_id
    body = reply[HEADER_BYTES : HEADER_BYTES + answer.data_size]
    return str(SerpentSerializer().loads(body)), elapsed


def rss(endpoint: EngineEndpoint) -> int:
    return int(psutil.Process(endpoint.pid).memory_info().rss)


def still_serves(endpoint: EngineEndpoint) -> None:
    with PyroEngineLink(endpoint.socket_path, endpoint.key_file) as link:
        assert link.ping() == endpoint.pid


@pytest.mark.parametrize(
    "body",
    [HUGE_MARSHAL_LIST, HUGE_MARSHAL_LIST * 10],
    ids=["5-byte-huge-list", "50-byte-huge-lists"],
)
def test_a_marshal_handshake_is_refused_unread(endpoint: EngineEndpoint, body: bytes) -> None:
    before = rss(endpoint)
    reason, elapsed = refusal(
        endpoint.socket_path, header(MarshalSerializer.serializer_id, len(body)) + body
    )
    assert reason == "swf engine accepts the serpent serializer only"
    assert elapsed < MAX_SECONDS
    assert rss(endpoint) - before < MAX_GROWTH
    still_serves(endpoint)


def test_a_handshake_declaring_a_huge_body_is_refused_before_reading_it(
    endpoint: EngineEndpoint,
) -> None:
    before = rss(endpoint)
    declared = 512 * 1024 * 1024  # never sent: the engine must not wait for it nor make room
    reason, elapsed = refusal(
        endpoint.socket_path, header(SerpentSerializer.serializer_id, declared) + b"'x'"
    )
    assert "handshake larger than" in reason
    assert elapsed < MAX_SECONDS
    assert rss(endpoint) - before < MAX_GROWTH
    still_serves(endpoint)


def test_a_compressed_handshake_is_refused(endpoint: EngineEndpoint) -> None:
    body = b"x" * 64
    message = header(SerpentSerializer.serializer_id, len(body), protocol.FLAGS_COMPRESSED)
    reason, elapsed = refusal(endpoint.socket_path, message + body)
    assert reason == "compressed handshakes are refused" and elapsed < MAX_SECONDS
    still_serves(endpoint)


def test_a_client_that_sends_half_a_header_does_not_block_others(
    endpoint: EngineEndpoint,
) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as stalled:
        stalled.connect(str(endpoint.socket_path))
        stalled.sendall(b"PYRO")  # and nothing more
        started = time.monotonic()
        still_serves(endpoint)
        assert time.monotonic() - started < MAX_SECONDS
