"""A worker rank: runs the jobs rank 0 sends it, as many at once as it has cores.

One thread, one loop, like the local job host: jobs start through the same spawner
(``posix_spawn``, no shell, each job its own session), SIGCHLD wakes the loop through
``signal.set_wakeup_fd`` and ``os.wait4`` reaps each end with its resource usage. MPI
gives nothing to wait on, so between passes the loop sleeps on the wake-up descriptor for
a short, growing delay (``Backoff``) and then looks for orders again.

Rank 0 keeps a small queue of jobs at each worker (see ``adapter.py``), so that a worker
never waits a round trip for its next job. Ends are sent in batches
(``ReportBatching``): at once when the worker is about to run out of work (a chain's
next job waits for this end), otherwise by count and age.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import select
import signal
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass
from types import FrameType
from typing import Any

from swf_adapters.process import ends, wakeup
from swf_adapters.process.ends import EndFacts
from swf_adapters.process.reason import tell_job
from swf_adapters.schedulers.local.killer import TreeKill, begin_kill, escalate, tree_gone
from swf_adapters.schedulers.local.spawner import explain_failure, spawn
from swf_adapters.schedulers.mpi import wire
from swf_adapters.schedulers.mpi.channel import Backoff, Channel

_log = logging.getLogger("swf.mpi.worker")

#: Variables the MPI launcher gives this rank about itself: a job that is an MPI program
#: of its own must not believe it is a rank of the pilot.
_LAUNCHER_PREFIXES = (
    "PMI_",
    "PMIX_",
    "HYDI_",
    "HYDRA_",
    "MPI_LOCALNRANKS",
    "MPI_LOCALRANKID",
    "OMPI_COMM_WORLD_",
    "OMPI_UNIVERSE_SIZE",
    "PRTE_",
)
_KILL_POLL = 0.02


def job_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment every job of this rank starts from: the rank's, minus the MPI
    launcher's variables about the rank itself."""
    return {key: value for key, value in environ.items() if not key.startswith(_LAUNCHER_PREFIXES)}


@dataclass(frozen=True, slots=True)
class ReportBatching:
    """When a worker sends the ends (and starts) it recorded: few messages per job, each
    end still reaching rank 0 soon.

    A report goes at once when the worker is about to run dry (``starving``: nothing
    queued and a core free) or when its queue has drained to no more than the ends it
    holds (half of it since the last refill: rank 0's answer arrives before the queue is
    empty). Otherwise only a batch of ``batch`` ends is worth a message after ``delay``;
    fewer wait up to ``longest``. The count, not the clock alone, bounds the messages per
    job (a 50 ms clock alone gave 0.1 message per job at 200 jobs/s per rank), and the
    clock bounds how late an end may be.
    """

    batch: int = 20
    delay: float = 0.05
    longest: float = 0.25

    def due(self, ends: int, queued: int, starving: bool, age: float) -> bool:
        if starving or (ends and queued <= ends):
            return True
        return age >= self.longest or (age >= self.delay and ends >= self.batch)

    def wait(self, ends: int, age: float) -> float:
        """Seconds until the clock alone makes a report due."""
        return (self.delay if ends >= self.batch else self.longest) - age


class WorkerJob:
    """A job of this worker, queued or running."""

    __slots__ = ("deadline", "end", "job_id", "pid", "slots", "spec", "start", "timed_out")

    def __init__(self, spec: wire.JobSpec) -> None:
        self.spec = spec
        self.job_id: int = spec[wire.SPEC_ID]
        self.slots: int = max(1, int(spec[wire.SPEC_SLOTS] or 1))
        self.pid = 0
        self.start = 0.0
        self.deadline: float | None = None
        self.timed_out = False
        #: Its end when reaped during a kill (reported once its whole tree is gone).
        self.end: EndFacts | None = None


class Worker:
    """The loop of one worker rank (see the module docstring)."""

    def __init__(
        self,
        channel: Channel,
        cores: int,
        *,
        master: int = 0,
        environ: Mapping[str, str] | None = None,
        kill_grace: float = 2.0,
        batching: ReportBatching | None = None,
        heartbeat: float = 2.0,
        master_timeout: float = 60.0,
    ) -> None:
        self._channel = channel
        self._cores = max(1, cores)
        self._master = master
        self._env = job_environment(os.environ if environ is None else environ)
        self._kill_grace = kill_grace
        self._batching = batching or ReportBatching()
        self._heartbeat = heartbeat
        self._master_timeout = master_timeout
        self._queue: collections.deque[WorkerJob] = collections.deque()
        self._running: dict[int, WorkerJob] = {}
        self._by_pid: dict[int, WorkerJob] = {}
        self._kills: dict[int, TreeKill] = {}
        self._busy = 0
        #: Whether any job came with a time limit (otherwise none is ever looked for).
        self._timed = False
        self._records: list[list[Any]] = []
        #: End records among ``_records``.
        self._ends = 0
        #: End records rank 0 has not acknowledged (sent again to a new adapter).
        self._unacked: dict[int, list[Any]] = {}
        self._first_record_at: float | None = None
        self._last_sent = 0.0
        self._last_heard = time.monotonic()
        self._stopping = False
        self._terminated = False
        self._backoff = Backoff()
        self._wake_r = -1
        #: Jobs started and reports sent so far (logs, benchmarks).
        self.started = 0
        self.reports = 0

    # -- the loop ---------------------------------------------------------------------

    def run(self) -> int:
        """Serve rank 0 until it says stop; 0, or 1 when rank 0 went silent."""
        self._install_wakeup()
        self._say_hello()
        try:
            while True:
                if self._terminated and not self._stopping:
                    _log.warning("rank %s told to end: ending its jobs", self._channel.rank)
                    self._stop()
                self._take_orders()
                self._reap()
                self._start_queued()
                self._check_time_limits()
                if self._kills:
                    self._follow_kills()
                self._report_if_due()
                if self._stopping and not self._running:
                    self._flush()
                    self._channel.send(self._master, wire.REPORT, wire.encode([[wire.BYE]]))
                    _log.info(
                        "rank %s leaving: %d job(s) run, %.3f s of CPU, %d report(s)",
                        self._channel.rank,
                        self.started,
                        time.process_time(),
                        self.reports,
                    )
                    return 0
                if time.monotonic() - self._last_heard > self._master_timeout:
                    _log.error("rank 0 silent for %.0f s: ending my jobs", self._master_timeout)
                    self._abandon()
                    return 1
                self._sleep()
        finally:
            self._drain_sends()

    def _install_wakeup(self) -> None:
        self._wake_r, wake_w = wakeup.wake_on_child_end()
        for signum in (signal.SIGTERM, signal.SIGINT):  # the allocation ends: end the jobs
            signal.signal(signum, self._on_terminate)
        _close_inherited_descriptors((self._wake_r, wake_w))

    def _on_terminate(self, signum: int, frame: FrameType | None) -> None:
        self._terminated = True

    def _say_hello(self, inventory: bool = False) -> None:
        """Who this rank is; with ``inventory``, every job it holds and every end not
        acknowledged yet (a new adapter on rank 0 adopts them)."""
        self._flush()  # ends already recorded go first: the inventory comes after them
        held = [[job.job_id, job.pid, job.start, job.slots] for job in self._running.values()]
        held += [[job.job_id, 0, 0.0, job.slots] for job in self._queue]
        hello = {
            "rank": self._channel.rank,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "cores": self._cores,
            "inventory": inventory,
            "held": held,
            "ended": list(self._unacked.values()),
        }
        self._channel.send(self._master, wire.HELLO, wire.encode(hello))
        self._last_sent = time.monotonic()

    def _sleep(self) -> None:
        """Wait for a child's end or the next look for orders, whichever comes first."""
        now = time.monotonic()
        longest = self._backoff.longest
        if self._first_record_at is not None:
            wait = self._batching.wait(self._ends, now - self._first_record_at)
            longest = min(longest, max(0.0, wait))
        if self._kills:
            longest = min(longest, _KILL_POLL)
        deadline = self._next_deadline()
        if deadline is not None:
            longest = min(longest, max(0.0, deadline - now))
        delay = min(self._backoff.idle(), longest)
        readable, _, _ = select.select([self._wake_r], [], [], delay)
        if readable:
            wakeup.drain(self._wake_r)

    # -- orders -----------------------------------------------------------------------

    def _take_orders(self) -> None:
        for _source, tag, payload in self._channel.receive():
            self._last_heard = time.monotonic()
            self._backoff.busy()
            if tag != wire.ORDERS:
                _log.warning("unexpected message tag %s from rank 0", tag)
                continue
            order = wire.decode(payload)
            for job_id in order.get("ack", ()):
                self._unacked.pop(job_id, None)
            if order.get("inventory"):
                self._say_hello(inventory=True)
            if not self._stopping:  # told to end (SIGTERM): rank 0 hears "left" of them
                self._queue.extend(WorkerJob(spec) for spec in order.get("jobs", ()))
            for job_id in order.get("kill", ()):
                self._kill(job_id, timed_out=False)
            if order.get("stop"):
                self._stop()

    def _stop(self) -> None:
        """Rank 0 is done: nothing queued starts, what runs is ended."""
        self._stopping = True
        self._queue.clear()
        for job_id in list(self._running):
            self._kill(job_id, timed_out=False)

    def _abandon(self) -> None:
        self._stop()
        deadline = time.monotonic() + 2 * self._kill_grace + 1
        while self._running and time.monotonic() < deadline:
            self._reap()
            self._follow_kills()
            time.sleep(_KILL_POLL)

    # -- jobs -------------------------------------------------------------------------

    def _start_queued(self) -> None:
        queue = self._queue
        while queue:
            if self._busy and self._busy + queue[0].slots > self._cores:
                return  # no overtaking; a job wider than the rank runs alone
            job = queue.popleft()
            if job.job_id in self._kills:
                continue
            self._start(job)

    def _start(self, job: WorkerJob) -> None:
        spec = job.spec
        argv, extra = spec[wire.SPEC_ARGV], spec[wire.SPEC_ENV]
        stdout, stderr = spec[wire.SPEC_STDOUT], spec[wire.SPEC_STDERR]
        cwd, stdin = spec[wire.SPEC_CWD], spec[wire.SPEC_STDIN]
        env = {**self._env, **extra} if extra else self._env
        job.start = time.time()
        try:
            job.pid = spawn(argv, env, stdout, stderr, cwd, stdin, spec[wire.SPEC_PRIVATE])
        except OSError as error:
            value, reason = explain_failure(argv, env, stdout, stderr, cwd, stdin, error)
            tell_job(stderr if stderr is not None else stdout, f"cannot start the job: {reason}")
            facts = ends.start_failure(value, job.start)
            self._record(ends.ended_record(job.job_id, 0, job.start, facts))
            return
        self.started += 1
        timeout = spec[wire.SPEC_TIMEOUT]
        if timeout:
            job.deadline = time.monotonic() + float(timeout)
            self._timed = True
        self._running[job.job_id] = job
        self._by_pid[job.pid] = job
        self._busy += job.slots
        self._record(ends.started_record(job.job_id, job.pid, job.start))

    def _reap(self) -> None:
        if not self._by_pid:
            return
        for job, facts in ends.reap_children(self._by_pid):
            if job.job_id not in self._kills:
                self._ended(job, facts)
            elif job.timed_out:
                job.end = facts
            else:
                job.end = (ends.KILLED, *facts[1:])

    def _ended(self, job: WorkerJob, facts: EndFacts) -> None:
        del self._running[job.job_id]
        self._busy -= job.slots
        self._record(ends.ended_record(job.job_id, job.pid, job.start, facts))

    # -- kills and time limits --------------------------------------------------------

    def _next_deadline(self) -> float | None:
        if not self._timed:
            return None
        deadlines = [job.deadline for job in self._running.values() if job.deadline is not None]
        return min(deadlines) if deadlines else None

    def _kill(self, job_id: int, timed_out: bool) -> None:
        job = self._running.get(job_id)
        if job is None:
            self._unqueue(job_id)
            return
        if job_id in self._kills:
            return
        job.timed_out = timed_out
        job.deadline = None
        self._kills[job_id] = begin_kill(job_id, job.pid, time.monotonic() + self._kill_grace)

    def _unqueue(self, job_id: int) -> None:
        """A kill of a job not started yet: it ends at once, killed, never run."""
        for job in self._queue:
            if job.job_id == job_id:
                self._queue.remove(job)
                now = time.time()
                self._record(
                    ends.ended_record(job_id, 0, now, (ends.KILLED, None, None, None, now))
                )
                return

    def _check_time_limits(self) -> None:
        """End the jobs past their time limit (only jobs that have one are looked at)."""
        deadline = self._next_deadline()
        if deadline is None or time.monotonic() < deadline:
            return
        now = time.monotonic()
        for job in list(self._running.values()):
            if job.deadline is not None and now >= job.deadline:
                limit = job.spec[wire.SPEC_TIMEOUT]
                stderr = job.spec[wire.SPEC_STDERR] or job.spec[wire.SPEC_STDOUT]
                tell_job(stderr, f"the job ran past its time limit of {limit:g} s: killed")
                self._kill(job.job_id, timed_out=True)

    def _follow_kills(self) -> None:
        now = time.monotonic()
        for job_id, kill in list(self._kills.items()):
            job = self._running[job_id]
            if job.end is not None and tree_gone(kill):
                del self._kills[job_id]
                self._ended(job, job.end)
            elif now >= kill.deadline and not kill.escalated:
                escalate(kill, now + self._kill_grace)
            elif now >= kill.deadline and job.end is not None:
                _log.warning("job %s: part of its tree survived SIGKILL", job_id)
                del self._kills[job_id]
                self._ended(job, job.end)

    # -- reports ----------------------------------------------------------------------

    def _record(self, record: list[Any]) -> None:
        if record[0] == wire.ENDED:
            self._unacked[record[1]] = record  # until rank 0 says it recorded it
            self._ends += 1
        self._records.append(record)
        if self._first_record_at is None:
            self._first_record_at = time.monotonic()

    def _report_if_due(self) -> None:
        now = time.monotonic()
        if self._records:
            age = now - (self._first_record_at or now)
            starving = not self._queue and self._busy < self._cores
            if self._stopping or self._batching.due(self._ends, len(self._queue), starving, age):
                self._flush()
        elif now - self._last_sent >= self._heartbeat:
            self._channel.send(self._master, wire.REPORT, wire.encode([]))
            self._last_sent = now
        self._channel.flush()

    def _flush(self) -> None:
        if not self._records:
            return
        self._channel.send(self._master, wire.REPORT, wire.encode(self._records))
        self.reports += 1
        self._records = []
        self._ends = 0
        self._first_record_at = None
        self._last_sent = time.monotonic()
        self._backoff.busy()  # orders usually follow a report

    def _drain_sends(self, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not self._channel.flush() and time.monotonic() < deadline:
            time.sleep(0.001)


def _close_inherited_descriptors(keep: tuple[int, ...]) -> None:
    """Mark the launcher's descriptors (PMI sockets...) close-on-exec: jobs must not hold
    them open, or a job outliving the pilot would keep the launcher waiting."""
    with contextlib.suppress(OSError):
        for name in os.listdir("/proc/self/fd"):
            fd = int(name)
            if fd > 2 and fd not in keep:
                with contextlib.suppress(OSError):
                    os.set_inheritable(fd, False)
