"""What the ``EngineLink`` answers to queries: typed read models, the same for every client.

The link speaks in these (named tuples and frozen dataclasses of plain values), whatever
the transport; the facade turns them into soma-workflow's positional tuples and datetimes,
the CLI and the monitor build their views from them (``WorkflowSnapshot``). Statuses are
the soma strings (``JobStatus`` / ``ExitStatus`` / ``WorkflowStatus`` values), dates epoch
seconds: a million of them stay cheap to hold, compare and send.

``JobProgress`` is a named tuple on purpose: a monitor's cache of a million-job workflow
holds one per job, JSON writes it as an array at C speed, and a client that gets the same
object again (an unchanged job) knows at once that nothing changed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from swf_domain.status import JobStatus, WorkflowStatus


class JobProgress(NamedTuple):
    """One job as monitors see it: status, how it ended, when, where."""

    job_id: int
    status: str
    exit_status: str | None = None
    exit_value: int | None = None
    term_signal: int | None = None
    resource_usage: str | None = None
    submitted: float | None = None
    started: float | None = None
    ended: float | None = None
    scheduler_job_id: str | None = None
    queue: str | None = None
    #: The job's current (or last) attempt, 1 unless it asked for retries.
    attempt: int = 1

    @property
    def termination(self) -> JobTermination:
        return JobTermination(
            self.exit_status, self.exit_value, self.term_signal, self.resource_usage
        )


class JobTermination(NamedTuple):
    """How a job ended (soma's ``job_termination_status``); all None until it ended."""

    exit_status: str | None
    exit_value: int | None
    term_signal: int | None
    resource_usage: str | None


class JobFiles(NamedTuple):
    """Where the job's last run wrote its output, on the computing resource."""

    stdout: str | None
    stderr: str | None


class JobInfo(NamedTuple):
    """What soma's ``jobs()`` tells of a job, plus where it is in its workflow."""

    name: str
    #: argv as run; None until the job was submitted once.
    command: list[str] | None
    #: None until the job was submitted (as soma-workflow).
    submitted: float | None
    workflow_id: int
    #: Position of the job in its workflow's job list (the document's order).
    position: int


class WorkflowInfo(NamedTuple):
    """One line of the workflow list (soma's ``workflows()``: name and expiration)."""

    name: str | None
    expiration_date: float | None


class TransferInfo(NamedTuple):
    """One file transfer as the resource knows it (soma's transfer rows): ``transfer_id``
    is the workflow id times ``TRANSFER_ID_BASE`` plus its rank (workflow 0: registered
    outside any workflow); ``status`` is a ``TransferStatus`` value."""

    transfer_id: int
    engine_path: str
    client_path: str | None
    client_paths: list[str] | None
    is_input: bool
    status: str
    expiration_date: float | None


class WorkflowSummary(NamedTuple):
    """One row of a monitor's workflow list: soma's ``workflows()`` line plus where the
    workflow is (counts per status, dates), read by one aggregate query for every row."""

    name: str | None
    status: str
    queue: str | None
    expiration_date: float | None
    #: When the workflow was submitted (queued).
    submitted: float | None
    #: Its first job's start, its last job's end (None until then; ended once done).
    started: float | None
    ended: float | None
    total: int
    #: Jobs per status value (statuses with no job left out).
    counts: dict[str, int]


@dataclass(frozen=True, slots=True)
class JobPage:
    """One page of a workflow's jobs, filtered and sorted by the store: ``total`` jobs
    match, ``jobs`` and ``names`` (same order) are those of the page."""

    workflow_id: int
    total: int
    jobs: list[JobProgress]
    names: list[str]


@dataclass(frozen=True, slots=True)
class WorkflowProgress:
    """A workflow's status and every job's progress, in the document's job order."""

    workflow_id: int
    status: str
    queue: str | None
    jobs: list[JobProgress]


@dataclass(frozen=True, slots=True)
class JobChangeBatch:
    """What changed in a workflow since a point of the change feed.

    ``since`` is the point to pass next time (opaque; ``None`` asks for every job). A job
    may come twice across batches, none is ever missed: each entry is the job's whole
    state, so a monitor simply replaces its copy.
    """

    workflow_id: int
    since: int
    status: str
    jobs: list[JobProgress]


#: Streams a job writes, for ``read_job_output``.
STREAMS = ("stdout", "stderr")


@dataclass(frozen=True, slots=True)
class OutputChunk:
    """A bounded piece of a job's stdout or stderr, read through the link.

    ``offset`` is where ``data`` starts in the file, ``next_offset`` where to read next;
    ``size`` is the file's size when read (None: the file does not exist yet, or the job
    has not started); ``ended`` tells that the job has ended, so once ``next_offset``
    reaches ``size`` nothing more will come.
    """

    data: bytes
    offset: int
    next_offset: int
    size: int | None
    ended: bool


# -- soma-workflow's tuples (the facade's return shapes) ----------------------------------


def soma_job_entry(
    job: JobProgress, with_drms_id: bool, date: Callable[[float | None], Any]
) -> tuple[Any, ...]:
    """soma's ``workflow_elements_status`` job row: ``(id, status, queue, (exit status,
    value, signal, usage), (submitted, started, ended, queue)[, drms id])``, each date
    through ``date`` (soma-workflow repeats the queue in the dates tuple)."""
    entry = (
        job.job_id,
        job.status,
        job.queue,
        (job.exit_status, job.exit_value, job.term_signal, job.resource_usage),
        (date(job.submitted), date(job.started), date(job.ended), job.queue),
    )
    return (*entry, job.scheduler_job_id) if with_drms_id else entry


def keep(value: float | None) -> float | None:
    return value


# -- the view model shared by the CLI and the monitor -------------------------------------


@dataclass(slots=True)
class JobView:
    """One job as a person sees it: its name beside its progress."""

    job_id: int
    name: str
    status: str
    exit_status: str | None
    exit_value: int | None
    term_signal: int | None
    submitted: float | None
    started: float | None
    ended: float | None
    #: The job's id on a cluster (soma's drmaa id: SLURM ``123_4``), None on local cores.
    scheduler_job_id: str | None = None
    #: Which attempt the job is at (1 unless it asked for retries).
    attempt: int = 1

    @classmethod
    def of(cls, job: JobProgress, name: str) -> JobView:
        return cls(
            job.job_id,
            name,
            job.status,
            job.exit_status,
            job.exit_value,
            job.term_signal,
            job.submitted,
            job.started,
            job.ended,
            job.scheduler_job_id,
            job.attempt,
        )

    @property
    def failed(self) -> bool:
        return self.status == JobStatus.FAILED.value

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.job_id,
            "name": self.name,
            "status": self.status,
            "exit_status": self.exit_status,
            "exit_value": self.exit_value,
            "term_signal": self.term_signal,
            "submitted": iso_date(self.submitted),
            "started": iso_date(self.started),
            "ended": iso_date(self.ended),
            "scheduler_job_id": self.scheduler_job_id,
            "attempt": self.attempt,
        }


_FINISHED = frozenset({JobStatus.DONE.value, JobStatus.FAILED.value})


@dataclass(slots=True)
class WorkflowSnapshot:
    """A workflow's state at one moment: what every read command and view renders."""

    workflow_id: int
    name: str | None
    status: str
    queue: str | None
    jobs: list[JobView] = field(default_factory=list)

    @classmethod
    def of(
        cls,
        progress: WorkflowProgress,
        name: str | None,
        job_names: Mapping[int | None, str] | None = None,
    ) -> WorkflowSnapshot:
        """The snapshot of ``progress``; jobs without a known name are shown by id."""
        names = job_names or {}
        views = [JobView.of(job, names.get(job.job_id, str(job.job_id))) for job in progress.jobs]
        views.sort(key=lambda view: view.job_id)
        return cls(progress.workflow_id, name, progress.status, progress.queue, views)

    def counts(self) -> Counter[str]:
        return Counter(job.status for job in self.jobs)

    def finished(self) -> int:
        return sum(1 for job in self.jobs if job.status in _FINISHED)

    @property
    def is_done(self) -> bool:
        return self.status == WorkflowStatus.DONE.value

    def failed_jobs(self) -> list[JobView]:
        return [job for job in self.jobs if job.failed]

    def as_json(self, with_jobs: bool) -> dict[str, Any]:
        document: dict[str, Any] = {
            "id": self.workflow_id,
            "name": self.name,
            "status": self.status,
            "queue": self.queue,
            "counts": dict(sorted(self.counts().items())),
            "total": len(self.jobs),
        }
        if with_jobs:
            document["jobs"] = [job.as_json() for job in self.jobs]
        return document


def iso_date(epoch: float | None) -> str | None:
    """A local date to the second, as the CLI and the monitor print it."""
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch).isoformat(timespec="seconds")


def merge_changes(jobs: list[JobProgress], changed: Iterable[JobProgress]) -> list[JobProgress]:
    """``jobs`` (index order) with the ``changed`` entries replacing or appending: how a
    monitor applies a ``JobChangeBatch`` to its copy."""
    positions = {job.job_id: index for index, job in enumerate(jobs)}
    merged = list(jobs)
    for job in changed:
        position = positions.get(job.job_id)
        if position is None:
            positions[job.job_id] = len(merged)
            merged.append(job)
        else:
            merged[position] = job
    return merged
