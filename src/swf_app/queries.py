"""QueryService: the read-only half of the ``EngineLink`` port, served from the store.

Queries never need the engine: the store holds every state the engine has committed. So
the same service answers in the engine's process (``EngineService`` delegates to it) and
in a client's process (the daemon's clients read the store themselves, so monitors polling
big workflows cost the engine nothing).

``workflow_elements_status`` is what monitors poll, and a full read of a million jobs
takes seconds; so each workflow's answer is cached as ``JobProgress`` entries and refreshed
with the store's change feed (``job_changes``): a refresh reads only the jobs changed
since the previous call. The cache holds a few workflows (least recently used go first)
and forgets a workflow once it is deleted.
"""

from __future__ import annotations

import getpass
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from swf_domain.errors import EngineError, JobError, UnknownObjectError
from swf_domain.gc_pause import gc_paused
from swf_domain.status import TERMINAL_JOB_STATUSES, ExitStatus, JobStatus

from .link import MAX_OUTPUT_CHUNK, Kind, operation
from .ports import (
    JobOutputReader,
    JobPageQuery,
    JobRow,
    JobSummary,
    TransferArea,
    WorkflowRow,
    WorkflowStore,
)
from .read_models import (
    STREAMS,
    JobChangeBatch,
    JobFiles,
    JobInfo,
    JobPage,
    JobProgress,
    JobTermination,
    OutputChunk,
    TransferInfo,
    WorkflowInfo,
    WorkflowProgress,
    WorkflowSummary,
)
from .transfer_queries import TransferQueries
from .workflow_list import WorkflowLister, job_page

#: ``jobs_info`` reads up to this many jobs one by one, more by whole workflows.
_SINGLE_JOB_READS = 32

#: Workflows whose elements status stays cached (a million-job one takes a few hundred MB;
#: monitors rarely watch more than a handful at once).
DEFAULT_CACHED_WORKFLOWS = 4


@dataclass(slots=True)
class _ElementsCache:
    """One workflow's job progress, in index order, kept current with the change feed."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    #: None until the first (full) read.
    since: int | None = None
    entries: list[JobProgress] = field(default_factory=list)
    #: job id -> position in ``entries``.
    positions: dict[int, int] = field(default_factory=dict)

    def refresh(self, store: WorkflowStore, workflow_id: int) -> list[JobProgress]:
        """A copy of the entries once every change committed so far is merged in."""
        with self.lock, gc_paused():  # a first read builds a million acyclic tuples
            changes = store.job_changes(workflow_id, self.since)
            entries, positions = self.entries, self.positions
            for summary in changes.summaries:
                entry = progress_of(summary)
                position = positions.get(entry.job_id)
                if position is None:
                    positions[entry.job_id] = len(entries)
                    entries.append(entry)
                else:
                    entries[position] = entry
            self.since = changes.since
            return list(entries)


class QueryService:
    """Every read-only operation of the ``EngineLink`` port, as typed read models.

    Thread-safe: the store serves concurrent reads, and each cached workflow has its own
    lock (two monitors of one workflow refresh it one after the other, not twice at once).
    ``output`` reads the jobs' files (where this process sees them); without it
    ``read_job_output`` says that job output cannot be read from here.
    """

    def __init__(
        self,
        store: WorkflowStore,
        user: str | None = None,
        cached_workflows: int = DEFAULT_CACHED_WORKFLOWS,
        output: JobOutputReader | None = None,
        transfers: TransferArea | None = None,
    ) -> None:
        self._store = store
        self.transfers = TransferQueries(
            transfers,
            self.workflow_document,
            self._job_statuses,
            self.workflow_row,
            lambda workflow_id: self.workflow_row(workflow_id).transfer_count,
        )
        self.user = user if user is not None else getpass.getuser()
        self._cached_workflows = max(1, cached_workflows)
        self._caches: OrderedDict[int, _ElementsCache] = OrderedDict()
        self._caches_lock = threading.Lock()
        self._output = output
        self._lister = WorkflowLister(store, self.user)

    def workflow_document(self, workflow_id: int) -> dict[str, Any]:
        """The submitted document plus ``job_ids``: the id of each job, in job order."""
        row = self._store.workflow(workflow_id, with_document=True)
        if row is None or row.document is None:
            raise unknown_workflow(workflow_id)
        document = dict(row.document)
        if row.first_job_id is not None:  # no need to read every job for its id
            document["job_ids"] = list(range(row.first_job_id, row.first_job_id + row.job_count))
        else:
            document["job_ids"] = [job.job_id for job in self._store.jobs_of(workflow_id)]
        return document

    def workflow_transfers(self, workflow_id: int) -> list[TransferInfo]:
        return self.transfers.workflow_transfers(workflow_id)

    def transfers_info(self, transfer_ids: Sequence[int] | None = None) -> list[TransferInfo]:
        return self.transfers.transfers_info(transfer_ids)

    def _job_statuses(self, workflow_id: int) -> tuple[list[str], float | None]:
        """Each job's status in job order, and the expiration date (transfer rows)."""
        progress = self.workflow_elements_status(workflow_id)
        row = self.workflow_row(workflow_id)
        return [job.status for job in progress.jobs], row.expiration_date

    def workflows(self, workflow_ids: Sequence[int] | None = None) -> dict[int, WorkflowInfo]:
        ids = list(workflow_ids) if workflow_ids is not None else None
        return {
            row.workflow_id: WorkflowInfo(row.name, row.expiration_date)
            for row in self._store.workflows(user=self.user, workflow_ids=ids)
        }

    def workflow_list(
        self, workflow_ids: Sequence[int] | None = None
    ) -> dict[int, WorkflowSummary]:
        return self._lister.workflow_list(workflow_ids)

    def job_page(
        self,
        workflow_id: int,
        offset: int = 0,
        limit: int = 50,
        statuses: Sequence[str] = (),
        text: str = "",
        sort: str = "index",
        descending: bool = False,
    ) -> JobPage:
        self.workflow_row(workflow_id)
        query = JobPageQuery(offset, limit, tuple(statuses), text, sort, bool(descending))
        return job_page(self._store, workflow_id, query, progress_of)

    def workflow_status(self, workflow_id: int) -> str | None:
        return self.workflow_row(workflow_id).status.value

    def workflow_elements_status(
        self, workflow_id: int, with_drms_id: bool = True
    ) -> WorkflowProgress:
        """Every job's progress, from a cache refreshed with only what changed."""
        row = self.workflow_row(workflow_id)
        # Deleted between the two reads: the jobs read are those just before (or none), as
        # a full read would give; the next call finds the workflow gone and drops its cache.
        jobs = self._cache_of(workflow_id).refresh(self._store, workflow_id)
        return WorkflowProgress(workflow_id, row.status.value, row.queue, jobs)

    def job_changes(self, workflow_id: int, since: int | None = None) -> JobChangeBatch:
        """The jobs changed after ``since`` (None: every job): the monitors' change feed."""
        row = self.workflow_row(workflow_id)
        changes = self._store.job_changes(workflow_id, since)
        with gc_paused():
            jobs = [progress_of(summary) for summary in changes.summaries]
        return JobChangeBatch(workflow_id, changes.since, row.status.value, jobs)

    def job_status(self, job_id: int) -> str:
        return self.job_row(job_id).state.status.value

    def job_termination_status(self, job_id: int) -> JobTermination:
        """(exit status, exit value, signal, resource usage); Nones until it ended."""
        state = self.job_row(job_id).state
        return JobTermination(
            state.exit_status.value if state.exit_status is not None else None,
            state.exit_value,
            state.term_signal,
            state.resource_usage,
        )

    def job_files(self, job_id: int) -> JobFiles:
        """(stdout, stderr) paths as used by the job's last run."""
        state = self.job_row(job_id).state
        return JobFiles(state.stdout_file, state.stderr_file)

    def read_job_output(
        self, job_id: int, stream: str = "stdout", offset: int = 0, limit: int = MAX_OUTPUT_CHUNK
    ) -> OutputChunk:
        """A bounded chunk of the job's stdout or stderr (see ``EngineLink``)."""
        _check_output_request(job_id, stream, offset, limit)
        state = self.job_row(job_id).state
        ended = state.status in TERMINAL_JOB_STATUSES
        path = state.stdout_file if stream == "stdout" else state.stderr_file
        limit = max(0, min(limit, MAX_OUTPUT_CHUNK))
        if path is None:
            return OutputChunk(b"", max(0, offset), max(0, offset), None, ended)
        if self._output is None:
            raise EngineError(f"job {job_id}: its output cannot be read from this process")
        data, start, size = self._output.read(path, offset, limit)
        return OutputChunk(data, start, start + len(data), size, ended)

    def get_job_output_params(self, job_id: int) -> dict[str, Any] | None:
        return self.job_row(job_id).state.output_params

    def status_summary(self, workflow_id: int) -> dict[str, int]:
        self.workflow_row(workflow_id)
        counts = self._store.status_counts(workflow_id)
        return {status.value: count for status, count in counts.items() if count}

    def jobs_info(self, job_ids: Sequence[int]) -> dict[int, JobInfo]:
        """See ``EngineLink.jobs_info``. Scripts ask for every id of a workflow at once, so
        beyond a few ids each workflow met is read whole (one bulk read, not one per job)."""
        wanted = list(dict.fromkeys(job_ids))
        bulk = len(wanted) > _SINGLE_JOB_READS
        known: dict[int, JobRow] = {}
        result: dict[int, JobInfo] = {}
        for job_id in wanted:
            row = known.get(job_id) or self._store.job(job_id)
            if row is None:
                continue
            if bulk and job_id not in known:
                known.update((job.job_id, job) for job in self._store.jobs_of(row.workflow_id))
            state = row.state
            command = list(state.command) if state.command is not None else None
            result[job_id] = JobInfo(
                row.name, command, state.submission_date, row.workflow_id, row.index
            )
        return result

    # -- rows, shared with the commands ---------------------------------------------------

    def workflow_row(self, workflow_id: int) -> WorkflowRow:
        """The workflow's row; UnknownObjectError (and its cache dropped) when it is gone."""
        row = self._store.workflow(workflow_id)
        if row is None:
            self.forget(workflow_id)
            raise unknown_workflow(workflow_id)
        return row

    def job_row(self, job_id: int) -> JobRow:
        row = self._store.job(job_id)
        if row is None:
            raise UnknownObjectError(f"job {job_id} does not exist (or was deleted)")
        return row

    # -- cache ----------------------------------------------------------------------------

    def forget(self, workflow_id: int) -> None:
        """Drop the workflow's cached elements status (it was deleted)."""
        with self._caches_lock:
            self._caches.pop(workflow_id, None)
        self._lister.forget(workflow_id)

    def cached_workflow_ids(self) -> list[int]:
        """The workflows whose elements status is cached, least recently used first."""
        with self._caches_lock:
            return list(self._caches)

    def _cache_of(self, workflow_id: int) -> _ElementsCache:
        with self._caches_lock:
            cache = self._caches.get(workflow_id)
            if cache is None:
                cache = self._caches[workflow_id] = _ElementsCache()
                while len(self._caches) > self._cached_workflows:
                    self._caches.popitem(last=False)
            else:
                self._caches.move_to_end(workflow_id)
            return cache


def progress_of(summary: JobSummary) -> JobProgress:
    """The read model of one job from the store's summary tuple (same field order, the
    statuses as their strings): built straight from a tuple, as a full read makes a million."""
    (
        job_id,
        status,
        exit_status,
        exit_value,
        term_signal,
        resource_usage,
        submitted,
        started,
        ended,
        scheduler_job_id,
        queue,
        attempt,
    ) = summary
    return _new_tuple(
        JobProgress,
        (
            job_id,
            _VALUE[status],
            _VALUE[exit_status],
            exit_value,
            term_signal,
            resource_usage,
            submitted,
            started,
            ended,
            scheduler_job_id,
            queue,
            attempt,
        ),
    )


_new_tuple = tuple.__new__
#: Status enum -> its string (a dict lookup is cheaper than ``.value`` a million times).
_VALUE: dict[JobStatus | ExitStatus | None, str | None] = {
    **{status: status.value for status in JobStatus},
    **{status: status.value for status in ExitStatus},
    None: None,
}


def _check_output_request(job_id: int, stream: str, offset: int, limit: int) -> None:
    """JobError naming the argument, before anything is read."""
    if stream not in STREAMS:
        raise JobError(
            f"read_job_output of job {job_id}: stream must be one of {', '.join(STREAMS)},"
            f" not {stream!r}"
        )
    for name, value in (("offset", offset), ("limit", limit)):
        if type(value) is not int:
            raise JobError(
                f"read_job_output of job {job_id}: {name} must be an integer, not {value!r}"
            )


def unknown_workflow(workflow_id: int) -> UnknownObjectError:
    return UnknownObjectError(f"workflow {workflow_id} does not exist (or was deleted)")


class ServesQueries:
    """Answers every ``query`` operation of the link table from ``query_service()``.

    The in-process service and the client-side split link both read from a QueryService;
    the table (``swf_app.link.OPERATIONS``) says which operations are queries, so a new
    query needs no forwarding code here.
    """

    def query_service(self) -> QueryService:
        raise NotImplementedError

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or operation(name).kind is not Kind.QUERY:
            raise AttributeError(name)
        return getattr(self.query_service(), name)
