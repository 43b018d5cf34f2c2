"""A big remote file read as consecutive ranges over several SFTP channels at once.

paramiko handles every 32 KB reply in Python, in the thread that reads: one channel
keeps one thread busy while the transport's thread and the network idle in turn.
Several channels, each reading its own range in its own thread, overlap those waits.
The ranges are handed out in order and at most ``_AHEAD`` of them are held, so the
reader still returns the file from start to end (the copier's ``.swf-part`` stays a
prefix of the file, and a cut transfer resumes from it) within bounded memory.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import suppress

import paramiko

#: Channels read at once (on loopback, 4 beat 1-3; paramiko's Python per reply, under
#: the GIL, still bounds the total).
STREAMS = 4
#: Bytes per range: a round trip to open the file per range stays negligible.
RANGE = 8 << 20
#: Ranges read ahead of the consumer (memory: ``_AHEAD * RANGE``).
_AHEAD = 2 * STREAMS

#: Bytes per read from paramiko's prefetch buffers (its reply size).
_PIECE = 32 * 1024

#: Opens a new SFTP channel; its errors are the tree's to translate.
OpenChannel = Callable[[], paramiko.SFTPClient]


class RangedReader:
    """``ReadStream`` of ``path`` from ``offset`` to ``end`` (see the module docstring)."""

    def __init__(self, open_channel: OpenChannel, path: str, offset: int, end: int) -> None:
        self._open_channel, self._path = open_channel, path
        self._starts = iter(range(offset, end, RANGE))
        self._end = end
        self._pool = ThreadPoolExecutor(STREAMS, thread_name_prefix="swf-sftp-range")
        self._pending: deque[Future[bytes]] = deque()
        self._local = threading.local()
        self._channels: list[paramiko.SFTPClient] = []
        self._lock = threading.Lock()
        self._buffer = memoryview(b"")
        self._fill()

    def read(self, size: int) -> bytes:
        """Up to ``size`` bytes (one range's rest at most); ``b""`` at the end."""
        if not self._buffer:
            if not self._pending:
                return b""
            self._buffer = memoryview(self._pending.popleft().result())
            self._fill()
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return bytes(data)

    def close(self) -> None:
        for waiting in self._pending:
            waiting.cancel()
        self._pool.shutdown(wait=True)
        with self._lock:
            channels, self._channels = self._channels, []
        for channel in channels:
            with suppress(Exception):  # a lost connection: nothing left to close
                channel.close()

    def _fill(self) -> None:
        while len(self._pending) < _AHEAD:
            start = next(self._starts, None)
            if start is None:
                return
            self._pending.append(self._pool.submit(self._read_range, start))

    def _read_range(self, start: int) -> bytes:
        length = min(RANGE, self._end - start)
        with self._channel().open(self._path, "rb") as stream:
            stream.seek(start)
            stream.prefetch(start + length)  # all of the range's requests at once
            data = b"".join(pieces(stream, length))
        if len(data) != length:
            # paramiko ends a prefetched read short, without an error, when the connection
            # is cut: treat it as lost (the transfer resumes); a file that really changed
            # fails the size + hash check of the next attempt.
            raise EOFError(f"{self._path}: range at {start} ended short (connection lost?)")
        return data

    def _channel(self) -> paramiko.SFTPClient:
        """This worker thread's own channel, opened on first use."""
        channel: paramiko.SFTPClient | None = getattr(self._local, "channel", None)
        if channel is None:
            channel = self._local.channel = self._open_channel()
            with self._lock:
                self._channels.append(channel)
        return channel


def pieces(stream: paramiko.SFTPFile, length: int) -> Iterator[bytes]:
    """The prefetched data a reply at a time (paramiko's one big ``read`` concatenates
    its buffer over and over: quadratic in the size asked for)."""
    while length > 0:
        piece = stream.read(min(_PIECE, length))
        if not piece:
            return
        length -= len(piece)
        yield piece
