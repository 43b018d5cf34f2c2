"""``MpiScheduler``: the ``Scheduler`` port on the worker ranks of one MPI allocation.

It runs on rank 0 beside the engine, which does not know it runs under MPI. One
communication thread makes every MPI call (``Channel``): it receives the workers'
report batches, turns them into event batches for the engine, and sends each worker one
batch of jobs per pass, sized to its free room. ``submit`` and ``kill`` only queue work
for that thread and wake it: they never block the engine.

Room per worker: its cores times a queue depth that follows the jobs' measured duration,
so that a worker always holds about ``target_backlog`` seconds of work beyond what runs.
Short jobs then never wait for a round trip to rank 0 (and many travel per message),
while long jobs are not queued behind each other on one rank while another rank idles.

What only this adapter does, as soma-workflow's MPI scheduler did:
- ``job_timeout``: the worker ends a job still running after this many seconds
  (soma's ``MPI_JOB_TIMEOUT``);
- a worker that stops answering for ``worker_timeout`` seconds is dead: its jobs end
  FAILED, a line in their stderr naming the rank and its host.
Retries are the engine's, as on every scheduler (``swf_app/retries.py``: soma's
``--nb_attempt_per_job`` is the runner's default attempts per job): a failed attempt,
a time limit or a dead worker's job included, comes back as a new launch request.

Across allocations the store is the journal: a new allocation's workers hold nothing, so
``start`` returns no held job and everything the store had running runs again on resume
(``swf_entry/mpi_run.py``). Within one allocation, a new adapter (a restarted engine)
asks the workers for an inventory and adopts their jobs and the ends not acknowledged yet:
workers keep each end until an acknowledgement rides back on the next orders.

Capacity is in CPUs: the live workers' cores times the deepest queue a worker may hold;
a worker reporting in late or lost changes it, and the engine hears of it as a
``Capacity`` report. The scheduler contract suite runs this adapter on a real MPI
(``tests/integration/mpi_contract.py``: worker ranks spawned by ``MPI_Comm_spawn``).
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from swf_adapters.process.reason import tell_job
from swf_adapters.schedulers.mpi import wire
from swf_adapters.schedulers.mpi.channel import Backoff, Channel
from swf_app.ports import (
    Capacity,
    CapacityUnit,
    EventSink,
    KnownJob,
    LaunchRequest,
    SchedulerEvent,
    SchedulerReport,
)
from swf_domain.errors import DRMError
from swf_domain.status import ExitInfo, ExitStatus, JobStatus

_log = logging.getLogger("swf.mpi")

_EXIT_STATUSES = {status.value: status for status in ExitStatus}
_KILLED = ExitStatus.USER_KILLED.value
#: Queue depth bounds (jobs per core kept at a worker) and the first guess.
MAX_DEPTH = 256
_FIRST_DEPTH = 1
#: Seconds of queued work a worker should hold beyond what it runs.
TARGET_BACKLOG = 0.3
#: How often the liveness of workers is checked.
_LIVENESS_EVERY = 0.25
#: How soon the thread looks for messages again after traffic, and at the latest while
#: jobs are out (then while none is): soon while a worker may wait for work (a chain of
#: short jobs goes at the pace of these looks).
_FIRST_LOOK = 0.0005
_LONGEST_LOOK = 0.02
_IDLE_LOOK = 0.25
#: How often it looks while every worker's queue is full (jobs wait in the backlog):
#: each look costs rank 0 a thread wake-up and a GIL hand-over (about 0.1 ms on a loaded
#: machine, several jobs' worth of its other work), and each worker holds
#: ``TARGET_BACKLOG`` of queued work and reports when half of it is gone, so looking more
#: often only burns rank 0's core (measured: 0.25-0.3 looks per job -> 0.08).
_FULL_LOOK = 0.02


@dataclass(slots=True)
class Attempt:
    """A job on its way: its request and the cores it holds on its worker.

    A job adopted from a worker (a new adapter over running workers) has no request:
    it is only followed to its end, never run again from here.
    """

    job_id: int
    cpus: int
    request: LaunchRequest | None = None

    @classmethod
    def of(cls, request: LaunchRequest) -> Attempt:
        return cls(request.job_id, cpus_of(request), request)


def cpus_of(request: LaunchRequest) -> int:
    """The cores the job asked for (parallel_job_info), not a count clamped to a total."""
    parallel = request.parallel
    return max(1, parallel.cpus if parallel is not None else request.slots)


@dataclass(slots=True)
class WorkerRank:
    """What rank 0 knows of one worker rank."""

    rank: int
    host: str = "?"
    pid: int = 0
    cores: int = 0
    alive: bool = False
    used: int = 0
    jobs: dict[int, Attempt] = field(default_factory=dict)
    to_kill: list[int] = field(default_factory=list)
    #: Ends the engine recorded: the worker may forget them (sent with the next orders).
    to_ack: list[int] = field(default_factory=list)
    #: It answered this adapter's inventory request (what it holds is adopted).
    inventoried: bool = False
    #: It said goodbye (told to end by its launcher): it will answer nothing more.
    left: bool = False
    last_heard: float = 0.0
    last_sent: float = 0.0
    #: Moving average of the walltime of its jobs (None until one ended).
    mean_duration: float | None = None

    def free_cores(self) -> int:
        return self.cores - self.used

    def room(self) -> int:
        if self.mean_duration is None:
            depth = _FIRST_DEPTH
        else:
            depth = 1 + min(MAX_DEPTH - 1, int(TARGET_BACKLOG / max(self.mean_duration, 1e-6)))
        return self.cores * depth - self.used

    def name(self) -> str:
        return f"MPI worker rank {self.rank} on host {self.host}"


@dataclass(slots=True)
class Traffic:
    """Messages and jobs counted by rank 0 (benchmarks: messages per job each way)."""

    orders_sent: int = 0
    reports_received: int = 0
    jobs_sent: int = 0
    ends_received: int = 0
    #: Looks of the communication thread (each one a wake-up on rank 0).
    passes: int = 0
    #: CPU seconds of the communication thread (the adapter's own cost on rank 0).
    thread_cpu_seconds: float = 0.0

    def as_dict(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in self.__slots__}


class MpiScheduler:
    """Runs jobs on the worker ranks of ``channel``'s communicator (see module docstring)."""

    def __init__(
        self,
        channel: Channel,
        worker_ranks: Sequence[int],
        *,
        job_timeout: float | None = None,
        worker_timeout: float = 30.0,
        heartbeat: float = 2.0,
        hello_timeout: float = 60.0,
    ) -> None:
        if not worker_ranks:
            raise DRMError("MPI scheduler: no worker rank (run with at least 2 ranks)")
        self._channel = channel
        self._workers = {rank: WorkerRank(rank) for rank in worker_ranks}
        self._job_timeout = job_timeout
        self._worker_timeout = worker_timeout
        self._heartbeat = heartbeat
        self._hello_timeout = hello_timeout
        self._sink: EventSink | None = None
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._incoming: list[LaunchRequest] = []
        self._kill_requests: list[int] = []
        self._acks_in: list[int] = []
        #: Ended jobs not acknowledged yet, and the worker that ran them.
        self._ended_on: dict[int, WorkerRank] = {}
        #: Jobs found on the workers at start (the ``start`` answer).
        self.held: set[int] = set()
        self._backlog: collections.deque[Attempt] = collections.deque()
        #: job id -> the worker holding it.
        self._placed: dict[int, WorkerRank] = {}
        self._events: list[SchedulerReport] = []
        #: The live cores last reported to the engine (a change is a ``Capacity`` report).
        self._reported_cores = 0
        self._thread: threading.Thread | None = None
        self._closing = False
        self._next_liveness = 0.0
        #: What the workers hold may have changed since the last dispatch (an end, a
        #: worker in or lost, new jobs): else a pass has nothing to place.
        self._dirty = True
        #: When the next heartbeat is due (a pass with nothing new only sends those).
        self._next_beat = 0.0
        #: Every job handed over is placed: a submit is worth waking the thread for.
        #: Otherwise the workers' queues are full and the next look takes new jobs.
        self._hungry = True
        self.traffic = Traffic()

    # -- the port ---------------------------------------------------------------------

    def start(self, sink: EventSink, known: Sequence[KnownJob] = ()) -> frozenset[int]:
        """Ask every worker what it holds, adopt it (its cores are the capacity), serve.

        A fresh allocation holds nothing: the jobs the store believes active (``known``)
        are then lost, and the runner runs them again. A new adapter over workers that
        outlived the previous one adopts their jobs and reports their unacknowledged ends.
        """
        if self._thread is not None:
            raise DRMError("the MPI scheduler is already started")
        self._sink = sink
        self._closing = False
        for rank in self._workers:
            self._channel.send(rank, wire.ORDERS, wire.orders([], [], inventory=True))
        self._await_hellos()
        self._reported_cores = self.cores()  # the engine reads capacity() after start
        self._deliver()
        self._thread = threading.Thread(target=self._serve, name="swf-mpi-scheduler", daemon=True)
        self._thread.start()
        return frozenset(self.held)

    def submit(self, requests: Sequence[LaunchRequest]) -> None:
        """Queue the jobs; wake the thread only when a worker may be waiting for them."""
        if requests:
            with self._lock:
                self._incoming.extend(requests)
                hungry = self._hungry
            if hungry:
                self._wake.set()

    def kill(self, job_ids: Sequence[int]) -> None:
        if job_ids:
            with self._lock:
                self._kill_requests.extend(job_ids)
            self._wake.set()

    def acknowledge(self, job_ids: Sequence[int]) -> None:
        """The workers may forget these ends (told with the next orders, no extra message)."""
        if job_ids:
            with self._lock:
                self._acks_in.extend(job_ids)

    def capacity(self) -> Capacity:
        """The live workers' cores times the deepest queue a worker may hold, in CPUs:
        the engine hands over enough jobs to keep every queue full, and the adapter places
        them on the cores itself, by each job's own ``parallel`` spec (see
        ``WorkerRank.room``). It changes (a ``Capacity`` report) when a worker reports in
        late or is lost; 0 while none has reported in."""
        return _capacity(self.cores())

    def close(self) -> None:
        """Stop serving; the workers and their jobs go on. Pending kills and
        acknowledgements still reach them (a next adapter then sees the truth)."""
        self._closing = True
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=30)
        self._thread = None
        self._route_acknowledgements()
        for worker in self._workers.values():
            if worker.alive and (worker.to_ack or worker.to_kill):
                self._send_orders(worker, [], time.monotonic())
        deadline = time.monotonic() + 5
        while not self._channel.flush() and time.monotonic() < deadline:
            time.sleep(0.001)

    # -- beyond the port --------------------------------------------------------------

    def cores(self) -> int:
        """Cores of the live workers."""
        return sum(worker.cores for worker in self._workers.values() if worker.alive)

    def workers(self) -> list[dict[str, Any]]:
        return [
            {"rank": w.rank, "host": w.host, "pid": w.pid, "cores": w.cores, "alive": w.alive}
            for w in self._workers.values()
        ]

    def dismiss_workers(self, timeout: float = 10.0) -> None:
        """Tell every worker to leave (ending what still runs) and wait for their goodbye.

        Called once the engine is shut down (the communication thread has stopped).
        """
        waiting = {rank for rank, worker in self._workers.items() if worker.alive}
        for rank in self._workers:  # a rank taken for dead may only hang: if it wakes, it goes
            self._channel.send(rank, wire.ORDERS, wire.orders([], [], stop=True))
        deadline = time.monotonic() + timeout
        while waiting and time.monotonic() < deadline:
            for source, tag, payload in self._channel.receive():
                if tag == wire.REPORT and wire.decode(payload)[-1:] == [[wire.BYE]]:
                    waiting.discard(source)
            self._channel.flush()
            time.sleep(0.005)
        if waiting:
            _log.warning("no goodbye from worker rank(s) %s", sorted(waiting))
        while not self._channel.flush() and time.monotonic() < deadline:
            time.sleep(0.001)

    # -- start-up ---------------------------------------------------------------------

    def _await_hellos(self) -> None:
        deadline = time.monotonic() + self._hello_timeout
        backoff = Backoff(longest=0.05)
        while time.monotonic() < deadline:
            for source, tag, payload in self._channel.receive():
                self._handle(source, tag, payload)
            if all(worker.inventoried or worker.left for worker in self._workers.values()):
                break
            time.sleep(backoff.idle())
        silent = [rank for rank, worker in self._workers.items() if not worker.inventoried]
        for rank in silent:
            self._workers[rank].alive = False
        if silent:
            _log.warning("worker rank(s) %s did not report in (or left): not used", silent)
        if len(silent) == len(self._workers):
            raise DRMError(
                f"no MPI worker rank reported in within {self._hello_timeout:g} s"
                " (or every one left: the allocation is ending)"
            )

    # -- the communication thread -----------------------------------------------------

    def _serve(self) -> None:
        backoff = Backoff(shortest=_FIRST_LOOK, longest=_LONGEST_LOOK)
        cpu_at_start = time.thread_time()
        try:
            while not self._closing:
                self._wake.clear()
                if self._pass():
                    backoff.busy()
                self.traffic.passes += 1
                self._wake.wait(self._next_look(backoff))
        except Exception:
            _log.exception("the MPI scheduler thread failed")
            raise
        finally:
            self.traffic.thread_cpu_seconds += time.thread_time() - cpu_at_start

    def _next_look(self, backoff: Backoff) -> float:
        if not self._hungry:
            return _FULL_LOOK
        return backoff.idle(_LONGEST_LOOK if self._placed else _IDLE_LOOK)

    def _pass(self) -> bool:
        """One look at everything; True when something happened."""
        received = self._channel.receive()
        for source, tag, payload in received:
            self._handle(source, tag, payload)
        with self._lock:
            incoming, self._incoming = self._incoming, []
            kills, self._kill_requests = self._kill_requests, []
        self._route_acknowledgements()
        self._backlog.extend(map(Attempt.of, incoming))
        if received or incoming or kills:
            self._dirty = True
        if kills:
            self._kill(kills)
        now = time.monotonic()
        if now >= self._next_liveness:
            self._next_liveness = now + _LIVENESS_EVERY
            self._check_liveness(now)
        sent = self._dispatch(now) if self._dirty or now >= self._next_beat else False
        self._deliver()
        self._channel.flush()
        self._settle()
        return bool(received or incoming or kills or sent)

    def _settle(self) -> None:
        """Say whether a submit should wake the thread; jobs that came while the answer
        was no are looked at once (no submit waits for the next timed look then)."""
        with self._lock:
            self._hungry = not self._backlog
            if self._hungry and self._incoming:
                self._wake.set()

    def _handle(self, source: int, tag: int, payload: bytes) -> None:
        worker = self._workers.get(source)
        if worker is None:
            _log.warning("message from unknown rank %s ignored", source)
            return
        worker.last_heard = time.monotonic()
        if tag == wire.HELLO:
            hello = wire.decode(payload)
            worker.host, worker.pid = str(hello["host"]), int(hello["pid"])
            if not worker.alive:
                _log.info("%s reported in: %d core(s)", worker.name(), int(hello["cores"]))
            worker.cores, worker.alive = max(1, int(hello["cores"])), True
            if hello.get("inventory"):
                worker.inventoried = True
                self._adopt(worker, hello.get("held", ()), hello.get("ended", ()))
        elif tag == wire.REPORT:
            self.traffic.reports_received += 1
            if worker.alive:
                self._take_report(worker, wire.decode(payload))
        else:
            _log.warning("unexpected message tag %s from rank %s", tag, source)

    def _adopt(self, worker: WorkerRank, held: Sequence[Any], ended: Sequence[Any]) -> None:
        """Take over what a worker holds: its jobs are followed to their ends, and the
        ends it kept for want of an acknowledgement are reported (again)."""
        for job_id, pid, start, cpus in held:
            if job_id not in worker.jobs:
                worker.jobs[job_id] = Attempt(job_id, max(1, int(cpus)))
                self._placed[job_id] = worker
                worker.used += max(1, int(cpus))
            self.held.add(job_id)
            if pid:
                name = f"rank{worker.rank}:{pid}"
                event = SchedulerEvent(job_id, JobStatus.RUNNING, None, name, start)
                self._events.append(event)
        for record in ended:
            job_id = record[1]
            if job_id not in worker.jobs:
                worker.jobs[job_id] = Attempt(job_id, 1)
                self._placed[job_id] = worker
                worker.used += 1
            self.held.add(job_id)
            self._ended(worker, record)

    def _route_acknowledgements(self) -> None:
        with self._lock:
            acks, self._acks_in = self._acks_in, []
        for job_id in acks:
            worker = self._ended_on.pop(job_id, None)
            if worker is not None:
                worker.to_ack.append(job_id)

    def _take_report(self, worker: WorkerRank, records: list[list[Any]]) -> None:
        for record in records:
            kind = record[0]
            if kind == wire.ENDED:
                self._ended(worker, record)
            elif kind == wire.STARTED:
                _, job_id, pid, start = record
                if job_id in worker.jobs:
                    job_name = f"rank{worker.rank}:{pid}"
                    self._events.append(
                        SchedulerEvent(job_id, JobStatus.RUNNING, None, job_name, start)
                    )
            elif kind == wire.BYE:
                worker.alive, worker.left = False, True
                self._worker_lost(worker, "left (its process ended)")

    def _ended(self, worker: WorkerRank, record: list[Any]) -> None:
        _, job_id, pid, exit_status, value, sig, usage, start, end = record
        attempt = worker.jobs.pop(job_id, None)
        if attempt is None:
            return  # ended after its worker was given up for dead
        self.traffic.ends_received += 1
        del self._placed[job_id]
        worker.used -= attempt.cpus
        duration = max(0.0, end - start)
        previous = worker.mean_duration
        worker.mean_duration = duration if previous is None else 0.8 * previous + 0.2 * duration
        info = ExitInfo(_EXIT_STATUSES[exit_status], value, sig, usage)
        self._ended_on[job_id] = worker
        status = JobStatus.DONE if info.succeeded() else JobStatus.FAILED
        name = f"rank{worker.rank}:{pid}" if pid else None
        self._events.append(SchedulerEvent(job_id, status, info, name, end))

    # -- kills ------------------------------------------------------------------------

    def _kill(self, job_ids: list[int]) -> None:
        wanted = set(job_ids)
        kept: collections.deque[Attempt] = collections.deque()
        now = time.time()
        for attempt in self._backlog:
            job_id = attempt.job_id
            if job_id in wanted:
                info = ExitInfo(ExitStatus.USER_KILLED)
                self._events.append(SchedulerEvent(job_id, JobStatus.FAILED, info, None, now))
            else:
                kept.append(attempt)
        self._backlog = kept
        for job_id in wanted:
            worker = self._placed.get(job_id)
            if worker is not None:
                worker.to_kill.append(job_id)

    # -- dispatch ---------------------------------------------------------------------

    def _dispatch(self, now: float) -> bool:
        """Fill the live workers from the backlog, idle cores first (so that a few long
        jobs spread over the ranks), then their queues: one message per worker."""
        sent, self._dirty = False, False
        live = [worker for worker in self._workers.values() if worker.alive]
        widest = max((worker.cores for worker in live), default=0)
        batches: dict[int, list[wire.JobSpec]] = {worker.rank: [] for worker in live}
        for worker in live:
            self._fill(worker, widest, worker.free_cores(), batches[worker.rank])
        for worker in live:
            self._fill(worker, widest, worker.room(), batches[worker.rank])
        for worker in live:
            specs = batches[worker.rank]
            if specs or worker.to_kill or now - worker.last_sent >= self._heartbeat:
                self._send_orders(worker, specs, now)
                sent = True
        last_sent = min((worker.last_sent for worker in live), default=now)
        self._next_beat = last_sent + self._heartbeat
        if self._backlog and widest == 0:
            self._fail_backlog("no MPI worker rank is left to run it")
        return sent

    def _send_orders(self, worker: WorkerRank, specs: list[wire.JobSpec], now: float) -> None:
        """One message: new jobs, kills, and the acknowledgements that ride along."""
        kills, worker.to_kill = worker.to_kill, []
        acks, worker.to_ack = worker.to_ack, []
        self._channel.send(worker.rank, wire.ORDERS, wire.orders(specs, kills, ack=acks))
        worker.last_sent = now
        self.traffic.orders_sent += 1
        self.traffic.jobs_sent += len(specs)

    def _fill(self, worker: WorkerRank, widest: int, room: int, specs: list[wire.JobSpec]) -> None:
        backlog = self._backlog
        while backlog and room > 0:
            attempt = backlog[0]
            slots = attempt.cpus
            if slots > widest > 0:
                backlog.popleft()
                reason = f"it needs {slots} cores; the widest worker rank has {widest}"
                self._refuse(attempt, reason)
                continue
            if slots > worker.cores or slots > room:
                break
            backlog.popleft()
            worker.jobs[attempt.job_id] = attempt
            self._placed[attempt.job_id] = worker
            worker.used += slots
            room -= slots
            assert attempt.request is not None  # the backlog holds submitted jobs only
            specs.append(self._spec(attempt.request, slots))

    def _spec(self, request: LaunchRequest, cpus: int) -> wire.JobSpec:
        env = request.env if isinstance(request.env, dict) else dict(request.env)
        return [
            request.job_id,
            list(request.argv),
            env,
            request.stdout_file,
            request.stderr_file,
            request.working_directory,
            request.stdin_file,
            cpus,
            self._job_timeout,
            request.private_outputs,
        ]

    def _refuse(self, attempt: Attempt, reason: str) -> None:
        request = attempt.request
        if request is not None:
            tell_job(request.stderr_file or request.stdout_file, f"cannot start the job: {reason}")
        info = ExitInfo(ExitStatus.EXIT_ABORTED)
        now = time.time()
        self._events.append(SchedulerEvent(attempt.job_id, JobStatus.FAILED, info, None, now))

    def _fail_backlog(self, reason: str) -> None:
        while self._backlog:
            self._refuse(self._backlog.popleft(), reason)

    # -- liveness ---------------------------------------------------------------------

    def _check_liveness(self, now: float) -> None:
        for worker in self._workers.values():
            if worker.alive and now - worker.last_heard > self._worker_timeout:
                worker.alive = False
                silence = f"nothing heard from it for {self._worker_timeout:g} s"
                _log.error("%s is dead (%s)", worker.name(), silence)
                self._worker_lost(worker, f"stopped answering ({silence})")

    def _worker_lost(self, worker: WorkerRank, what: str) -> None:
        """The worker's jobs end FAILED, saying why (the engine retries them if asked)."""
        now = time.time()
        for job_id, attempt in list(worker.jobs.items()):
            del self._placed[job_id]
            reason = f"{worker.name()} {what} while it held this job"
            request = attempt.request
            if request is not None:
                tell_job(request.stderr_file or request.stdout_file, reason)
            info = ExitInfo(ExitStatus.EXIT_UNDETERMINED)
            self._events.append(SchedulerEvent(job_id, JobStatus.FAILED, info, None, now))
        worker.jobs.clear()
        worker.used = 0
        self._dirty = True

    def _report_capacity(self) -> None:
        """Tell the engine when the live cores changed (a worker in, a worker lost)."""
        cores = self.cores()
        if cores != self._reported_cores and self._sink is not None:
            self._reported_cores = cores
            self._events.append(_capacity(cores))

    def _deliver(self) -> None:
        self._report_capacity()
        events, self._events = self._events, []
        if events and self._sink is not None:
            try:
                self._sink(events)
            except Exception:
                _log.exception("the scheduler event sink failed on %d event(s)", len(events))


def _capacity(cores: int) -> Capacity:
    return Capacity(CapacityUnit.CPUS, cores * MAX_DEPTH)
