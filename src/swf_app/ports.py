"""The ports swf_app needs from the outside world, each a ``typing.Protocol``.

They are batch-shaped on purpose: the engine applies one transaction per tick and submits
ready jobs in batches, so no port is called once per job on the hot path.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

from swf_domain.errors import SomaWorkflowError
from swf_domain.status import ExitInfo, ExitStatus, JobStatus, WorkflowStatus

# ---------------------------------------------------------------------------------------
# Clock
# ---------------------------------------------------------------------------------------


class Clock(Protocol):
    """Time, passed in so that services run on a virtual clock in tests."""

    def now(self) -> float:
        """Seconds since the epoch (dates shown to users, expiration)."""
        ...

    def monotonic(self) -> float:
        """Seconds on a monotonic clock (timeouts, durations)."""
        ...


# ---------------------------------------------------------------------------------------
# Scheduler
# ---------------------------------------------------------------------------------------


#: The tag a job is submitted under: stable across engine restarts, so that a batch
#: scheduler can find (``squeue --name``) a job submitted just before a crash.
LAUNCH_NAME_PREFIX = "swf-"


def launch_name(workflow_id: int, job_id: int) -> str:
    """``swf-<workflow id>-<job id>``: the name a job carries on the scheduler."""
    return f"{LAUNCH_NAME_PREFIX}{workflow_id}-{job_id}"


def job_id_of_launch_name(name: str) -> int | None:
    """The job id in a ``launch_name`` (None for a name swf did not give)."""
    if not name.startswith(LAUNCH_NAME_PREFIX):
        return None
    parts = name[len(LAUNCH_NAME_PREFIX) :].split("-")
    if len(parts) != 2 or not all(part.isdigit() for part in parts):
        return None
    return int(parts[1])


@dataclass(frozen=True, slots=True)
class ParallelSpec:
    """A job's ``parallel_job_info`` as the user wrote it (never clamped to a resource):
    a cluster adapter turns it into its own options (``--nodes``, ``-pe``, ``-l select``)."""

    #: soma-workflow's configuration name: ``native``, ``MPI``, ``OpenMP``...
    config_name: str
    nodes: int
    cpus_per_node: int

    @property
    def cpus(self) -> int:
        return self.nodes * self.cpus_per_node

    def environment(self) -> dict[str, str]:
        """Variables the job gets for its kind, beneath its own env (which wins).

        An OpenMP job's threads default to every CPU of the machine, not to the CPUs it
        was given: ``OMP_NUM_THREADS`` says how many it asked for, on every scheduler.
        """
        if self.config_name.lower() == "openmp":
            return {"OMP_NUM_THREADS": str(self.cpus_per_node)}
        return {}

    @classmethod
    def of(cls, parallel_job_info: Mapping[str, Any] | None) -> ParallelSpec | None:
        """The spec of a job (None when it asks for nothing special)."""
        if not parallel_job_info:
            return None
        return cls(
            str(parallel_job_info.get("config_name") or "native"),
            _at_least_one(parallel_job_info.get("nodes_number", 1)),
            _at_least_one(parallel_job_info.get("cpu_per_node", 1)),
        )


def _at_least_one(value: Any) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return 1
    return max(number, 1)


@dataclass(frozen=True, slots=True)
class LaunchRequest:
    """Everything a scheduler needs to start one job; the engine has resolved all paths."""

    job_id: int
    workflow_id: int
    argv: tuple[str, ...]
    #: Variables added to (or overriding) the engine's environment for this job.
    env: Mapping[str, str]
    stdout_file: str
    #: None when stderr is joined into stdout (join_stderrout).
    stderr_file: str | None
    working_directory: str | None = None
    stdin_file: str | None = None
    #: Capacity units the engine counts for this job (see ``Capacity``): its CPUs clamped
    #: to the capacity so that it can run at all, or 1 on a job-counted scheduler. What
    #: the job asked for is ``parallel``.
    slots: int = 1
    queue: str | None = None
    #: Scheduler options, as the job or workflow gave them (one string or a list).
    native_specification: str | list[str] | None = None
    priority: int = 0
    #: The stable tag to submit the job under (``launch_name``).
    name: str = ""
    #: The user's name for the job (for a scheduler's display only).
    job_name: str = ""
    #: The job's parallel_job_info, unclamped (None: one CPU on one node).
    parallel: ParallelSpec | None = None
    #: Which attempt this submission is (1 = first): an adapter may grow memory or
    #: walltime with it, as Nextflow's ``task.attempt``.
    attempt: int = 1
    #: stdout and stderr are the Workspace's default files, in the engine's own area: the
    #: scheduler opens them without following a symlink (``O_NOFOLLOW``), so that a job
    #: cannot plant one there to make a later job write into the engine's files. The
    #: engine checks nothing of them at launch (no system call per job on its thread):
    #: their names (``Workspace.default_output_files``) are no engine file's name, so
    #: even through a directory a job swapped for a symlink, such a file is never one of
    #: the engine's.
    private_outputs: bool = False


@dataclass(frozen=True, slots=True)
class SchedulerEvent:
    """A job changed state on the scheduler side (queued, started, ended).

    ``scheduler_job_id`` is the scheduler's own id (pid, SLURM job id...): sent with the
    first event that knows it, it is written to the store, which hands it back at the
    next engine start (``KnownJob``).
    """

    job_id: int
    status: JobStatus
    #: Set when the job ended (status DONE or FAILED).
    exit: ExitInfo | None = None
    scheduler_job_id: str | None = None
    #: Epoch seconds when the change happened on the scheduler side (start or end).
    time: float | None = None


class CapacityUnit(enum.Enum):
    """What a scheduler's capacity counts."""

    #: A job takes its ``parallel`` CPUs (nodes x cpus per node): local cores, an MPI pilot.
    CPUS = "cpus"
    #: A job takes one, whatever its size: a batch queue's job slots.
    JOBS = "jobs"


@dataclass(frozen=True, slots=True)
class Capacity:
    """How much the scheduler runs at once: the engine submits within it.

    ``total`` None means no limit the scheduler knows of (a cluster queues what it
    cannot run yet; the configuration's MAX_JOB_IN_QUEUE / MAX_JOB_RUNNING still apply).
    ``total`` 0 is legal: nothing can start until a ``Capacity`` event raises it (an MPI
    pilot whose allocation has not started).
    """

    unit: CapacityUnit
    total: int | None
    #: Per-queue caps in the same unit (a queue absent here is capped by ``total`` only).
    per_queue: Mapping[str | None, int] = field(default_factory=dict)


#: What a scheduler reports: job events, and a new ``Capacity`` replacing the old one.
SchedulerReport = SchedulerEvent | Capacity
#: Called by the scheduler from any of its threads, one call per batch of reports.
EventSink = Callable[[Sequence[SchedulerReport]], None]


@dataclass(frozen=True, slots=True)
class KnownJob:
    """A job the store believes the scheduler holds (submitted, not ended).

    The store is every scheduler's journal: a batch scheduler keeps no file of its own,
    it is handed these at start and finds out what became of them.
    """

    job_id: int
    #: None when the job's submission was never confirmed by an event.
    scheduler_job_id: str | None
    #: The tag it was submitted under (``launch_name``).
    name: str


class Scheduler(Protocol):
    """Runs jobs on a computing resource and reports their state changes as events.

    The contract (checked for every adapter by ``tests/integration/scheduler_contract.py``):

    - ``start`` adopts: it is handed the jobs the store believes active and returns the
      ids of those it still holds, running or ended, plus any job it holds under an swf
      ``launch_name`` the store did not know of (submitted just before a crash). Every
      job it returns gets its end reported; every known job it does not return is lost
      (the engine fails it, exit undetermined).
    - Each end is reported once per adapter instance; an end is reported again by the
      next instance until ``acknowledge``d (the engine acknowledges after its commit, so a
      crash in between loses nothing). The engine ignores repeated ends.
    - ``submit`` and ``kill`` never block the engine thread: slow work (``sbatch``,
      ``scancel``, a network round trip) happens on the adapter's own threads, and its
      outcome comes back as events.
    - A job that cannot start is reported as a FAILED event (the reason in its stderr
      file), never raised: it fails alone, the rest of the batch goes on.
    - Capacity is read once at start (``capacity``) and changes through ``Capacity``
      reports in the event batches.
    - Jobs outlive the engine: ``close`` stops reporting but never kills.
    """

    def start(self, sink: EventSink, known: Sequence[KnownJob]) -> frozenset[int]:
        """Adopt ``known`` and begin reporting to ``sink`` (see the class docstring).

        May take time (the engine has not started its loop yet); the ends it finds are
        reported through ``sink``, possibly before this returns.
        """
        ...

    def capacity(self) -> Capacity:
        """The capacity now; later changes come as ``Capacity`` reports."""
        ...

    def submit(self, requests: Sequence[LaunchRequest]) -> None:
        """Start (or queue) the jobs, without blocking (see the class docstring)."""
        ...

    def kill(self, job_ids: Sequence[int]) -> None:
        """End the jobs and their whole process trees, without blocking; their ends arrive
        as events with exit status USER_KILLED."""
        ...

    def acknowledge(self, job_ids: Sequence[int]) -> None:
        """The engine has durably recorded these jobs' ends: the scheduler may forget them."""
        ...

    def close(self) -> None:
        """Stop reporting events and release resources; running jobs go on."""
        ...


# ---------------------------------------------------------------------------------------
# Store
# ---------------------------------------------------------------------------------------


@dataclass(slots=True)
class JobState:
    """The mutable state of one job, persisted whole on every change (one row update)."""

    status: JobStatus = JobStatus.NOT_SUBMITTED
    exit_status: ExitStatus | None = None
    exit_value: int | None = None
    term_signal: int | None = None
    resource_usage: str | None = None
    scheduler_job_id: str | None = None
    submission_date: float | None = None
    execution_date: float | None = None
    ending_date: float | None = None
    #: argv as run (after param links, paths and %(name)s were resolved), once submitted.
    command: list[str] | None = None
    stdout_file: str | None = None
    stderr_file: str | None = None
    #: Output parameters a has_outputs job wrote (dynamic outputs), once it ended.
    output_params: dict[str, Any] | None = None
    queue: str | None = None
    #: Which attempt this is (1 = the first run; more when the job asks for retries).
    attempt: int = 1
    #: Exit info of the earlier attempts, oldest first (``attempt_record``); None if none.
    past_attempts: list[dict[str, Any]] | None = None

    def exit_info(self) -> ExitInfo | None:
        if self.exit_status is None:
            return None
        return ExitInfo(self.exit_status, self.exit_value, self.term_signal, self.resource_usage)


@dataclass(frozen=True, slots=True)
class JobUpdate:
    job_id: int
    state: JobState


@dataclass(frozen=True, slots=True)
class WorkflowUpdate:
    workflow_id: int
    status: WorkflowStatus


@dataclass(frozen=True, slots=True)
class NewJob:
    """One job of a workflow being submitted, in the order of the document's job list."""

    index: int
    name: str
    priority: int = 0
    is_barrier: bool = False


@dataclass(frozen=True, slots=True)
class NewWorkflow:
    """A validated workflow being persisted (bulk insert, one transaction)."""

    user: str
    name: str | None
    #: The workflow in soma-workflow's JSON format (swf_domain.serialization), so the
    #: engine can rebuild it after a restart and clients can read it back; or its JSON
    #: text as a client sent it (already parsed and checked), which a store keeping JSON
    #: text stores as it is: a million-job document is ~350 MB of text, seconds to encode
    #: again, and its decoded form (~1.4 GB) need not outlive the engine's model of it.
    document: dict[str, Any] | str
    jobs: Sequence[NewJob]
    queue: str | None = None
    expiration_date: float | None = None
    submission_date: float | None = None
    #: Where the client was when it submitted: its jobs without a working directory run
    #: there (and their relative paths resolve there), as in a shell.
    working_directory: str | None = None
    #: How many file transfers the document declares (None: not said).
    transfer_count: int | None = None


@dataclass(frozen=True, slots=True)
class SubmittedWorkflow:
    workflow_id: int
    #: Job ids in the order of ``NewWorkflow.jobs``.
    job_ids: Sequence[int]


@dataclass(slots=True)
class WorkflowRow:
    workflow_id: int
    user: str
    name: str | None
    status: WorkflowStatus
    queue: str | None
    expiration_date: float | None
    submission_date: float | None
    job_count: int
    #: Ids are contiguous per workflow: its jobs are ``first_job_id + index`` (None: a
    #: store that does not say).
    first_job_id: int | None = None
    #: Only filled by ``WorkflowStore.workflow(..., with_document=True)``.
    document: dict[str, Any] | None = None
    #: NewWorkflow.working_directory; only filled with the document. None for workflows
    #: stored before swf kept it (schema version < 4).
    working_directory: str | None = None
    #: NewWorkflow.transfer_count: 0 tells a reader the document declares no file transfer
    #: without decoding it. None: unknown (stored before schema version 6).
    transfer_count: int | None = None


@dataclass(slots=True)
class JobRow:
    job_id: int
    workflow_id: int
    index: int
    name: str
    priority: int
    is_barrier: bool
    state: JobState = field(default_factory=JobState)


#: What a monitor shows of one job, as a plain tuple (a million of them stay cheap):
#: (job_id, status, exit_status, exit_value, term_signal, resource_usage, submission_date,
#: execution_date, ending_date, scheduler_job_id, queue, attempt).
JobSummary = tuple[
    int,
    JobStatus,
    ExitStatus | None,
    int | None,
    int | None,
    str | None,
    float | None,
    float | None,
    float | None,
    str | None,
    str | None,
    int,
]


@dataclass(frozen=True, slots=True)
class JobAggregate:
    """A workflow's jobs in a few numbers (what the workflows list shows of each)."""

    counts: dict[JobStatus, int]
    #: Earliest start and latest end of its jobs (None while none started / ended).
    first_started: float | None
    last_ended: float | None


#: Sort keys of ``WorkflowStore.job_page`` (the monitor's job table).
JOB_PAGE_SORTS = ("index", "name", "status", "submitted", "started", "ended", "duration")


@dataclass(frozen=True, slots=True)
class JobPageQuery:
    """One page of a workflow's jobs, filtered and sorted by the database."""

    offset: int = 0
    limit: int = 50
    #: Status values to keep (empty: every status).
    statuses: tuple[str, ...] = ()
    #: Case-insensitive part of the job's name (empty: every name).
    text: str = ""
    sort: str = "index"
    descending: bool = False


@dataclass(frozen=True, slots=True)
class JobChanges:
    """What ``WorkflowStore.job_changes`` found: pass ``since`` to the next call to get only
    the newer changes (a change may come twice, none is ever missed)."""

    since: int
    summaries: list[JobSummary]


class WorkflowStore(Protocol):
    """Persistence of workflows and job states; the engine is its only writer of job state.

    Readers (clients, monitors) never block the writer: every query is one statement.
    """

    def add_workflow(
        self, workflow: NewWorkflow, approve: Callable[[], None] | None = None
    ) -> SubmittedWorkflow:
        """Persist a workflow and all its jobs in one transaction (bulk insert).

        ``approve``, when given, is called inside the transaction once every row is
        written, just before the commit: whatever it raises rolls the transaction back
        (nothing is stored) and propagates. The service validates a submission while
        its rows are written (the database works outside the GIL meanwhile)."""
        ...

    def apply(self, jobs: Sequence[JobUpdate], workflows: Sequence[WorkflowUpdate] = ()) -> None:
        """Apply a batch of job and workflow changes in one transaction."""
        ...

    def workflow(self, workflow_id: int, with_document: bool = False) -> WorkflowRow | None: ...

    def workflows(
        self, user: str | None = None, workflow_ids: Sequence[int] | None = None
    ) -> list[WorkflowRow]: ...

    def jobs_of(self, workflow_id: int) -> list[JobRow]:
        """Every job row of one workflow, in index order, in one query."""
        ...

    def job(self, job_id: int) -> JobRow | None: ...

    def job_summaries(self, workflow_id: int) -> list[JobSummary]:
        """Every job of the workflow as a ``JobSummary``, in index order ([] if unknown)."""
        ...

    def job_changes(self, workflow_id: int, since: int | None = None) -> JobChanges:
        """The summaries of the jobs changed after ``since`` (None: every job), in index
        order, and the ``since`` to pass next time: monitors refresh a cache with it."""
        ...

    def status_counts(self, workflow_id: int) -> dict[JobStatus, int]:
        """How many jobs of the workflow are in each status (one GROUP BY)."""
        ...

    def job_aggregates(self, workflow_ids: Sequence[int]) -> dict[int, JobAggregate]:
        """Counts per status, first start and last end of each workflow's jobs, in one
        aggregate query (workflows without jobs or unknown are left out)."""
        ...

    def job_page(
        self, workflow_id: int, query: JobPageQuery
    ) -> tuple[int, list[tuple[str, JobSummary]]]:
        """(how many jobs match, the page asked for as (name, summary)): a 100,000-job
        workflow's table without reading every job."""
        ...

    def active_workflow_ids(self) -> list[int]:
        """Workflows whose status is not DONE (the engine reloads them after a restart)."""
        ...

    def set_expiration(self, workflow_id: int, expiration_date: float | None) -> bool: ...

    def expired_workflow_ids(self, now: float) -> list[int]: ...

    def delete_workflow(self, workflow_id: int) -> bool: ...

    def close(self) -> None: ...


# ---------------------------------------------------------------------------------------
# Workspace
# ---------------------------------------------------------------------------------------


class WorkspaceError(SomaWorkflowError):
    """A file the engine manages on the resource cannot be made, read or written.

    The message names the file and the reason, because the engine copies it into the
    job's stderr file for the user to read.
    """


class Workspace(Protocol):
    """The files the engine itself makes on the computing resource for the jobs.

    Only the engine thread calls it. Paths are plain strings valid on the resource: the
    engine puts them in commands and environment variables.
    """

    def default_output_files(self, workflow_id: int, job_id: int) -> tuple[str, str]:
        """(stdout, stderr) paths for a job that names none; their directory exists.
        No file of the engine may bear their names, wherever it is: the engine does not
        check them at launch (``LaunchRequest.private_outputs``)."""
        ...

    def params_file(self, workflow_id: int, job_id: int, direction: str) -> str:
        """Where the input (``direction="input"``) or output (``"output"``) parameters
        JSON file of a job goes when the job names none; its directory exists."""
        ...

    def temporary_path(self, workflow_id: int, key: str, is_directory: bool, suffix: str) -> str:
        """The path of a workflow's TemporaryPath ``key``, created on first use (a
        directory, or an empty file reserving the name); same answer on every call."""
        ...

    def write_json(self, path: str, data: Any) -> None:
        """Write ``data`` as JSON (raises WorkspaceError)."""
        ...

    def read_json(self, path: str) -> Any:
        """The JSON value in ``path`` (raises WorkspaceError naming the file and why)."""
        ...

    def discard(self, path: str) -> None:
        """Remove ``path`` if it exists (a stale output parameters file)."""
        ...

    def append_text(self, path: str, text: str) -> None:
        """Append ``text`` to ``path`` (creating it): reasons for the user in a stderr.
        Never through a symlink at ``path`` (a job may have planted one where the engine
        writes): then raises WorkspaceError, and the reason is logged instead."""
        ...

    def run_env_builder(self, code: str) -> dict[str, str]:
        """Run a workflow's env_builder_code (Python, no shell) and return the variables
        it prints as a JSON object on stdout (raises WorkspaceError with the reason)."""
        ...

    def remove_workflow(self, workflow_id: int) -> None:
        """Remove every file the engine made for the workflow (outputs, params, temps)."""
        ...

    def default_working_directory(self) -> str:
        """Where jobs run when neither they nor their workflow name a directory (a
        workflow stored before swf kept its client's directory): the user's home."""
        ...

    def refusals(self, paths: Sequence[str], follow_last: bool = True) -> list[str | None]:
        """For each absolute path: None when a job may use it as a file or working
        directory; otherwise where it leads, for the user (``"/s/swf.db, inside the
        engine's state directory /s"``). Symlinks and ``..`` are resolved as the system
        resolves them now; the areas this Workspace makes for jobs (their output and
        params files, temporary paths) are open to them. One call per batch: a
        million-job submission resolves each directory once. ``follow_last`` False: the
        files will be opened without following a symlink at their last component
        (``LaunchRequest.private_outputs``), so only their directories are resolved."""
        ...

    def refusal_batch(self) -> AbstractContextManager[None]:
        """Inside it, ``refusals`` calls from this thread may share what they learnt of
        directories, as one call would (the engine's launch batch: jobs built together,
        before any of them runs)."""
        ...


# ---------------------------------------------------------------------------------------
# Job output (read for clients, on the resource)
# ---------------------------------------------------------------------------------------


class JobOutputReader(Protocol):
    """Reads the jobs' stdout / stderr files where the jobs run, for ``read_job_output``."""

    def read(self, path: str, offset: int, limit: int) -> tuple[bytes, int, int | None]:
        """(up to ``limit`` bytes from ``offset``, the offset they start at, the file's
        size); a negative ``offset`` counts from the end; ``(b"", offset, None)`` when
        the file does not exist (yet)."""
        ...


# ---------------------------------------------------------------------------------------
# File trees (one side of a transfer: the client's disk, the resource over SFTP)
# ---------------------------------------------------------------------------------------


class EntryKind(enum.Enum):
    FILE = "file"
    DIRECTORY = "directory"
    LINK = "link"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class FileEntry:
    """What ``lstat`` says of a path: links are never followed by a transfer."""

    kind: EntryKind
    size: int


class ReadStream(Protocol):
    def read(self, size: int) -> bytes: ...

    def close(self) -> None: ...


class WriteStream(Protocol):
    def write(self, data: bytes) -> Any: ...

    def close(self) -> None: ...


class FileTree(Protocol):
    """One side of a transfer, addressed by POSIX paths. Two implementations: the local
    disk (the client; and the resource in unit tests, as a second disjoint tree) and SFTP
    over the resource's SSH connection. The copier (``swf_app.transfer_copy``) is the one
    user, so the operations are exactly what copying, resuming and verifying need."""

    def entry(self, path: str) -> FileEntry | None:
        """``lstat``: None when nothing is there."""
        ...

    def list_dir(self, path: str) -> list[str]: ...

    def list_entries(self, path: str) -> list[tuple[str, FileEntry]]:
        """Names and ``lstat`` of a directory's entries, in one call (one round trip)."""
        ...

    def make_dir(self, path: str) -> None:
        """With its missing parents (an existing directory is fine)."""
        ...

    def open_read(self, path: str, offset: int, size: int) -> ReadStream:
        """``size``: the file's size as listed (remote reads are prefetched up to it)."""
        ...

    def open_write(self, path: str, append: bool, size: int = 0) -> WriteStream:
        """``size``: the bytes about to be written (a big file may take a faster path)."""
        ...

    def replace(self, source: str, target: str) -> None:
        """Atomic rename over ``target``."""
        ...

    def remove(self, path: str) -> None: ...

    def remove_tree(self, path: str) -> None:
        """Remove a file or directory tree (links removed, never followed)."""
        ...

    def digests(self, paths: Sequence[str]) -> list[str]:
        """The SHA-256 (hex) of each file, computed on this side (one call for many)."""
        ...


class TransferArea(Protocol):
    """The resource's transfer directory (TRANSFERED_FILES_DIR): per transfer, keyed by
    (workflow id, rank), a data directory the jobs read and write, and a small state
    record (its status; for a transfer registered outside any workflow, its client
    paths and expiration too). Workflow 0 holds the standalone transfers."""

    def directory(self, workflow_id: int, rank: int) -> str:
        """The transfer's data directory (not created)."""
        ...

    def make(self, workflow_id: int, rank: int) -> str:
        """The data directory, created if missing."""
        ...

    def state(self, workflow_id: int, rank: int) -> dict[str, Any] | None: ...

    def write_state(self, workflow_id: int, rank: int, state: dict[str, Any]) -> None:
        """Atomically (a reader sees the old record or the new one)."""
        ...

    def remove(self, workflow_id: int, rank: int) -> None: ...

    def remove_workflow(self, workflow_id: int) -> None: ...

    def new_standalone(self) -> int:
        """A fresh rank under workflow 0 (safe against concurrent callers)."""
        ...

    def standalone(self) -> list[int]: ...
