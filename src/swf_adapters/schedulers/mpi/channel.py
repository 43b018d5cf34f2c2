"""Non-blocking messages between ranks: the only module that calls mpi4py.

MPI offers no descriptor to wait on, and MPICH's blocking calls spin a core at 100 %
(measured: a rank blocked two seconds in ``recv`` used two seconds of CPU). So neither
side ever blocks inside MPI: sends are ``Isend`` (the buffer is kept until the request
completes), and receiving is ``Improbe`` + ``Mrecv`` of whatever has already arrived.
The callers sleep between looks (see ``Backoff``), so an idle rank costs nothing.
"""

from __future__ import annotations

import collections
import threading
from typing import Any, Protocol

#: (source rank, tag, payload) of one received message.
Received = tuple[int, int, bytes]


class Channel(Protocol):
    """Messages of one rank to and from the others."""

    rank: int

    def send(self, dest: int, tag: int, payload: bytes) -> None:
        """Queue a message for ``dest``; never blocks."""
        ...

    def receive(self) -> list[Received]:
        """Every message that has arrived, in arrival order; never blocks."""
        ...

    def flush(self) -> bool:
        """Complete what the network has taken; True when no send is pending."""
        ...


class MpiChannel:
    """A ``Channel`` on an mpi4py communicator (one thread at a time may use it)."""

    def __init__(self, comm: Any) -> None:
        from mpi4py import MPI

        self._mpi = MPI
        self._comm = comm
        self.rank: int = comm.Get_rank()
        self.size: int = comm.Get_size()
        #: Requests in flight, with the buffers they read from (kept alive until done).
        self._sends: list[tuple[Any, bytes]] = []

    def send(self, dest: int, tag: int, payload: bytes) -> None:
        request = self._comm.Isend([payload, self._mpi.BYTE], dest=dest, tag=tag)
        self._sends.append((request, payload))
        if len(self._sends) > 32:
            self.flush()

    def receive(self) -> list[Received]:
        mpi = self._mpi
        status = mpi.Status()
        received: list[Received] = []
        while True:
            message = self._comm.Improbe(mpi.ANY_SOURCE, mpi.ANY_TAG, status)
            if message is None:
                return received
            buffer = bytearray(status.Get_count(mpi.BYTE))
            source, tag = status.Get_source(), status.Get_tag()
            message.Recv([buffer, mpi.BYTE])
            received.append((source, tag, bytes(buffer)))

    def flush(self) -> bool:
        if self._sends:
            self._sends = [(request, data) for request, data in self._sends if not request.Test()]
        return not self._sends


class LocalChannels:
    """In-process channels between ``size`` ranks (tests of the protocol without MPI)."""

    def __init__(self, size: int) -> None:
        self._lock = threading.Lock()
        self._boxes: list[collections.deque[Received]] = [collections.deque() for _ in range(size)]
        #: Ranks whose messages are dropped (a dead rank, in tests).
        self.dead: set[int] = set()

    def channel(self, rank: int) -> LocalChannel:
        return LocalChannel(self, rank)

    def post(self, source: int, dest: int, tag: int, payload: bytes) -> None:
        with self._lock:
            if source not in self.dead and dest not in self.dead:
                self._boxes[dest].append((source, tag, payload))

    def take(self, rank: int) -> list[Received]:
        with self._lock:
            box = self._boxes[rank]
            taken = list(box)
            box.clear()
            return taken


class LocalChannel:
    def __init__(self, channels: LocalChannels, rank: int) -> None:
        self._channels = channels
        self.rank = rank

    def send(self, dest: int, tag: int, payload: bytes) -> None:
        self._channels.post(self.rank, dest, tag, payload)

    def receive(self) -> list[Received]:
        return self._channels.take(self.rank)

    def flush(self) -> bool:
        return True


class Backoff:
    """How long to sleep before looking for messages again: short right after traffic,
    longer and longer (up to ``longest``) while nothing comes."""

    def __init__(self, shortest: float = 0.0005, longest: float = 0.02, growth: float = 1.5):
        self.shortest = shortest
        self.longest = longest
        self._growth = growth
        self.delay = shortest

    def busy(self) -> None:
        self.delay = self.shortest

    def idle(self, longest: float | None = None) -> float:
        """The delay to sleep now; the next one will be longer."""
        delay = self.delay
        self.delay = min(delay * self._growth, self.longest if longest is None else longest)
        return delay
