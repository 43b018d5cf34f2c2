"""``LocalScheduler``: the ``Scheduler`` port on the cores of this machine.

The jobs themselves are run by a job host process (``host.py``) that outlives the
engine; this adapter is the engine's end of the conversation. It sends requests in
batches and turns the host's records into ``SchedulerEvent`` batches on a reader thread,
one sink call per batch received, as soon as they arrive (no polling interval).

The host keeps its own journal (it must: it outlives the engine and reaps exit statuses
nobody else sees), so at ``start`` it already knows the jobs the store hands over; the
welcome lists what it holds. ``submit`` and ``kill`` are one write each on a local socket
that the host reads continuously: they never wait for a job to start or die.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from swf_adapters.schedulers.local import wire
from swf_adapters.schedulers.local.launcher import connect_to_host, shutdown_host
from swf_adapters.schedulers.local.layout import StateLayout
from swf_adapters.schedulers.local.settings import DEFAULT_IDLE_TIMEOUT, DEFAULT_KILL_GRACE
from swf_app.ports import (
    Capacity,
    CapacityUnit,
    EventSink,
    KnownJob,
    LaunchRequest,
    SchedulerEvent,
    SchedulerReport,
)
from swf_domain.errors import ConfigurationError, DRMError
from swf_domain.status import ExitInfo, ExitStatus, JobStatus

_log = logging.getLogger(__name__)

_EXIT_STATUSES = {status.value: status for status in ExitStatus}
#: Not larger: recv(n) allocates n bytes first, and above ~128 KiB that is an mmap
#: and munmap per call (measured: 75 us per small message at 256 KiB, 8 us at 64 KiB).
_RECV_SIZE = 1 << 16
_CONNECT_ATTEMPTS = 5
_ACK_DELAY = 0.005
#: Jobs per submit line: a huge batch goes as several lines (in one write), so that
#: the host never has to hold one enormous line.
_SUBMIT_LINE_JOBS = 1000


class LocalScheduler:
    """Runs jobs as local processes through the job host of ``state_dir``.

    ``slots`` (default: the number of CPUs) is the capacity, in CPUs, it reports: the
    engine keeps within it.
    ``idle_timeout`` and ``kill_grace`` configure a host this adapter starts.
    """

    def __init__(
        self,
        state_dir: Path,
        slots: int | None = None,
        *,
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
        kill_grace: float = DEFAULT_KILL_GRACE,
        start_timeout: float = 20.0,
    ) -> None:
        self._slots = slots if slots is not None else (os.cpu_count() or 1)
        if self._slots < 1:
            raise ConfigurationError(f"local scheduler: slots must be at least 1, not {slots}")
        self._layout = StateLayout(Path(state_dir))
        self._idle_timeout = idle_timeout
        self._kill_grace = kill_grace
        self._start_timeout = start_timeout
        self._sink: EventSink | None = None
        self._sock: socket.socket | None = None
        self._send_lock = threading.Lock()
        self._reader: threading.Thread | None = None
        self._closing = False
        #: Jobs submitted on this connection whose end has not arrived: if the host dies,
        #: the ones a new host does not hold are reported lost.
        self._in_flight: set[int] = set()
        #: Acknowledgements not sent yet (see ``acknowledge``), and their sender thread.
        self._acks: list[int] = []
        self._ack_due = threading.Event()
        self._ack_armed = False
        self._ack_sender: threading.Thread | None = None

    # -- the port ---------------------------------------------------------------------

    def start(self, sink: EventSink, known: Sequence[KnownJob] = ()) -> frozenset[int]:
        """Connect to the host (started if need be); its welcome lists what it holds,
        a superset of ``known`` minus the jobs lost with a previous host."""
        if self._sock is not None:
            raise DRMError(f"local scheduler of {self._layout.root} is already started")
        self._sink = sink
        self._closing = False
        self._in_flight.clear()  # the held set returned below supersedes it
        self._ack_armed = False
        sock, held, received = self._connect()
        self._sock = sock
        self._reader = threading.Thread(
            target=self._read_events,
            args=(sock, received),
            name="swf-local-scheduler-events",
            daemon=True,
        )
        self._reader.start()
        self._ack_due.clear()
        self._ack_sender = threading.Thread(
            target=self._send_late_acknowledgements, name="swf-local-scheduler-acks", daemon=True
        )
        self._ack_sender.start()
        return frozenset(held)

    def submit(self, requests: Sequence[LaunchRequest]) -> None:
        if not requests:
            return
        specs: list[Any] = [
            [
                request.job_id,
                request.argv,
                request.env if isinstance(request.env, dict) else dict(request.env),
                request.stdout_file,
                request.stderr_file,
                request.working_directory,
                request.stdin_file,
                request.private_outputs,
            ]
            for request in requests
        ]
        data = "".join(
            wire.submit_line(specs[first : first + _SUBMIT_LINE_JOBS])
            for first in range(0, len(specs), _SUBMIT_LINE_JOBS)
        ).encode()
        with self._send_lock:
            self._in_flight.update(request.job_id for request in requests)
            self._send(data)

    def kill(self, job_ids: Sequence[int]) -> None:
        if job_ids:
            with self._send_lock:
                self._send(wire.ids_line(wire.KILL, job_ids).encode())

    def acknowledge(self, job_ids: Sequence[int]) -> None:
        """Acknowledgements ride on the next request, or leave on their own 5 ms later.

        The engine acknowledges and then submits the jobs the ends made ready: sending
        both at once spares the host a wake-up per tick, which measurably slows short
        jobs. A late acknowledgement costs nothing: the host only holds the end longer.
        """
        if not job_ids:
            return
        with self._send_lock:
            self._acks.extend(job_ids)
            wake = not self._ack_armed
            self._ack_armed = True
        if wake:  # at most once per _ACK_DELAY, however many ticks acknowledge
            self._ack_due.set()

    def capacity(self) -> Capacity:
        return Capacity(CapacityUnit.CPUS, self._slots)

    def close(self) -> None:
        self._closing = True
        self._ack_due.set()
        with self._send_lock:
            if self._acks and self._sock is not None:
                self._send(b"")
            sock, self._sock = self._sock, None
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
        for thread in (self._reader, self._ack_sender):
            if thread is not None and thread is not threading.current_thread():
                thread.join(timeout=10)
        self._reader = self._ack_sender = None

    # -- beyond the port --------------------------------------------------------------

    def shutdown_host(self, timeout: float = 10.0) -> bool:
        """Disconnect, then terminate the job host by pid (tests, administration).

        Running jobs go on without it; the next host reports them FAILED with an
        undetermined exit. Returns False when no host was running.
        """
        self.close()
        return shutdown_host(self._layout, timeout)

    @property
    def state_dir(self) -> Path:
        return self._layout.root

    # -- connection -------------------------------------------------------------------

    def _send(self, data: bytes) -> None:
        """Send under ``_send_lock``, pending acknowledgements first; a broken host is
        the reader's to notice and repair."""
        sock = self._sock
        if sock is None:
            raise DRMError(f"local scheduler of {self._layout.root} is not connected")
        if self._acks:
            data = wire.ids_line(wire.ACKNOWLEDGED, self._acks).encode() + data
            self._acks.clear()
        try:
            sock.sendall(data)
        except OSError as error:
            _log.warning("job host of %s unreachable (%s): reconnecting", self._layout.root, error)

    def _send_late_acknowledgements(self) -> None:
        """Send acknowledgements that no request carried within ``_ACK_DELAY``."""
        while not self._closing:
            self._ack_due.wait()
            self._ack_due.clear()
            time.sleep(_ACK_DELAY)
            with self._send_lock:
                self._ack_armed = False
                if self._acks and self._sock is not None and not self._closing:
                    self._send(b"")

    def _connect(self) -> tuple[socket.socket, list[int], bytes]:
        """Connect and say hello; returns the socket, the held job ids, and the bytes
        received after the welcome (the first events)."""
        last_error: Exception | None = None
        for _ in range(_CONNECT_ATTEMPTS):
            sock = connect_to_host(
                self._layout,
                self._idle_timeout,
                self._kill_grace,
                self._start_timeout,
                may_launch=lambda: not self._closing,
            )
            try:
                sock.settimeout(self._start_timeout)
                sock.sendall(wire.hello_line(os.environ, _working_directory()).encode())
                held, received = _read_welcome(sock)
                sock.settimeout(None)
                return sock, held, received
            except (OSError, ValueError, EOFError) as error:
                # The host was leaving (idle) as we came: start over.
                last_error = error
                sock.close()
        raise DRMError(f"the job host of {self._layout.root} does not answer: {last_error}")

    def _read_events(self, sock: socket.socket, received: bytes) -> None:
        """The reader thread: host records -> event batches -> sink."""
        buffer = received
        while True:
            complete, buffer = wire.split_complete(buffer)
            if complete:
                self._dispatch(complete)
            try:
                data = sock.recv(_RECV_SIZE)
            except OSError:
                data = b""
            if data:
                buffer += data
                continue
            if self._closing:
                return
            replacement = self._reconnect(sock)
            if replacement is None:
                return
            sock, buffer = replacement

    def _dispatch(self, chunk: bytes) -> None:
        events: list[SchedulerEvent] = []
        in_flight = self._in_flight
        for record in wire.parse_lines(chunk, _warn_bad_record):
            tag = record[0]
            try:
                if tag == wire.ENDED:
                    events.append(_ended_event(record))
                    in_flight.discard(record[1])
                elif tag == wire.SPAWNED:
                    _, job_id, pid, start = record
                    events.append(SchedulerEvent(job_id, JobStatus.RUNNING, None, str(pid), start))
            except (ValueError, KeyError, TypeError):
                _warn_bad_record(repr(record).encode())
        if events:
            self._deliver(events)

    def _deliver(self, events: Sequence[SchedulerReport]) -> None:
        sink = self._sink
        if sink is None:
            return
        try:
            sink(events)
        except Exception:
            _log.exception("the scheduler event sink failed on %d event(s)", len(events))

    def _reconnect(self, broken: socket.socket) -> tuple[socket.socket, bytes] | None:
        """The host went away: reach (or start) a new one; report jobs it lost."""
        _log.warning("lost the job host of %s: reconnecting", self._layout.root)
        with self._send_lock:
            if self._closing:
                return None
            broken.close()
            if not self._layout.root.exists():
                # The state directory was removed (its engine is being torn down): a new
                # host there would have no journal to keep and nobody to serve.
                _log.warning("%s is gone: no job host restarted", self._layout.root)
                self._sock = None
                return None
            try:
                sock, held, received = self._connect()
            except DRMError:
                self._sock = None
                if self._closing:  # being stopped: the jobs are not lost, just not watched
                    return None
                _log.exception("cannot reach a job host again")
                lost = set(self._in_flight)
                self._in_flight.clear()
                replacement = None
            else:
                self._sock = sock
                lost = self._in_flight - set(held)
                self._in_flight -= lost
                replacement = sock, received
        if lost:
            now = time.time()
            undetermined = ExitInfo(ExitStatus.EXIT_UNDETERMINED)
            self._deliver(
                [
                    SchedulerEvent(job_id, JobStatus.FAILED, undetermined, None, now)
                    for job_id in lost
                ]
            )
        return replacement


def _read_welcome(sock: socket.socket) -> tuple[list[int], bytes]:
    received = b""
    while b"\n" not in received:
        chunk = sock.recv(_RECV_SIZE)
        if not chunk:
            raise EOFError("the job host closed the connection")
        received += chunk
    line, _, rest = received.partition(b"\n")
    record = wire.parse_lines(line + b"\n", _warn_bad_record)
    if not record or record[0][0] != wire.WELCOME or record[0][1] != wire.PROTOCOL_VERSION:
        raise ValueError(f"unexpected answer from the job host: {line[:200]!r}")
    return [int(job_id) for job_id in record[0][2]], rest


def _ended_event(record: list[Any]) -> SchedulerEvent:
    _, job_id, pid, exit_status, exit_value, term_signal, usage, _start, end = record
    exit_info = ExitInfo(_EXIT_STATUSES[exit_status], exit_value, term_signal, usage)
    status = JobStatus.DONE if exit_info.succeeded() else JobStatus.FAILED
    return SchedulerEvent(job_id, status, exit_info, str(pid) if pid else None, end)


def _working_directory() -> str:
    """Where jobs without a working directory run: the engine's own directory."""
    try:
        return os.getcwd()
    except OSError:  # removed under the engine's feet
        return os.path.expanduser("~")


def _warn_bad_record(line: bytes) -> None:
    _log.warning("job host sent an unreadable line %r", line[:200])
