"""Rank 0's own job slots: a worker in a child process, over a socket pair.

``swf mpi-run --rank0-cores N`` runs jobs beside the engine too. They are not run by a
thread of rank 0: spawning and reaping would then share the engine's interpreter lock
and slow its event loop. A child process runs the usual ``Worker`` loop (same spawner,
same wire), and rank 0's adapter reaches it as "rank 0" through ``RoutedChannel``: the
engine and the adapter do not know this worker is not an MPI rank. The child never
touches MPI: it gets only its socket, and an environment without the launcher's
variables about rank 0.

Frames on the socket: 4-byte big-endian length, 1-byte tag, payload. Both ends are
non-blocking (a blocked send on each side would deadlock them): ``send`` appends to an
outgoing buffer that ``flush`` writes as far as the socket takes it. When rank 0 goes
away (its end closed), the child receives a stop order, ends its jobs and leaves.

    python -m swf_adapters.schedulers.mpi.piped --fd 3 --cores 2
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import socket
import struct
import subprocess
import sys
from collections.abc import Mapping, Sequence

from swf_adapters.schedulers.mpi import wire
from swf_adapters.schedulers.mpi.channel import Channel, Received

_HEADER = struct.Struct(">IB")
_READ_SIZE = 1 << 16
#: The rank the child worker answers to, and the rank it is to the adapter.
RANK0 = 0


class PipeChannel:
    """A ``Channel`` over one end of a stream socket (one peer, whatever ``dest``)."""

    def __init__(self, sock: socket.socket, rank: int, peer: int) -> None:
        sock.setblocking(False)
        self._sock = sock
        self.rank = rank
        self._peer = peer
        self._out = bytearray()
        self._in = bytearray()
        #: The other end closed (it is gone).
        self.closed = False

    def send(self, dest: int, tag: int, payload: bytes) -> None:
        self._out += _HEADER.pack(len(payload), tag) + payload
        self.flush()

    def receive(self) -> list[Received]:
        self._read_available()
        received: list[Received] = []
        while len(self._in) >= _HEADER.size:
            length, tag = _HEADER.unpack_from(self._in)
            end = _HEADER.size + length
            if len(self._in) < end:
                break
            received.append((self._peer, tag, bytes(self._in[_HEADER.size : end])))
            del self._in[:end]
        return received

    def flush(self) -> bool:
        while self._out and not self.closed:
            try:
                sent = self._sock.send(self._out)
            except (BlockingIOError, InterruptedError):
                return False
            except OSError:
                self.closed = True
                break
            del self._out[:sent]
        return not self._out or self.closed

    def close(self) -> None:
        self._sock.close()

    def _read_available(self) -> None:
        while not self.closed:
            try:
                chunk = self._sock.recv(_READ_SIZE)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                chunk = b""
            if not chunk:
                self.closed = True
                return
            self._in += chunk


class OrphanGuard:
    """The child's channel: a stop order once rank 0's end is gone, then nothing."""

    def __init__(self, inner: PipeChannel) -> None:
        self._inner = inner
        self.rank = inner.rank
        self._told = False

    def send(self, dest: int, tag: int, payload: bytes) -> None:
        self._inner.send(dest, tag, payload)

    def flush(self) -> bool:
        return self._inner.flush()

    def receive(self) -> list[Received]:
        received = self._inner.receive()
        if self._inner.closed and not self._told:
            self._told = True
            logging.getLogger("swf.mpi.worker").warning("rank 0 is gone: ending my jobs")
            received.append((RANK0, wire.ORDERS, wire.orders([], [], stop=True)))
        return received


class RoutedChannel:
    """Rank 0's channel: MPI for the worker ranks, socket pairs for the local workers.

    A local worker whose socket closed (its process ended, however) says goodbye through
    here, once: the adapter then fails or retries its jobs at once, without waiting for
    the heartbeat timeout.
    """

    def __init__(self, mpi: Channel, local: Mapping[int, PipeChannel]) -> None:
        self._mpi = mpi
        self._local = dict(local)
        self._gone: set[int] = set()
        self.rank = mpi.rank

    def send(self, dest: int, tag: int, payload: bytes) -> None:
        target = self._local.get(dest)
        (target or self._mpi).send(dest, tag, payload)

    def receive(self) -> list[Received]:
        received = self._mpi.receive()
        for rank, channel in self._local.items():
            received += channel.receive()
            if channel.closed and rank not in self._gone:
                self._gone.add(rank)
                received.append((rank, wire.REPORT, wire.encode([[wire.BYE]])))
        return received

    def flush(self) -> bool:
        done = self._mpi.flush()
        for channel in self._local.values():
            done = channel.flush() and done
        return done


class LocalWorkerProcess:
    """The child process that runs rank 0's job slots, and rank 0's end of its socket."""

    def __init__(self, cores: int, heartbeat: float, environ: Mapping[str, str]) -> None:
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        command = [
            sys.executable, "-m", __name__, "--fd", str(theirs.fileno()),
            "--cores", str(cores), "--heartbeat", str(heartbeat),
        ]  # fmt: skip
        try:
            self.process = subprocess.Popen(
                command, pass_fds=(theirs.fileno(),), env=dict(environ), stdin=subprocess.DEVNULL
            )
        finally:
            theirs.close()
        self.channel = PipeChannel(mine, RANK0, RANK0)

    def end(self, timeout: float = 10.0) -> None:
        """Wait for the child to leave (it was told to stop); kill it, by pid, if not."""
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
        finally:
            self.channel.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="swf-mpi-rank0-worker", description=__doc__)
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--cores", type=int, default=1)
    parser.add_argument("--heartbeat", type=float, default=2.0)
    arguments = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING,
        format=f"%(asctime)s rank0-jobs[{os.getpid()}] %(name)s %(levelname)s %(message)s",
    )
    from swf_adapters.schedulers.mpi.worker import Worker

    sock = socket.socket(fileno=arguments.fd)
    channel = OrphanGuard(PipeChannel(sock, RANK0, RANK0))
    worker = Worker(channel, arguments.cores, heartbeat=arguments.heartbeat)
    try:
        return worker.run()
    finally:
        with contextlib.suppress(OSError):
            sock.close()


if __name__ == "__main__":
    sys.exit(main())
