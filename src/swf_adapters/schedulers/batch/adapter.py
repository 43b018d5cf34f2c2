"""``BatchScheduler``: the ``Scheduler`` port on a batch system (SLURM today, PBS / Grid
Engine next), kind to its controller.

- Submission and kills never block the engine: ``submit``/``kill``/``acknowledge`` only
  queue work for a control thread.
- Ready jobs of one resource shape go in ONE array job (each task finds its command in the
  batch's table by its index), up to ``max_array`` tasks: one submission per batch.
- A poller thread asks the controller about every job of this engine in ONE status call
  per poll (the engine's job name), reads the end files of the tasks that left the queue
  and reports everything as one batch of events. The interval adapts: short after a
  submission or while ends arrive, growing while nothing moves.
- A controller that does not answer is retried with back-off; no job is failed for it and
  ``problem`` says so (``swf engine status``).
- Crash-safe: the job directory (``jobdir``) is the journal. A restarted engine finds every
  batch, adopts the tasks still queued or running, learns the ends written while it was
  down, fails with a reason a task that left the queue without an end file, and submits a
  batch whose submission was cut by the crash unless the cluster has it or it left traces
  (it ran and was forgotten: ``_submitted_as``) — nothing runs twice.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from swf_adapters.process.reason import write_reason
from swf_app.ports import (
    Capacity,
    CapacityUnit,
    EventSink,
    KnownJob,
    LaunchRequest,
    SchedulerEvent,
)
from swf_domain.errors import DRMError
from swf_domain.status import ExitInfo, ExitStatus, JobStatus

from .attempts import for_attempt
from .commands import TIMED_OUT, Backoff, CommandResult, CommandRunner
from .jobdir import Batch, JobDirectory, ran_as, read_end, read_log_tail, read_tasks
from .system import ArrayView, BatchSystem, QueueView, Shape, TaskState

if TYPE_CHECKING:
    from swf_adapters.config import ResourceConfig

_log = logging.getLogger(__name__)
#: Jobs in the cluster's queue at once when MAX_JOB_IN_QUEUE does not say.
DEFAULT_MAX_IN_QUEUE = 10_000
#: The cluster id of a batch that ran under an id its tasks could not see (never asked).
UNKNOWN_ID = "unknown"


@dataclass(frozen=True, slots=True)
class BatchSettings:
    #: Where batch tables, scripts and end files live (on the shared file system).
    job_dir: Path
    #: Job name of this engine's cluster jobs (one status call finds them all); derived
    #: from ``job_dir`` by default, so a restarted engine finds its jobs again.
    tag: str | None = None
    #: The Python that runs the job wrapper on compute nodes.
    python: str = sys.executable
    #: Jobs in the cluster's queue at once (MAX_JOB_IN_QUEUE): the engine keeps within it.
    max_in_queue: int = DEFAULT_MAX_IN_QUEUE
    #: Tasks per array job at most (SLURM's MaxArraySize is 1001 by default).
    max_array: int = 1000
    #: Options of jobs without a native specification (the resource's NATIVE_SPECIFICATION).
    default_options: tuple[str, ...] = ()
    poll_min: float = 0.5
    poll_max: float = 10.0
    #: How long a task may be out of the queue without an end file before it is failed
    #: (covers the shared file system's attribute caching).
    end_grace: float = 15.0
    command_timeout: float = 60.0
    retry_first: float = 1.0
    retry_max: float = 60.0
    #: Variables of parallel jobs (soma's PARALLEL_ENV_MPI_BIN, PARALLEL_ENV_NODE_FILE);
    #: a job's own value wins.
    parallel_env: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of_resource(cls, config: ResourceConfig) -> BatchSettings:
        """A resource's options, by soma's names where soma has one (every cluster)."""
        from swf_adapters.schedulers.batch.parallel import ParallelConfig
        from swf_adapters.schedulers.slurm import native_options

        parallel = ParallelConfig.of(config.parallel_job_config)
        return cls(
            job_dir=config.job_dir,
            python=config.python_command or sys.executable,
            max_in_queue=config.queue_limits.get(None, DEFAULT_MAX_IN_QUEUE),
            default_options=native_options(config.native_specification),
            poll_min=config.poll_interval_min,
            poll_max=config.poll_interval_max,
            parallel_env=tuple(parallel.env.items()),
        )

    def job_tag(self) -> str:
        if self.tag:
            return self.tag
        digest = hashlib.sha1(str(self.job_dir.resolve()).encode()).hexdigest()[:10]
        return f"swf-{digest}"


@dataclass(slots=True)
class _Inbox:
    submits: list[LaunchRequest]
    kills: set[int]
    acks: list[int]
    resubmits: list[Batch]


class BatchScheduler:
    """The ``Scheduler`` port on a ``BatchSystem``."""

    def __init__(
        self, system: BatchSystem, settings: BatchSettings, runner: CommandRunner | None = None
    ) -> None:
        self.system = system
        self.settings = settings
        self.tag = settings.job_tag()
        self.runner = runner or CommandRunner(settings.command_timeout)
        self.jobdir = JobDirectory(settings.job_dir, settings.python)
        #: Status calls made (one per poll), and polls made: equal by construction.
        self.polls = 0
        self._sink: EventSink | None = None
        self._lock = threading.Lock()
        self._batches: dict[str, Batch] = {}
        self._where: dict[int, tuple[Batch, int]] = {}
        self._killed: set[int] = set()
        self._missing_since: dict[tuple[str, int], float] = {}
        self._unresolved: list[Batch] = []
        self._inbox = _Inbox([], set(), [], [])
        self._work = threading.Condition(self._lock)
        self._poll_now = threading.Event()
        self._closing = threading.Event()
        self._threads: list[threading.Thread] = []
        self._problem: str | None = None

    # -- the port ---------------------------------------------------------------------

    def start(self, sink: EventSink, known: Sequence[KnownJob] = ()) -> frozenset[int]:
        """Reload the job directory's open batches (what it holds; ``known`` adds nothing
        the directory does not already record)."""
        if self._threads:
            raise DRMError(
                f"{self.system.name} scheduler of {self.settings.job_dir} already started"
            )
        self._sink = sink
        self._closing.clear()
        self.jobdir.prepare()
        held: set[int] = set()
        for batch in self.jobdir.load_all():
            if not batch.open:
                self.jobdir.discard(batch)
                continue
            self._register(batch)
            held.update(batch.job_ids[index] for index in batch.open)
            if batch.cluster_id is None:
                self._unresolved.append(batch)
        for target, name in ((self._control_loop, "control"), (self._poll_loop, "poller")):
            thread = threading.Thread(target=target, name=f"swf-batch-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return frozenset(held)

    def submit(self, requests: Sequence[LaunchRequest]) -> None:
        if requests:
            with self._work:
                self._inbox.submits.extend(requests)
                self._work.notify()

    def kill(self, job_ids: Sequence[int]) -> None:
        if job_ids:
            with self._work:
                self._inbox.kills.update(job_ids)
                self._work.notify()

    def acknowledge(self, job_ids: Sequence[int]) -> None:
        if job_ids:
            with self._work:
                self._inbox.acks.extend(job_ids)
                self._work.notify()

    def capacity(self) -> Capacity:
        """Jobs in the cluster's queue at most (MAX_JOB_IN_QUEUE of the default queue)."""
        return Capacity(CapacityUnit.JOBS, self.settings.max_in_queue)

    def close(self) -> None:
        self._closing.set()
        with self._work:
            self._work.notify_all()
        self._poll_now.set()
        for thread in self._threads:
            thread.join(timeout=self.settings.command_timeout + 5)
        self._threads.clear()

    # -- what users and tests read ----------------------------------------------------

    @property
    def problem(self) -> str | None:
        """Why the engine is waiting on the cluster (controller not answering), or None."""
        return self._problem

    def active_count(self) -> int:
        with self._lock:
            return len(self._where)

    # -- the control thread: submissions, kills, acknowledgements -----------------------

    def _control_loop(self) -> None:
        while not self._closing.is_set():
            with self._work:
                while not self._has_work() and not self._closing.is_set():
                    self._work.wait()
                inbox, self._inbox = self._inbox, _Inbox([], set(), [], [])
            try:
                self._handle(inbox)
            except Exception:  # a bug must not silence the scheduler: log and go on
                _log.exception("%s control thread", self.system.name)
        self._acknowledge_left()

    def _acknowledge_left(self) -> None:
        """Closing: acknowledgements still in the inbox are recorded (they are local file
        writes; a next engine would otherwise report those ends again)."""
        with self._work:
            acks, self._inbox.acks = self._inbox.acks, []
        if acks:
            self._acknowledge(acks)

    def _has_work(self) -> bool:
        box = self._inbox
        return bool(box.submits or box.kills or box.acks or box.resubmits)

    def _handle(self, inbox: _Inbox) -> None:
        # Acknowledgements first: a retry (a new attempt of the same job id) may come in
        # the same inbox as its previous attempt's acknowledgement, which must retire the
        # previous attempt's task, not the new one's.
        if inbox.acks:
            self._acknowledge(inbox.acks)
        submits = [r for r in inbox.submits if r.job_id not in inbox.kills]
        never_run = [r.job_id for r in inbox.submits if r.job_id in inbox.kills]
        if never_run:
            self._deliver([_killed_event(job_id, None) for job_id in never_run])
        if inbox.kills:
            self._cancel(inbox.kills - set(never_run))
        for batch in inbox.resubmits:
            self._submit_batch(batch, self._shape_of_table(batch))
        for shape, requests in _by_shape(submits, self.system, self.settings).items():
            for first in range(0, len(requests), self.settings.max_array):
                chunk = requests[first : first + self.settings.max_array]
                batch = self.jobdir.create(chunk, self.system.index_variable, shape)
                self._submit_batch(batch, shape)

    def _shape_of_table(self, batch: Batch) -> Shape:
        return batch.shape if batch.shape is not None else Shape()

    def _submit_batch(self, batch: Batch, shape: Shape) -> None:
        argv = self.system.submit_command(
            batch.directory / "batch.sh", len(batch.job_ids), shape, self.tag
        )
        result = self._run_until_answered(argv, batch)
        if result is None:
            return  # closing: the next engine finds the batch and resolves it
        if not result.ok:
            self._refused(batch, result.message())
            return
        try:
            cluster_id = self.system.parse_submitted(result.stdout)
        except ValueError as error:
            self._refused(batch, str(error))
            return
        self.jobdir.record_cluster_id(batch, cluster_id)
        with self._lock:
            self._register(batch)
        now = time.time()
        self._deliver(
            [
                SchedulerEvent(job_id, JobStatus.QUEUED_ACTIVE, None, self._task_id(batch, i), now)
                for i, job_id in enumerate(batch.job_ids)
            ]
        )
        self._poll_soon()

    def _run_until_answered(self, argv: list[str], batch: Batch) -> CommandResult | None:
        """Submit, retrying while the controller does not answer. After a timeout the
        submission may have gone through: the queue is read before trying again."""
        backoff = Backoff(self.settings.retry_first, self.settings.retry_max)
        while True:
            result = self.runner.run(argv)
            if result.ok or not self._is_unavailable(result):
                self._problem = None
                return result
            self._set_problem(result)
            if self._closing.wait(backoff.next_delay()):
                return None
            if result.returncode == TIMED_OUT:
                found = self._find_submitted(batch)
                if found is not None:
                    return CommandResult(tuple(argv), 0, found, "")

    def _find_submitted(self, batch: Batch) -> str | None:
        view = self._status(by_script=True)
        return None if view is None else self._submitted_as(batch, view)

    def _submitted_as(self, batch: Batch, view: QueueView) -> str | None:
        """The cluster id of a batch whose submission's answer was lost, or None when
        it was never submitted (the only case in which it may be submitted again).

        The queue is asked first; a batch it does not list may still have run and left
        the queue (PBS without job history, SLURM after MinJobAge): its traces in the
        job directory (the wrapper's "started" marker, its end files) say so, and it is
        adopted with the id its tasks saw. Why this is enough:

        - A task writes the marker before its command starts, so a batch without it ran
          nothing: submitting it again runs nothing twice.
        - An unlisted batch with traces has no task queued or running (a cluster lists
          an array while any of its tasks is), so adopting it loses nothing: a task that
          ended is read from its end file, one that began or was cancelled without an
          end file is failed after ``end_grace`` (file system caching), as any task
          that vanished.
        - The queue is read before the traces: a batch leaving the queue in between
          left its marker before, so one of the two sees it.
        - Not covered: a submission still in flight when the queue is read (the dead
          engine's ``sbatch``/``qsub`` outliving it, stuck on its controller) is neither
          listed nor traced, and is submitted again.
        """
        script = str(batch.directory / "batch.sh")
        for cluster_id, array in view.items():
            if array.runs(script, self.tag):
                return cluster_id
        ran = ran_as(batch)
        if ran is None:
            return None
        _log.warning("batch %s ran while no engine knew its id: adopted", batch.directory)
        return ran or UNKNOWN_ID

    def _is_unavailable(self, result: CommandResult) -> bool:
        return result.returncode == TIMED_OUT or self.system.unavailable(
            result.returncode, result.stderr
        )

    def _set_problem(self, result: CommandResult) -> None:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        if self._problem is None:
            _log.warning("%s controller does not answer: %s", self.system.name, result.message())
        self._problem = (
            f"waiting for the {self.system.name} controller (no answer since {stamp}: "
            f"{result.message()})"
            if self._problem is None
            else self._problem
        )

    def _refused(self, batch: Batch, message: str) -> None:
        """The cluster refused the batch's options: its jobs fail, with the reason."""
        table = _read_table(batch)
        text = f"swf: {self.system.name} refused the job: {message}\n"
        for task in table:
            _append(task.get("stderr") or task.get("stdout"), text)
        self.jobdir.discard(batch)
        exit_info = ExitInfo(ExitStatus.EXIT_ABORTED)
        now = time.time()
        self._deliver(
            [
                SchedulerEvent(job_id, JobStatus.FAILED, exit_info, None, now)
                for job_id in batch.job_ids
            ]
        )

    def _cancel(self, job_ids: set[int]) -> None:
        targets: list[str] = []
        with self._lock:
            self._killed.update(job_ids)
            chosen: dict[str, list[int]] = {}
            for job_id in job_ids:
                where = self._where.get(job_id)
                if where is not None and where[0].cluster_id is not None:
                    chosen.setdefault(where[0].name, []).append(where[1])
            for name, indices in chosen.items():
                batch = self._batches[name]
                alive = batch.open - batch.ended
                if alive <= set(indices):
                    targets.append(str(batch.cluster_id))
                else:
                    targets += [self._task_id(batch, i) for i in sorted(indices) if i in alive]
        if targets:
            result = self.runner.run(self.system.cancel_command(targets))
            if not result.ok:
                _log.warning("%s cancel: %s", self.system.name, result.message())
        self._poll_soon()

    def _acknowledge(self, job_ids: list[int]) -> None:
        by_batch: dict[str, list[int]] = {}
        with self._lock:
            for job_id in job_ids:
                where = self._where.pop(job_id, None)
                if where is not None:
                    by_batch.setdefault(where[0].name, []).append(where[1])
                    self._killed.discard(job_id)
            for name, indices in by_batch.items():
                batch = self._batches[name]
                self.jobdir.record_acked(batch, indices)
                if not batch.open:
                    del self._batches[name]
                    for index in indices:
                        self._missing_since.pop((name, index), None)

    # -- the poller thread ------------------------------------------------------------

    def _poll_loop(self) -> None:
        interval = self.settings.poll_min
        backoff = Backoff(self.settings.retry_first, self.settings.retry_max)
        while not self._closing.is_set():
            self._poll_now.wait(interval if self._pollable() else None)
            self._poll_now.clear()
            if self._closing.is_set():
                return
            if not self._pollable():
                continue
            view = self._status()
            if view is None:
                interval = backoff.next_delay()
                continue
            backoff.reset()
            try:
                events = self._reconcile(view, time.time())
            except Exception:
                _log.exception("%s poller", self.system.name)
                events = []
            self._deliver(events)
            moved = any(event.status is not JobStatus.QUEUED_ACTIVE for event in events)
            interval = (
                self.settings.poll_min if moved else min(interval * 1.5, self.settings.poll_max)
            )

    def _pollable(self) -> bool:
        with self._lock:
            return bool(self._where) or bool(self._unresolved)

    def _poll_soon(self) -> None:
        self._poll_now.set()

    def _status(self, by_script: bool = False) -> QueueView | None:
        result = self.runner.run(self.system.status_command(self.tag, self._asked(by_script)))
        self.polls += 1
        if not result.ok and not self.system.partial_status(result.returncode, result.stderr):
            if self._is_unavailable(result):
                self._set_problem(result)
            else:
                _log.warning("%s status call failed: %s", self.system.name, result.message())
            return None
        self._problem = None
        return self.system.parse_status(result.stdout)

    def _asked(self, by_script: bool) -> list[str] | None:
        """The array jobs a status call asks about (None: all of the tag's, to find a
        batch whose cluster id a crash or a timed-out submission lost)."""
        with self._lock:
            if by_script or self._unresolved:
                return None
            ids = {str(b.cluster_id) for b in self._batches.values() if b.cluster_id}
            return sorted(ids - {UNKNOWN_ID})

    def _reconcile(self, view: QueueView, now: float) -> list[SchedulerEvent]:
        """Events for every task whose state changed since the last poll."""
        self._resolve(view)
        events: list[SchedulerEvent] = []
        for batch, index, array in self._candidates(view):
            self._task_events(batch, index, array, now, events)
        return events

    def _candidates(self, view: QueueView) -> list[tuple[Batch, int, ArrayView | None]]:
        """The tasks a poll looks at: here every open task the view does not show
        pending (the view lists the whole queue); a system that reports only changes
        looks at fewer (``DrmaaScheduler``)."""
        with self._lock:
            batches = [b for b in self._batches.values() if b.cluster_id is not None]
        found: list[tuple[Batch, int, ArrayView | None]] = []
        for batch in batches:
            array = view.get(str(batch.cluster_id))
            with self._lock:
                indices = sorted(batch.open - batch.ended)
            found += [(batch, i, array) for i in indices if not (array and array.is_pending(i))]
        return found

    def _task_events(
        self,
        batch: Batch,
        index: int,
        array: ArrayView | None,
        now: float,
        events: list[SchedulerEvent],
    ) -> None:
        task = array.tasks.get(index) if array is not None else None
        if task is not None and task.state is TaskState.PENDING:
            return
        job_id = batch.job_ids[index]
        if task is not None and task.state is TaskState.RUNNING:
            if index not in batch.running:
                batch.running.add(index)
                events.append(
                    SchedulerEvent(
                        job_id, JobStatus.RUNNING, None, self._task_id(batch, index), now
                    )
                )
            return
        record = read_end(batch.end_file(index))
        if record is not None:
            self._ended(batch, index, record, events)
            return
        killed = job_id in self._killed
        first = self._missing_since.setdefault((batch.name, index), now)
        if killed or now - first >= self.settings.end_grace:
            reason = task.reason if task is not None else "no longer known to the cluster"
            self._vanished(batch, index, reason, killed, now, events)

    def _ended(
        self, batch: Batch, index: int, record: dict[str, Any], events: list[SchedulerEvent]
    ) -> None:
        job_id = batch.job_ids[index]
        scheduler_id = self._task_id(batch, index)
        if index not in batch.running:
            batch.running.add(index)
            start = _float(record.get("start"))
            events.append(SchedulerEvent(job_id, JobStatus.RUNNING, None, scheduler_id, start))
        exit_info = end_exit_info(record, killed=job_id in self._killed)
        status = JobStatus.DONE if exit_info.succeeded() else JobStatus.FAILED
        batch.ended.add(index)
        events.append(
            SchedulerEvent(job_id, status, exit_info, scheduler_id, _float(record.get("end")))
        )

    def _vanished(
        self,
        batch: Batch,
        index: int,
        reason: str,
        killed: bool,
        now: float,
        events: list[SchedulerEvent],
    ) -> None:
        """A task left the queue without an end file: killed before it ran, or lost."""
        job_id = batch.job_ids[index]
        batch.ended.add(index)
        if killed:
            events.append(_killed_event(job_id, self._task_id(batch, index)))
            return
        table = _read_table(batch)
        target = table[index].get("stderr") or table[index].get("stdout") if table else None
        log = read_log_tail(batch.log_file(index)).strip()
        _append(
            target,
            f"swf: {self.system.name} job {self._task_id(batch, index)} left the queue ({reason}) "
            f"without the wrapper's end file: the job was killed or its node failed"
            + (f"; wrapper log:\n{log}" if log else "")
            + "\n",
        )
        exit_info = ExitInfo(ExitStatus.EXIT_ABORTED)
        events.append(
            SchedulerEvent(job_id, JobStatus.FAILED, exit_info, self._task_id(batch, index), now)
        )

    def _resolve(self, view: QueueView) -> None:
        """Batches whose submission a crash cut: recorded if the cluster has them or
        they left traces, submitted again otherwise (nothing of theirs ran)."""
        with self._lock:
            unresolved, self._unresolved = self._unresolved, []
        resubmit = []
        for batch in unresolved:
            found = self._submitted_as(batch, view)
            if found is None:
                resubmit.append(batch)
                continue
            self.jobdir.record_cluster_id(batch, found)
            self._adopted(batch)
        if resubmit:
            with self._work:
                self._inbox.resubmits.extend(resubmit)
                self._work.notify()

    def _adopted(self, batch: Batch) -> None:
        """A batch of an earlier engine got its cluster id back (a hook for systems
        that follow tasks one by one: ``DrmaaScheduler``)."""

    # -- helpers ----------------------------------------------------------------------

    def _task_id(self, batch: Batch, index: int) -> str:
        return self.system.task_id(str(batch.cluster_id), index)

    def _register(self, batch: Batch) -> None:
        self._batches[batch.name] = batch
        for index in batch.open:
            self._where[batch.job_ids[index]] = (batch, index)

    def _deliver(self, events: list[SchedulerEvent]) -> None:
        if events and self._sink is not None:
            self._sink(events)


def end_exit_info(record: dict[str, Any], killed: bool) -> ExitInfo:
    """soma-workflow's exit info from a wrapper's end record."""
    usage = (
        f"cput={_float(record.get('cpu')) or 0.0:.3f} mem={int(record.get('maxrss_kb') or 0)}kb "
        f"walltime={_float(record.get('wall')) or 0.0:.3f}"
    )
    exit_value = record.get("exit_value")
    signal = record.get("signal")
    if killed:
        return ExitInfo(ExitStatus.USER_KILLED, exit_value, signal, usage)
    if signal is not None:
        return ExitInfo(ExitStatus.FINISHED_TERM_SIG, None, int(signal), usage)
    return ExitInfo(ExitStatus.FINISHED_REGULARLY, int(exit_value or 0), None, usage)


def _killed_event(job_id: int, scheduler_id: str | None) -> SchedulerEvent:
    return SchedulerEvent(
        job_id, JobStatus.FAILED, ExitInfo(ExitStatus.USER_KILLED), scheduler_id, time.time()
    )


def _by_shape(
    requests: list[LaunchRequest], system: BatchSystem, settings: BatchSettings
) -> dict[Shape, list[LaunchRequest]]:
    groups: dict[Shape, list[LaunchRequest]] = {}
    for request in requests:
        if request.parallel is not None and settings.parallel_env:
            request = replace(request, env={**dict(settings.parallel_env), **request.env})
        shape = system.shape_of(request, settings.default_options)
        options = for_attempt(shape.options, request.attempt)
        if options is not shape.options:  # the rare job whose resources grow per attempt
            shape = replace(shape, options=options)
        groups.setdefault(shape, []).append(request)
    return groups


def _read_table(batch: Batch) -> list[dict[str, Any]]:
    return read_tasks(batch.directory)


def _append(path: str | None, text: str) -> None:
    if not path:
        return
    with contextlib.suppress(OSError):
        write_reason(path, text)


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) else None
