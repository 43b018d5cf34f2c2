"""Fakes of swf_app's ports for unit and property tests of the engine and services.

- ``VirtualClock``: time moves only when a test calls ``advance``.
- ``FakeScheduler``: runs nothing; each submitted job gets an outcome (duration, exit
  value, outputs) from a ``behaviour`` function and ends when the virtual clock passes
  its end (at once for a zero duration). It adopts like a batch scheduler: at ``start``
  it looks the known jobs up in what it ran (the store is its journal) and replays their
  ends, and it finds jobs the store never heard of by their tag. It can be closed and
  started again, or replaced by a ``successor`` sharing what it ran, like a real
  scheduler across an engine crash, and it records what a test needs to check (start
  order, slot usage, jobs started twice).
- ``InMemoryStore``: the WorkflowStore port in dictionaries, lean enough for a
  million-job workflow (job rows are built on read; only changed states are kept).
- ``InMemoryWorkspace``: the Workspace port without a disk.
"""

from __future__ import annotations

import bisect
import copy
import itertools
import json
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from swf_app.engine import Engine
from swf_app.ports import (
    Capacity,
    CapacityUnit,
    EventSink,
    JobAggregate,
    JobChanges,
    JobPageQuery,
    JobRow,
    JobState,
    JobSummary,
    JobUpdate,
    KnownJob,
    LaunchRequest,
    NewWorkflow,
    SchedulerEvent,
    SubmittedWorkflow,
    WorkflowRow,
    WorkflowUpdate,
    WorkspaceError,
)
from swf_app.service import EngineService
from swf_domain.model import Workflow
from swf_domain.serialization import workflow_to_dict
from swf_domain.status import ExitInfo, ExitStatus, JobStatus, WorkflowStatus

EPOCH = 1_700_000_000.0

# ---------------------------------------------------------------------------------------
# Clock
# ---------------------------------------------------------------------------------------


class VirtualClock:
    """A clock that only moves when told to; listeners hear every move."""

    def __init__(self, start: float = EPOCH) -> None:
        self._start = start
        self._elapsed = 0.0
        self._lock = threading.Lock()
        self._listeners: list[Callable[[], None]] = []

    def now(self) -> float:
        with self._lock:
            return self._start + self._elapsed

    def monotonic(self) -> float:
        with self._lock:
            return self._elapsed

    def on_advance(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._elapsed += seconds
        for listener in list(self._listeners):
            listener()


# ---------------------------------------------------------------------------------------
# Scheduler
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FakeOutcome:
    """What a fake job does: run ``duration`` virtual seconds, then exit.

    ``duration=None`` runs until killed. ``outputs`` is written as the job's output
    parameters file (``SOMAWF_OUTPUT_PARAMS``) when it ends; ``outputs_text`` writes raw
    text there instead (to test invalid files).
    """

    duration: float | None = 0.0
    exit_value: int = 0
    signal: int | None = None
    outputs: dict[str, Any] | None = None
    outputs_text: str | None = None


Behaviour = Callable[[LaunchRequest], FakeOutcome]


def always_succeed(request: LaunchRequest) -> FakeOutcome:
    return FakeOutcome()


@dataclass
class FakeRun:
    request: LaunchRequest
    outcome: FakeOutcome
    started: float
    ends_at: float | None


class FakeScheduler:
    """Scheduler port on a virtual clock (thread-safe: the test thread moves the clock)."""

    def __init__(
        self,
        clock: VirtualClock,
        slots: int | None = 4,
        behaviour: Behaviour = always_succeed,
        workspace: InMemoryWorkspace | None = None,
        emit_running: bool = True,
        unit: CapacityUnit = CapacityUnit.CPUS,
    ) -> None:
        self.clock = clock
        self._capacity = Capacity(unit, slots)
        #: False once a ``successor`` took over: this instance reports nothing more.
        self.attached = True
        self.behaviour = behaviour
        self.workspace = workspace
        self.emit_running = emit_running
        self._lock = threading.RLock()
        self._sink: EventSink | None = None
        self.running: dict[int, FakeRun] = {}
        self.unacknowledged: dict[int, SchedulerEvent] = {}
        #: Every request ever submitted, in order.
        self.submitted: list[LaunchRequest] = []
        #: Job ids in start order (a job restarted appears twice).
        self.started: list[int] = []
        self.killed: list[int] = []
        self.acknowledged: list[int] = []
        #: The last end of each job (acknowledged or not).
        self.last_end: dict[int, SchedulerEvent] = {}
        #: Jobs submitted while already running (must never happen).
        self.doubly_started: list[int] = []
        self.max_slots_used = 0
        self.slots_used = 0
        self.starts_count = 0
        clock.on_advance(self._on_time)

    # -- port ---------------------------------------------------------------------------

    def start(self, sink: EventSink, known: Sequence[KnownJob] = ()) -> frozenset[int]:
        with self._lock:
            self._sink = sink
            self.starts_count += 1
            replay = {
                job.job_id: self.last_end[job.job_id]
                for job in known
                if job.job_id in self.last_end and job.job_id not in self.running
            }
            replay.update(self.unacknowledged)
            held = frozenset(self.running) | frozenset(replay)
        if replay:
            sink(list(replay.values()))
        return held

    def capacity(self) -> Capacity:
        return self._capacity

    def submit(self, requests: Sequence[LaunchRequest]) -> None:
        events: list[SchedulerEvent] = []
        with self._lock:
            now = self.clock.now()
            for request in requests:
                self._start_one(request, now, events)
        self._emit(events)

    def kill(self, job_ids: Sequence[int]) -> None:
        events: list[SchedulerEvent] = []
        with self._lock:
            now = self.clock.now()
            for job_id in job_ids:
                if job_id in self.running:
                    self.killed.append(job_id)
                    info = ExitInfo(ExitStatus.USER_KILLED)
                    events.append(self._end(job_id, JobStatus.FAILED, info, now))
        self._emit(events)

    def acknowledge(self, job_ids: Sequence[int]) -> None:
        with self._lock:
            for job_id in job_ids:
                self.unacknowledged.pop(job_id, None)
                self.acknowledged.append(job_id)

    def close(self) -> None:
        with self._lock:
            self._sink = None

    # -- test controls ------------------------------------------------------------------

    def successor(self) -> FakeScheduler:
        """A new instance over what this one ran (its jobs, their ends), as a new engine
        process would build after a crash; this one goes quiet."""
        with self._lock:
            twin = copy.copy(self)
            twin._sink = None
            twin.attached = True
            self.attached = False
            self._sink = None
        self.clock.on_advance(twin._on_time)
        return twin

    def change_capacity(self, capacity: Capacity) -> None:
        """The resource grew or shrank (an MPI pilot's allocation started...)."""
        self._capacity = capacity
        self._emit([capacity])

    def finish(self, job_id: int, exit_value: int = 0) -> None:
        """End a running job now with ``exit_value``."""
        with self._lock:
            info = ExitInfo(ExitStatus.FINISHED_REGULARLY, exit_value)
            status = JobStatus.DONE if exit_value == 0 else JobStatus.FAILED
            event = self._end(job_id, status, info, self.clock.now())
        self._emit([event])

    def replay(self, job_id: int) -> None:
        """Send an already reported end again (a duplicate event)."""
        with self._lock:
            event = self.unacknowledged.get(job_id)
        if event is not None:
            self._emit([event])

    def send(self, events: Sequence[SchedulerEvent]) -> None:
        self._emit(events)

    # -- internals ----------------------------------------------------------------------

    def _start_one(self, request: LaunchRequest, now: float, events: list[SchedulerEvent]) -> None:
        job_id = request.job_id
        if job_id in self.running:
            self.doubly_started.append(job_id)
            return
        self.unacknowledged.pop(job_id, None)
        outcome = self.behaviour(request)
        ends_at = None if outcome.duration is None else now + outcome.duration
        self.running[job_id] = FakeRun(request, outcome, now, ends_at)
        self.submitted.append(request)
        self.started.append(job_id)
        self.slots_used += request.slots
        self.max_slots_used = max(self.max_slots_used, self.slots_used)
        if self.emit_running:
            events.append(SchedulerEvent(job_id, JobStatus.RUNNING, time=now))
        if outcome.duration == 0:
            events.append(self._end_by_outcome(job_id, now))

    def _on_time(self) -> None:
        events: list[SchedulerEvent] = []
        if not self.attached:
            return
        with self._lock:
            now = self.clock.now()
            due = sorted(
                (run.ends_at, job_id)
                for job_id, run in self.running.items()
                if run.ends_at is not None and run.ends_at <= now
            )
            for _, job_id in due:
                events.append(self._end_by_outcome(job_id, now))
        self._emit(events)

    def _end_by_outcome(self, job_id: int, now: float) -> SchedulerEvent:
        run = self.running[job_id]
        outcome = run.outcome
        output_file = run.request.env.get("SOMAWF_OUTPUT_PARAMS")
        if self.workspace is not None and output_file:
            if outcome.outputs_text is not None:
                self.workspace.files[output_file] = outcome.outputs_text
            elif outcome.outputs is not None:
                self.workspace.write_json(output_file, outcome.outputs)
        if outcome.signal is not None:
            info = ExitInfo(ExitStatus.FINISHED_TERM_SIG, None, outcome.signal)
            return self._end(job_id, JobStatus.FAILED, info, now)
        info = ExitInfo(ExitStatus.FINISHED_REGULARLY, outcome.exit_value)
        status = JobStatus.DONE if outcome.exit_value == 0 else JobStatus.FAILED
        return self._end(job_id, status, info, now)

    def _end(self, job_id: int, status: JobStatus, info: ExitInfo, now: float) -> SchedulerEvent:
        run = self.running.pop(job_id)
        self.slots_used -= run.request.slots
        event = SchedulerEvent(job_id, status, exit=info, scheduler_job_id=str(job_id), time=now)
        self.unacknowledged[job_id] = event
        self.last_end[job_id] = event
        return event

    def _emit(self, events: Sequence[SchedulerEvent | Capacity]) -> None:
        with self._lock:
            sink = self._sink
        if events and sink is not None:
            sink(list(events))


# ---------------------------------------------------------------------------------------
# Store
# ---------------------------------------------------------------------------------------


class SimulatedCrash(RuntimeError):
    """Raised by the store to stop an engine between two ticks, like a power cut."""


@dataclass
class _StoredWorkflow:
    row: WorkflowRow
    new_workflow: NewWorkflow
    job_ids: Sequence[int]
    states: dict[int, JobState] = field(default_factory=dict)
    #: job id -> number of the ``apply`` that last wrote it (absent: 0, never written).
    stamps: dict[int, int] = field(default_factory=dict)


class InMemoryStore:
    """WorkflowStore port in memory; every read and write copies job states."""

    def __init__(self, id_step: int = 1) -> None:
        self._lock = threading.RLock()
        self._workflows: dict[int, _StoredWorkflow] = {}
        self._first_ids: list[int] = []  # sorted first job id of each workflow
        self._first_owner: dict[int, int] = {}
        self._next_workflow = itertools.count(1)
        self._next_job = 1
        self._id_step = id_step
        #: Number of ``apply`` transactions (one per engine tick with changes).
        self.apply_count = 0
        #: The change feed's counter: one more per ``apply`` that writes jobs.
        self.change_count = 0
        #: When set, ``apply`` raises SimulatedCrash on that call number (1-based).
        self.crash_on_apply: int | None = None

    # -- writes -------------------------------------------------------------------------

    def add_workflow(
        self, workflow: NewWorkflow, approve: Callable[[], None] | None = None
    ) -> SubmittedWorkflow:
        if approve is not None:
            approve()  # raises: nothing stored
        with self._lock:
            workflow_id = next(self._next_workflow)
            count = len(workflow.jobs)
            first = self._next_job
            job_ids = range(first, first + count * self._id_step, self._id_step)
            self._next_job = first + max(count, 1) * self._id_step
            row = WorkflowRow(
                workflow_id=workflow_id,
                user=workflow.user,
                name=workflow.name,
                status=WorkflowStatus.NOT_STARTED,
                queue=workflow.queue,
                expiration_date=workflow.expiration_date,
                submission_date=workflow.submission_date,
                job_count=count,
                # Contiguous ids, as the SQL store gives them, say so.
                first_job_id=first if self._id_step == 1 else None,
                transfer_count=workflow.transfer_count,
            )
            self._workflows[workflow_id] = _StoredWorkflow(row, workflow, job_ids)
            if count:
                bisect.insort(self._first_ids, first)
                self._first_owner[first] = workflow_id
            return SubmittedWorkflow(workflow_id, job_ids)

    def apply(self, jobs: Sequence[JobUpdate], workflows: Sequence[WorkflowUpdate] = ()) -> None:
        with self._lock:
            self.apply_count += 1
            if self.crash_on_apply is not None and self.apply_count >= self.crash_on_apply:
                raise SimulatedCrash(f"store crash on apply #{self.apply_count}")
            if jobs:
                self.change_count += 1
            for update in jobs:
                found = self._locate(update.job_id)
                if found is None:
                    raise KeyError(f"apply: unknown job {update.job_id}")
                found[0].states[update.job_id] = _copy_state(update.state)
                found[0].stamps[update.job_id] = self.change_count
            for wf_update in workflows:
                stored = self._workflows.get(wf_update.workflow_id)
                if stored is None:
                    raise KeyError(f"apply: unknown workflow {wf_update.workflow_id}")
                stored.row.status = wf_update.status

    def set_expiration(self, workflow_id: int, expiration_date: float | None) -> bool:
        with self._lock:
            stored = self._workflows.get(workflow_id)
            if stored is None:
                return False
            stored.row.expiration_date = expiration_date
            return True

    def delete_workflow(self, workflow_id: int) -> bool:
        with self._lock:
            stored = self._workflows.pop(workflow_id, None)
            if stored is None:
                return False
            if len(stored.job_ids):
                first = stored.job_ids[0]
                self._first_ids.remove(first)
                del self._first_owner[first]
            return True

    # -- reads --------------------------------------------------------------------------

    def workflow(self, workflow_id: int, with_document: bool = False) -> WorkflowRow | None:
        with self._lock:
            stored = self._workflows.get(workflow_id)
            if stored is None:
                return None
            row = copy.copy(stored.row)
            row.document = _decoded(stored.new_workflow.document) if with_document else None
            row.working_directory = stored.new_workflow.working_directory if with_document else None
            return row

    def workflows(
        self, user: str | None = None, workflow_ids: Sequence[int] | None = None
    ) -> list[WorkflowRow]:
        with self._lock:
            ids = sorted(self._workflows) if workflow_ids is None else list(workflow_ids)
            rows = [copy.copy(self._workflows[i].row) for i in ids if i in self._workflows]
        return [row for row in rows if user is None or row.user == user]

    def jobs_of(self, workflow_id: int) -> list[JobRow]:
        with self._lock:
            stored = self._workflows.get(workflow_id)
            if stored is None:
                return []
            return [self._row(stored, position) for position in range(len(stored.job_ids))]

    def job(self, job_id: int) -> JobRow | None:
        with self._lock:
            found = self._locate(job_id)
            return None if found is None else self._row(found[0], found[1])

    def job_summaries(self, workflow_id: int) -> list[JobSummary]:
        return self.job_changes(workflow_id).summaries

    def job_changes(self, workflow_id: int, since: int | None = None) -> JobChanges:
        with self._lock:
            stored = self._workflows.get(workflow_id)
            if stored is None:
                return JobChanges(self.change_count, [])
            untouched = JobState(queue=stored.row.queue)  # as ``jobs_of`` shows them
            summaries = [
                _summary(job_id, stored.states.get(job_id, untouched))
                for job_id in stored.job_ids
                if since is None or stored.stamps.get(job_id, 0) > since
            ]
            return JobChanges(self.change_count, summaries)

    def job_aggregates(self, workflow_ids: Sequence[int]) -> dict[int, JobAggregate]:
        found: dict[int, JobAggregate] = {}
        for workflow_id in workflow_ids:
            summaries = self.job_changes(workflow_id).summaries
            if summaries:
                starts = [s[7] for s in summaries if s[7] is not None]
                ends = [s[8] for s in summaries if s[8] is not None]
                counts = dict(Counter(s[1] for s in summaries))
                found[workflow_id] = JobAggregate(
                    counts, min(starts, default=None), max(ends, default=None)
                )
        return found

    def job_page(
        self, workflow_id: int, query: JobPageQuery
    ) -> tuple[int, list[tuple[str, JobSummary]]]:
        rows = [
            (row.name, row.index, s)
            for row, s in zip(
                self.jobs_of(workflow_id), self.job_changes(workflow_id).summaries, strict=True
            )
        ]
        rows = [r for r in rows if not query.statuses or r[2][1].value in query.statuses]
        rows = [r for r in rows if query.text.lower() in r[0].lower()]
        position = {"name": 0, "status": 1}.get(query.sort)
        if position is not None:
            rows.sort(key=lambda r: (str(r[position] if position == 0 else r[2][1].value), r[1]))
        if query.descending:
            rows.reverse()
        page = rows[query.offset : query.offset + query.limit]
        return len(rows), [(name, summary) for name, _, summary in page]

    def status_counts(self, workflow_id: int) -> dict[JobStatus, int]:
        with self._lock:
            stored = self._workflows.get(workflow_id)
            if stored is None:
                return {}
            counts: dict[JobStatus, int] = {}
            for state in stored.states.values():
                counts[state.status] = counts.get(state.status, 0) + 1
            untouched = len(stored.job_ids) - len(stored.states)
            if untouched:
                counts[JobStatus.NOT_SUBMITTED] = counts.get(JobStatus.NOT_SUBMITTED, 0) + untouched
            return counts

    def active_workflow_ids(self) -> list[int]:
        with self._lock:
            return sorted(
                wf_id
                for wf_id, stored in self._workflows.items()
                if stored.row.status is not WorkflowStatus.DONE
            )

    def expired_workflow_ids(self, now: float) -> list[int]:
        with self._lock:
            return sorted(
                wf_id
                for wf_id, stored in self._workflows.items()
                if stored.row.expiration_date is not None and stored.row.expiration_date < now
            )

    def close(self) -> None:
        pass

    # -- test helpers -------------------------------------------------------------------

    def job_ids_of(self, workflow_id: int) -> list[int]:
        with self._lock:
            return list(self._workflows[workflow_id].job_ids)

    def state_of(self, job_id: int) -> JobState:
        row = self.job(job_id)
        assert row is not None, f"no job {job_id}"
        return row.state

    # -- internals ----------------------------------------------------------------------

    def _locate(self, job_id: int) -> tuple[_StoredWorkflow, int] | None:
        spot = bisect.bisect_right(self._first_ids, job_id) - 1
        if spot < 0:
            return None
        first = self._first_ids[spot]
        stored = self._workflows[self._first_owner[first]]
        offset, remainder = divmod(job_id - first, self._id_step)
        if remainder or offset >= len(stored.job_ids):
            return None
        return stored, offset

    def _row(self, stored: _StoredWorkflow, position: int) -> JobRow:
        job_id = stored.job_ids[position]
        new_job = stored.new_workflow.jobs[position]
        state = stored.states.get(job_id)
        return JobRow(
            job_id=job_id,
            workflow_id=stored.row.workflow_id,
            index=new_job.index,
            name=new_job.name,
            priority=new_job.priority,
            is_barrier=new_job.is_barrier,
            state=_copy_state(state) if state is not None else JobState(queue=stored.row.queue),
        )


def _summary(job_id: int, state: JobState) -> JobSummary:
    return (
        job_id,
        state.status,
        state.exit_status,
        state.exit_value,
        state.term_signal,
        state.resource_usage,
        state.submission_date,
        state.execution_date,
        state.ending_date,
        state.scheduler_job_id,
        state.queue,
        state.attempt,
    )


def _copy_state(state: JobState) -> JobState:
    clone = copy.copy(state)
    if clone.command is not None:
        clone.command = list(clone.command)
    if clone.past_attempts is not None:
        clone.past_attempts = [dict(record) for record in clone.past_attempts]
    if clone.output_params is not None:
        clone.output_params = copy.deepcopy(clone.output_params)
    return clone


# ---------------------------------------------------------------------------------------
# Workspace
# ---------------------------------------------------------------------------------------


class InMemoryWorkspace:
    """Workspace port in a dictionary of path -> text (directories in a set)."""

    def __init__(self, root: str = "/ws") -> None:
        self.root = root
        self.files: dict[str, str] = {}
        self.directories: set[str] = set()
        #: env_builder_code -> the variables it "prints" (other code fails).
        self.env_builders: dict[str, dict[str, str]] = {}
        self.env_builder_runs = 0

    def default_output_files(self, workflow_id: int, job_id: int) -> tuple[str, str]:
        base = f"{self.root}/jobs/{workflow_id}/{job_id}"
        return f"{base}.out", f"{base}.err"

    def params_file(self, workflow_id: int, job_id: int, direction: str) -> str:
        return f"{self.root}/jobs/{workflow_id}/{job_id}.{direction}s.json"

    def temporary_path(self, workflow_id: int, key: str, is_directory: bool, suffix: str) -> str:
        path = f"{self.root}/tmp/{workflow_id}/{key}{suffix}"
        if is_directory:
            self.directories.add(path)
        else:
            self.files.setdefault(path, "")
        return path

    def write_json(self, path: str, data: Any) -> None:
        import json

        self.files[path] = json.dumps(data)

    def read_json(self, path: str) -> Any:
        import json

        if path not in self.files:
            raise WorkspaceError(f"file {path} does not exist")
        try:
            return json.loads(self.files[path])
        except json.JSONDecodeError as error:
            raise WorkspaceError(f"{path} is not valid JSON ({error.msg})") from error

    def discard(self, path: str) -> None:
        self.files.pop(path, None)

    def append_text(self, path: str, text: str) -> None:
        self.files[path] = self.files.get(path, "") + text + ("" if text.endswith("\n") else "\n")

    def run_env_builder(self, code: str) -> dict[str, str]:
        self.env_builder_runs += 1
        if code not in self.env_builders:
            raise WorkspaceError(f"env_builder_code failed: {code!r} is not known")
        return dict(self.env_builders[code])

    def default_working_directory(self) -> str:
        return "/home/user"

    def refusal_batch(self) -> AbstractContextManager[None]:
        return nullcontext()

    def refusals(self, paths: Sequence[str], follow_last: bool = True) -> list[str | None]:
        """Lexical only (no symlinks here): the root but its jobs/ and tmp/ areas."""
        import posixpath

        out: list[str | None] = []
        for path in paths:
            real = posixpath.normpath(path)
            inside = real == self.root or real.startswith(self.root + "/")
            if not inside or real.startswith((f"{self.root}/jobs", f"{self.root}/tmp")):
                out.append(None)
            else:
                out.append(f"{real}, inside the engine's state directory {self.root}")
        return out

    def remove_workflow(self, workflow_id: int) -> None:
        for prefix in (f"{self.root}/jobs/{workflow_id}/", f"{self.root}/tmp/{workflow_id}/"):
            for path in [p for p in self.files if p.startswith(prefix)]:
                del self.files[path]
            self.directories = {d for d in self.directories if not d.startswith(prefix)}


# ---------------------------------------------------------------------------------------
# Harness
# ---------------------------------------------------------------------------------------


class EngineHarness:
    """An Engine and its EngineService on the fakes above, with test conveniences."""

    def __init__(
        self,
        slots: int = 4,
        behaviour: Behaviour = always_succeed,
        max_running_jobs: dict[str | None, int] | None = None,
        id_step: int = 1,
        workspace: Any = None,
        emit_running: bool = True,
        store: Any = None,
        max_queued_jobs: dict[str | None, int] | None = None,
        unit: CapacityUnit = CapacityUnit.CPUS,
        default_attempts: int = 1,
        transfers: Any = None,
    ) -> None:
        self.clock = VirtualClock()
        self.transfers = transfers
        self.default_attempts = default_attempts
        self.workspace = workspace if workspace is not None else InMemoryWorkspace()
        self.store = store if store is not None else InMemoryStore(id_step)
        fake_workspace = self.workspace if isinstance(self.workspace, InMemoryWorkspace) else None
        self.scheduler = FakeScheduler(
            self.clock, slots, behaviour, fake_workspace, emit_running=emit_running, unit=unit
        )
        self.job_limits = (max_running_jobs, max_queued_jobs)
        self.engine = self._new_engine()
        self.service = self._new_service()

    def _new_engine(self) -> Engine:
        return Engine(
            self.store,
            self.scheduler,
            self.clock,
            self.workspace,
            max_running_jobs=self.job_limits[0],
            max_queued_jobs=self.job_limits[1],
            sweep_interval=3600.0,
            default_attempts=self.default_attempts,
            transfers=self.transfers,
        )

    def _new_service(self) -> EngineService:
        return EngineService(
            self.store,
            self.engine,
            self.clock,
            user="tester",
            control_timeout=10.0,
            transfers=self.transfers,
        )

    def __enter__(self) -> EngineHarness:
        self.engine.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.engine.alive:
            self.engine.shutdown()

    # -- conveniences -------------------------------------------------------------------

    def submit(self, workflow: Workflow, **kwargs: Any) -> int:
        return self.service.submit_workflow(workflow_to_dict(workflow), **kwargs)

    def ids(self, workflow_id: int) -> list[int]:
        return self.store.job_ids_of(workflow_id)

    def states(self, workflow_id: int) -> list[JobState]:
        return [row.state for row in self.store.jobs_of(workflow_id)]

    def statuses(self, workflow_id: int) -> list[str]:
        return [state.status.value for state in self.states(workflow_id)]

    def exits(self, workflow_id: int) -> list[str | None]:
        return [
            state.exit_status.value if state.exit_status is not None else None
            for state in self.states(workflow_id)
        ]

    def wait(self, workflow_id: int, timeout: float = 10.0) -> None:
        assert self.service.wait_workflow(workflow_id, timeout), "workflow did not finish"

    def idle(self) -> None:
        self.engine.wait_idle()

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.engine.wait_idle()

    def restart_engine(self) -> None:
        """A new engine on the same store, scheduler and workspace (after a crash or a
        shutdown of the old one)."""
        if self.engine.alive:
            self.engine.shutdown()
        self.scheduler.close()
        self.engine = self._new_engine()
        self.service = self._new_service()
        self.engine.start()
        self.engine.wait_idle()


def _decoded(document: dict[str, Any] | str) -> dict[str, Any]:
    """A stored document as the SQL store gives it back (JSON text decoded)."""
    loaded: dict[str, Any] = json.loads(document) if isinstance(document, str) else document
    return loaded
