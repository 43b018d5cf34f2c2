"""The job host: a long-lived process that spawns, reaps and kills the jobs of one engine.

It outlives the engine on purpose. The engine talks to it over a Unix socket in the
state directory; if the engine dies (even ``kill -9``), the host keeps running jobs and
journaling their ends, and the next engine to connect gets every end it has not
acknowledged. The host leaves on its own once idle (nothing running or being killed,
nobody connected) for ``idle_timeout`` seconds, even with ends not yet acknowledged: they
stay in its journal, and the next host started for the next engine reports them.

One thread, one ``epoll`` loop: SIGCHLD wakes it through ``signal.set_wakeup_fd`` and it
reaps every ended child with ``os.wait4`` (exit status and rusage in one call; no polling
of jobs). Each loop pass reads every engine request available, spawns, reaps, then
*commits*: one journal write for the whole pass, then one socket write per engine. Under
load a pass carries many records, so the cost per job falls as the load rises. The loop
uses ``select.epoll`` itself rather than ``selectors`` and keeps the calls per job few:
with two slots and ``true`` jobs, the host's Python code is a visible share of each
job's cost on two cores (see ``bench/bench_spawn.py``).

Run as ``python -m swf_adapters.schedulers.local.host --state-dir DIR`` (the adapter does).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import fcntl
import logging
import os
import select
import signal
import socket
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from swf_adapters.process import ends, wakeup
from swf_adapters.process.ends import EndFacts
from swf_adapters.process.reason import tell_job
from swf_adapters.schedulers.local import wire
from swf_adapters.schedulers.local.journal import Journal, read_journal
from swf_adapters.schedulers.local.killer import (
    TreeKill,
    begin_kill,
    escalate,
    leader_gone,
    orphan_still_running,
    tree_gone,
)
from swf_adapters.schedulers.local.layout import (
    StateLayout,
    remove_quietly,
    socket_address,
    write_pid_file,
)
from swf_adapters.schedulers.local.settings import DEFAULT_IDLE_TIMEOUT, DEFAULT_KILL_GRACE
from swf_adapters.schedulers.local.spawner import (
    COMMAND_NOT_FOUND,
    explain_failure,
    spawn,
)

_log = logging.getLogger("swf.jobhost")

#: How often a kill in progress checks whether the tree is gone (only while killing).
_KILL_POLL = 0.02
#: How long spawn records and acknowledgements may wait for company (see ``_commit``).
_SPAWN_REPORT_DELAY = 0.005
#: Records journaled at least this often while a big batch is being spawned.
_JOURNAL_EVERY = 16
#: An engine that stops reading is dropped past this much unsent data (it can reconnect).
_MAX_OUTBOX = 64 << 20
_MAX_INBOX = 64 << 20
#: Not larger: recv(n) allocates n bytes first, and above ~128 KiB that is an mmap
#: and munmap per call (measured: 75 us per small message at 256 KiB, 8 us at 64 KiB).
_RECV_SIZE = 1 << 16
_PR_SET_CHILD_SUBREAPER = 36


class HostJob:
    """A job the host has started and not yet reported ended."""

    __slots__ = ("end", "job_id", "pid", "spawn_line", "start")

    def __init__(self, job_id: int, pid: int, start: float, spawn_line: str) -> None:
        self.job_id = job_id
        self.pid = pid
        self.start = start
        self.spawn_line = spawn_line
        #: Set when a job being killed is reaped: reported once its whole tree is gone.
        self.end: EndFacts | None = None


class Client:
    """One engine connection."""

    __slots__ = ("cwd", "env", "fd", "inbox", "outbox", "sock", "welcomed")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.fd = sock.fileno()
        self.inbox = bytearray()
        self.outbox = bytearray()
        self.env: dict[str, str] = dict(os.environ)
        self.cwd: str | None = None
        #: Events go only to engines that were sent the welcome (the state so far).
        self.welcomed = False


class JobHost:
    """The host's state and its event loop (see the module docstring)."""

    def __init__(self, layout: StateLayout, idle_timeout: float, kill_grace: float) -> None:
        self._layout = layout
        self._idle_timeout = idle_timeout
        self._kill_grace = kill_grace
        self._jobs: dict[int, HostJob] = {}
        self._by_pid: dict[int, HostJob] = {}
        self._ended: dict[int, str] = {}
        self._kills: dict[int, TreeKill] = {}
        self._clients: dict[int, Client] = {}
        self._greet: list[Client] = []
        self._pending: list[str] = []
        #: Journaled records not yet sent; ``_urgent`` once an end awaits (see _commit).
        self._unsent: list[bytes] = []
        self._urgent = False
        self._send_by: float | None = None
        self._acked: list[int] = []
        self._stopping = False
        self._epoll = select.epoll()
        #: What to call when a descriptor is ready: fd -> handler(epoll event mask).
        self._handlers: dict[int, Callable[[int], None]] = {}
        self._journal: Journal | None = None
        self._listener: socket.socket | None = None
        self._wake_r = -1
        self._cwd = _current_directory()

    # -- start-up ---------------------------------------------------------------------

    def recover(self) -> None:
        """Take over the journal of a previous host: the ends it holds, and its jobs.

        Jobs journaled as running belonged to a host that died: their exit status is
        lost. Those still alive are killed (tree and all) and every one of them is
        reported FAILED with an undetermined exit, never left running forever.
        """
        state = read_journal(self._layout.journal)
        self._ended = state.ended
        now = time.time()
        for job_id, record in state.running.items():
            pid, start = int(record[2]), float(record[3])
            job = HostJob(job_id, pid, start, ends.started_line(job_id, pid, start))
            self._jobs[job_id] = job
            if orphan_still_running(pid, start):
                _log.warning("job %s (pid %s) outlived its host: killing it", job_id, pid)
                self._kills[job_id] = begin_kill(job_id, pid, now + self._kill_grace, True)
            else:
                self._report(job, (ends.UNDETERMINED, None, None, None, now))
        self._journal = Journal(self._layout.journal)
        self._journal.rewrite(self._live_lines())
        self._pending.clear()
        if state.running or state.ended:
            _log.info(
                "recovered %d running and %d unacknowledged ended job(s)",
                len(state.running),
                len(state.ended),
            )

    def listen(self) -> None:
        """Bind the engine socket (only ever called while holding the host lock)."""
        path = self._layout.socket
        remove_quietly(path)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old_umask = os.umask(0o177)
        try:
            with socket_address(path) as address:
                listener.bind(address)
        finally:
            os.umask(old_umask)
        os.chmod(path, 0o600)
        listener.listen(64)
        listener.setblocking(False)
        self._listener = listener
        self._watch(listener.fileno(), self._on_accept)

    def _install_signals(self) -> None:
        self._wake_r, _ = wakeup.wake_on_child_end()
        signal.signal(signal.SIGTERM, self._on_stop_signal)
        signal.signal(signal.SIGINT, self._on_stop_signal)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        self._watch(self._wake_r, self._on_wakeup)

    def _watch(self, fd: int, handler: Callable[[int], None]) -> None:
        self._epoll.register(fd, select.EPOLLIN)
        self._handlers[fd] = handler

    def _on_stop_signal(self, signum: int, frame: FrameType | None) -> None:
        self._stopping = True

    # -- the loop ---------------------------------------------------------------------

    def run(self) -> None:
        self._install_signals()
        self._reap()  # children that ended before SIGCHLD was handled
        idle_since: float | None = None
        poll = self._epoll.poll
        handlers = self._handlers
        try:
            while not self._stopping:
                for fd, mask in poll(self._timeout(idle_since)):
                    handler = handlers.get(fd)
                    if handler is not None:
                        handler(mask)
                if self._kills:
                    self._follow_kills()
                if self._pending or self._acked or self._unsent or self._greet:
                    self._commit()
                if self._jobs or self._clients or self._kills:
                    idle_since = None
                elif idle_since is None:
                    idle_since = time.monotonic()
                elif time.monotonic() - idle_since >= self._idle_timeout:
                    _log.info("idle for %.1f s: leaving", self._idle_timeout)
                    break
        finally:
            self._shut_down()

    def _timeout(self, idle_since: float | None) -> float:
        """Seconds ``epoll`` may wait (-1: until something happens)."""
        if self._send_by is not None:
            return max(0.0, self._send_by - time.monotonic())
        if self._kills:
            return _KILL_POLL
        if idle_since is not None:
            return max(0.0, idle_since + self._idle_timeout - time.monotonic())
        if not (self._jobs or self._clients):
            return self._idle_timeout
        return -1.0

    def _commit(self) -> None:
        """Journal what this pass did, tell the engines, then greet new ones.

        Records are journaled, then sent, together. A pass that ended a job (or welcomes
        an engine) commits at once; spawn records and acknowledgements alone wait up to
        ``_SPAWN_REPORT_DELAY`` for company: a short job's start and end then cost one
        journal write and reach the engine in one message, which halves the host's
        writes and the engine's wake-ups per job, for a RUNNING event at most 5 ms late.
        A big batch is journaled every ``_JOURNAL_EVERY`` spawns (see ``_start``), so a
        crash of the host leaves at most that many started jobs unknown.
        """
        if self._urgent or self._greet:
            self._commit_now()
        elif self._send_by is None:
            self._send_by = time.monotonic() + _SPAWN_REPORT_DELAY
        elif time.monotonic() >= self._send_by:
            self._commit_now()
        if self._greet:
            greeted, self._greet = self._greet, []
            for client in greeted:
                if self._clients.get(client.fd) is client:  # not dropped meanwhile
                    self._welcome(client)

    def _commit_now(self) -> None:
        if self._pending or self._acked:
            self._write_journal()
        if self._unsent:
            self._broadcast()
        self._urgent = False
        self._send_by = None

    def _write_journal(self) -> None:
        """Journal the pending records (one write); they become ready to send."""
        journal = self._journal
        assert journal is not None
        data = "".join(self._pending).encode()
        records = len(self._pending)
        if self._acked:
            acks = wire.ids_line(wire.ACKNOWLEDGED, self._acked).encode()
            journal.append(data + acks, records + 1)
            self._acked.clear()
        else:
            journal.append(data, records)
        self._pending.clear()
        if data:
            self._unsent.append(data)
        if journal.needs_compaction(len(self._jobs) + len(self._ended)):
            journal.rewrite(self._live_lines())

    def _broadcast(self) -> None:
        data = b"".join(self._unsent)
        self._unsent.clear()
        for client in list(self._clients.values()):
            if client.welcomed:
                self._send(client, data)

    def _live_lines(self) -> list[str]:
        return [job.spawn_line for job in self._jobs.values()] + list(self._ended.values())

    def _welcome(self, client: Client) -> None:
        client.welcomed = True
        held = set(self._jobs) | set(self._ended)
        lines = [wire.welcome_line(held), *self._live_lines()]
        self._send(client, "".join(lines).encode())

    def _shut_down(self) -> None:
        self._epoll.close()
        for client in list(self._clients.values()):
            client.sock.close()
        if self._listener is not None:
            self._listener.close()
        remove_quietly(self._layout.socket)
        remove_quietly(self._layout.pid_file)
        if self._journal is not None and not (self._jobs or self._ended):
            self._journal.remove()
        elif self._jobs:
            _log.warning("leaving with %d job(s) still running", len(self._jobs))

    # -- engine connections -----------------------------------------------------------

    def _on_accept(self, mask: int) -> None:
        assert self._listener is not None
        while True:
            try:
                sock, _ = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            sock.setblocking(False)
            client = Client(sock)
            self._clients[client.fd] = client
            self._watch(client.fd, self._client_handler(client))

    def _client_handler(self, client: Client) -> Callable[[int], None]:
        def on_ready(mask: int) -> None:
            if mask & select.EPOLLOUT:
                self._flush(client)
            if mask & ~select.EPOLLOUT:  # readable, or hung up / in error: recv tells
                self._receive(client)

        return on_ready

    def _receive(self, client: Client) -> None:
        try:
            data = client.sock.recv(_RECV_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._drop(client)
            return
        cut = data.rfind(b"\n")
        if cut < 0:  # part of a long line: keep it (amortised, no quadratic copying)
            client.inbox += data
            if len(client.inbox) > _MAX_INBOX:
                _log.error("engine sent an over-long line: dropping the connection")
                self._drop(client)
            return
        complete = bytes(client.inbox) + data[: cut + 1] if client.inbox else data[: cut + 1]
        client.inbox = bytearray(data[cut + 1 :])
        if complete:
            for record in wire.parse_lines(complete, _warn_bad_request):
                try:
                    self._handle(client, record)
                except Exception:
                    _log.exception("bad request %r", record[:2])

    def _handle(self, client: Client, record: list[Any]) -> None:
        tag = record[0]
        if tag == wire.SUBMIT:
            for spec in record[1]:
                try:
                    self._start(client, spec)
                except Exception as error:  # one malformed job must not lose the others
                    _log.exception("cannot start job %r", spec[:1])
                    self._reject(spec, f"malformed job request ({error})")
        elif tag == wire.ACKNOWLEDGED:
            for job_id in record[1:]:
                if self._ended.pop(job_id, None) is not None:
                    self._acked.append(job_id)
        elif tag == wire.KILL:
            for job_id in record[1:]:
                self._kill(job_id)
        elif tag == wire.HELLO:
            client.env = {str(k): str(v) for k, v in record[2].items()}
            client.cwd = record[3]
            if not client.welcomed and client not in self._greet:
                self._greet.append(client)
        else:
            _log.warning("unknown request %r", tag)

    def _send(self, client: Client, data: bytes) -> None:
        if client.outbox:
            client.outbox += data
        else:
            try:
                sent = client.sock.send(data)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError:
                self._drop(client)
                return
            if sent == len(data):
                return
            client.outbox += data[sent:]
            self._epoll.modify(client.fd, select.EPOLLIN | select.EPOLLOUT)
        if len(client.outbox) > _MAX_OUTBOX:
            _log.error("engine does not read its events: dropping the connection")
            self._drop(client)

    def _flush(self, client: Client) -> None:
        try:
            sent = client.sock.send(client.outbox)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._drop(client)
            return
        del client.outbox[:sent]
        if not client.outbox:
            self._epoll.modify(client.fd, select.EPOLLIN)

    def _drop(self, client: Client) -> None:
        if self._clients.get(client.fd) is not client:
            return  # dropped already (and its descriptor number may serve another engine)
        del self._clients[client.fd]
        self._handlers.pop(client.fd, None)
        with contextlib.suppress(OSError, ValueError):
            self._epoll.unregister(client.fd)
        client.sock.close()

    # -- jobs -------------------------------------------------------------------------

    def _start(self, client: Client, spec: Sequence[Any]) -> None:
        job_id, argv, env, stdout, stderr, cwd, stdin, private = spec
        if job_id in self._jobs or job_id in self._ended:
            _log.warning("job %s submitted again while the host still holds it: ignored", job_id)
            return
        full_env = {**client.env, **env} if env else client.env
        if cwd is None and client.cwd is not None and client.cwd != self._cwd:
            self._change_directory(client)
        start = time.time()
        try:
            pid = spawn(argv, full_env, stdout, stderr, cwd, stdin, private)
        except OSError as error:
            value, reason = explain_failure(argv, full_env, stdout, stderr, cwd, stdin, error)
            output = stderr if stderr is not None else stdout
            tell_job(output, f"cannot start the job: {reason}", truncate=True)
            self._report_start_failure(job_id, value, start)
            return
        line = ends.started_line(job_id, pid, start)
        job = HostJob(job_id, pid, start, line)
        self._jobs[job_id] = job
        self._by_pid[pid] = job
        self._pending.append(line)
        if len(self._pending) >= _JOURNAL_EVERY:
            # Within a big batch, journal as we go: if the host died mid-batch, the jobs
            # already started must still be known to the next host.
            self._write_journal()

    def _report_start_failure(self, job_id: int, exit_value: int, start: float) -> None:
        line = ends.ended_line(job_id, 0, start, ends.start_failure(exit_value, start))
        self._ended[job_id] = line
        self._pending.append(line)
        self._urgent = True

    def _reject(self, spec: Any, reason: str) -> None:
        """Fail a job whose request cannot even be read, if it can be named at all."""
        job_id = spec[0] if isinstance(spec, list) and spec else None
        if type(job_id) is not int or job_id in self._jobs or job_id in self._ended:
            return
        output = spec[4] if len(spec) > 4 and isinstance(spec[4], str) else None
        if output is None and len(spec) > 3 and isinstance(spec[3], str):
            output = spec[3]
        tell_job(output, f"cannot start the job: {reason}", truncate=True)
        self._report_start_failure(job_id, COMMAND_NOT_FOUND, time.time())

    def _change_directory(self, client: Client) -> None:
        """Jobs without a working directory run in their engine's (it may have moved)."""
        assert client.cwd is not None
        try:
            os.chdir(client.cwd)
        except OSError as error:
            _log.warning("cannot enter the engine's directory %r: %s", client.cwd, error)
            client.cwd = None  # keep the host's directory rather than retry for every job
        else:
            self._cwd = client.cwd

    def _on_wakeup(self, mask: int) -> None:
        wakeup.drain(self._wake_r)
        self._reap()

    def _reap(self) -> None:
        """Reap every ended child (a job's orphans too: the host is a subreaper)."""
        for job, facts in ends.reap_children(self._by_pid):
            if job.job_id in self._kills:
                job.end = (ends.KILLED, *facts[1:])
            else:
                self._report(job, facts)

    def _report(self, job: HostJob, facts: EndFacts) -> None:
        line = ends.ended_line(job.job_id, job.pid, job.start, facts)
        del self._jobs[job.job_id]
        self._ended[job.job_id] = line
        self._pending.append(line)
        self._urgent = True

    def _kill(self, job_id: int) -> None:
        job = self._jobs.get(job_id)
        if job is None or job_id in self._kills:
            return  # ended already (its end is reported) or being killed
        deadline = time.monotonic() + self._kill_grace
        self._kills[job_id] = begin_kill(job_id, job.pid, deadline)

    def _follow_kills(self) -> None:
        now = time.monotonic()
        for job_id, kill in list(self._kills.items()):
            job = self._jobs[job_id]
            leader_done = leader_gone(kill) if kill.orphan else job.end is not None
            if leader_done and tree_gone(kill):
                self._finish_kill(job, kill)
            elif now >= kill.deadline:
                if not kill.escalated:
                    escalate(kill, now + self._kill_grace)
                elif leader_done:
                    _log.warning("job %s: part of its tree survived SIGKILL", job_id)
                    self._finish_kill(job, kill)

    def _finish_kill(self, job: HostJob, kill: TreeKill) -> None:
        del self._kills[job.job_id]
        if kill.orphan:
            self._report(job, (ends.UNDETERMINED, None, None, None, time.time()))
        else:
            assert job.end is not None
            self._report(job, job.end)


def _current_directory() -> str:
    try:
        return os.getcwd()
    except OSError:  # removed under our feet: any engine directory will differ
        return ""


def _warn_bad_request(line: bytes) -> None:
    _log.warning("skipping an unreadable request line %r", line[:200])


def _become_subreaper() -> None:
    """Adopt the orphans of our jobs so that they are reaped, not left as zombies.

    Without it, a job's child that outlives its parent goes to pid 1, which in many
    containers never reaps; with it, the host's ``wait4`` loop reaps them.
    """
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def _parse_arguments(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="swf-jobhost", description=__doc__)
    parser.add_argument("--state-dir", required=True, type=Path)
    parser.add_argument("--idle-timeout", type=float, default=DEFAULT_IDLE_TIMEOUT)
    parser.add_argument("--kill-grace", type=float, default=DEFAULT_KILL_GRACE)
    parser.add_argument("--ready-fd", type=int, default=-1)
    return parser.parse_args(argv)


def _notifier(fd: int) -> Callable[[bytes], None]:
    def notify(message: bytes) -> None:
        if fd >= 0:
            with contextlib.suppress(OSError):
                os.write(fd, message)
                os.close(fd)

    return notify


def main(argv: Sequence[str] | None = None) -> int:
    arguments = _parse_arguments(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(
        level=logging.INFO, format=f"%(asctime)s jobhost[{os.getpid()}] %(levelname)s %(message)s"
    )
    notify = _notifier(arguments.ready_fd)
    layout = StateLayout(arguments.state_dir.absolute())  # the spawner changes directory
    layout.ensure()
    lock_fd = os.open(layout.lock_file, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        notify(b"busy\n")
        return 0
    _become_subreaper()
    host = JobHost(layout, arguments.idle_timeout, arguments.kill_grace)
    host.recover()
    host.listen()
    write_pid_file(layout)
    _log.info("serving %s", layout.root)
    notify(b"ready\n")
    host.run()
    os.close(lock_fd)
    return 0


if __name__ == "__main__":
    sys.exit(main())
