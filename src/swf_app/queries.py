"""QueryService: the read-only half of the ``EngineLink`` port, served from the store.

Queries never need the engine: the store holds every state the engine has committed. So
the same service answers in the engine's process (``EngineService`` delegates to it) and
in a client's process (the daemon's clients read the store themselves, so monitors polling
big workflows cost the engine nothing).

``workflow_elements_status`` is what monitors poll, and a full read of a million jobs
takes seconds; so each workflow's answer is cached as soma-shaped entries and refreshed
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

from swf_domain.errors import UnknownObjectError

from .link import JobInfo
from .ports import JobRow, JobState, JobSummary, WorkflowRow, WorkflowStore

#: Workflows whose elements status stays cached (a million-job one takes a few hundred MB;
#: monitors rarely watch more than a handful at once).
DEFAULT_CACHED_WORKFLOWS = 4

ExitTuple = tuple[str | None, int | None, int | None, str | None]


@dataclass(slots=True)
class _ElementsCache:
    """One workflow's job entries in soma's shape (with the drms id), in index order."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    #: None until the first (full) read.
    since: int | None = None
    entries: list[tuple[Any, ...]] = field(default_factory=list)
    #: job id -> position in ``entries``.
    positions: dict[int, int] = field(default_factory=dict)

    def refresh(self, store: WorkflowStore, workflow_id: int) -> list[tuple[Any, ...]]:
        """A copy of the entries once every change committed so far is merged in."""
        with self.lock:
            changes = store.job_changes(workflow_id, self.since)
            entries, positions = self.entries, self.positions
            for summary in changes.summaries:
                entry = _entry(summary)
                position = positions.get(entry[0])
                if position is None:
                    positions[entry[0]] = len(entries)
                    entries.append(entry)
                else:
                    entries[position] = entry
            self.since = changes.since
            return list(entries)


class QueryService:
    """Every read-only operation of the ``EngineLink`` port, soma-workflow's shapes.

    Thread-safe: the store serves concurrent reads, and each cached workflow has its own
    lock (two monitors of one workflow refresh it one after the other, not twice at once).
    """

    def __init__(
        self,
        store: WorkflowStore,
        user: str | None = None,
        cached_workflows: int = DEFAULT_CACHED_WORKFLOWS,
    ) -> None:
        self._store = store
        self.user = user if user is not None else getpass.getuser()
        self._cached_workflows = max(1, cached_workflows)
        self._caches: OrderedDict[int, _ElementsCache] = OrderedDict()
        self._caches_lock = threading.Lock()

    def workflow_document(self, workflow_id: int) -> dict[str, Any]:
        """The submitted document plus ``job_ids``: the id of each job, in job order."""
        row = self._store.workflow(workflow_id, with_document=True)
        if row is None or row.document is None:
            raise unknown_workflow(workflow_id)
        document = dict(row.document)
        document["job_ids"] = [job.job_id for job in self._store.jobs_of(workflow_id)]
        return document

    def workflows(
        self, workflow_ids: Sequence[int] | None = None
    ) -> dict[int, tuple[str | None, float | None]]:
        ids = list(workflow_ids) if workflow_ids is not None else None
        return {
            row.workflow_id: (row.name, row.expiration_date)
            for row in self._store.workflows(user=self.user, workflow_ids=ids)
        }

    def workflow_status(self, workflow_id: int) -> str | None:
        return self.workflow_row(workflow_id).status.value

    def workflow_elements_status(self, workflow_id: int, with_drms_id: bool = True) -> Any:
        """soma's shape: (jobs, transfers, workflow status, queue, temporary paths), each
        job ``(id, status, queue, exit tuple, (submitted, started, ended, queue)[, drms
        id])`` with epoch dates (soma-workflow repeats the queue in the dates tuple)."""
        row = self.workflow_row(workflow_id)
        # Deleted between the two reads: the jobs read are those just before (or none), as
        # a full read would give; the next call finds the workflow gone and drops its cache.
        jobs = self._cache_of(workflow_id).refresh(self._store, workflow_id)
        if not with_drms_id:
            jobs = [entry[:5] for entry in jobs]
        return (jobs, [], row.status.value, row.queue, [])

    def job_status(self, job_id: int) -> str:
        return self.job_row(job_id).state.status.value

    def job_termination_status(self, job_id: int) -> ExitTuple | None:
        """(exit status, exit value, signal, resource usage); Nones until it ended."""
        return exit_tuple(self.job_row(job_id).state)

    def job_files(self, job_id: int) -> tuple[str | None, str | None]:
        """(stdout, stderr) paths as used by the job's last run."""
        state = self.job_row(job_id).state
        return state.stdout_file, state.stderr_file

    def get_job_output_params(self, job_id: int) -> dict[str, Any] | None:
        return self.job_row(job_id).state.output_params

    def status_summary(self, workflow_id: int) -> dict[str, int]:
        self.workflow_row(workflow_id)
        counts = self._store.status_counts(workflow_id)
        return {status.value: count for status, count in counts.items() if count}

    def jobs_info(self, job_ids: Sequence[int]) -> dict[int, JobInfo]:
        """See ``EngineLink.jobs_info``."""
        result: dict[int, JobInfo] = {}
        for job_id in dict.fromkeys(job_ids):
            row = self._store.job(job_id)
            if row is None:
                continue
            state = row.state
            command = list(state.command) if state.command is not None else None
            result[job_id] = (row.name, command, state.submission_date, row.workflow_id, row.index)
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


def _entry(summary: JobSummary) -> tuple[Any, ...]:
    """One job of ``workflow_elements_status`` (with the drms id) from its summary."""
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
    ) = summary
    if exit_status is None and exit_value is None and term_signal is None:
        exit = _NO_EXIT if resource_usage is None else (None, None, None, resource_usage)
    else:
        exit_name = exit_status.value if exit_status is not None else None
        exit = (exit_name, exit_value, term_signal, resource_usage)
    if submitted is None and started is None and ended is None and queue is None:
        dates: tuple[Any, ...] = _NO_DATES
    else:
        dates = (submitted, started, ended, queue)
    return (job_id, status.value, queue, exit, dates, scheduler_job_id)


#: Shared by every job not run yet: a million-job cache holds one copy, not a million.
_NO_EXIT: ExitTuple = (None, None, None, None)
_NO_DATES: tuple[Any, ...] = (None, None, None, None)


def exit_tuple(state: JobState) -> ExitTuple:
    return (
        state.exit_status.value if state.exit_status is not None else None,
        state.exit_value,
        state.term_signal,
        state.resource_usage,
    )


def unknown_workflow(workflow_id: int) -> UnknownObjectError:
    return UnknownObjectError(f"workflow {workflow_id} does not exist (or was deleted)")


class AnswersQueries:
    """The read methods of the ``EngineLink`` port, answered by ``query_service()``.

    The in-process service and the client-side split link both answer reads from a
    QueryService; this is the one place that lists them.
    """

    def query_service(self) -> QueryService:
        raise NotImplementedError

    def workflow_document(self, workflow_id: int) -> dict[str, Any]:
        return self.query_service().workflow_document(workflow_id)

    def workflows(
        self, workflow_ids: Sequence[int] | None = None
    ) -> dict[int, tuple[str | None, float | None]]:
        return self.query_service().workflows(workflow_ids)

    def workflow_status(self, workflow_id: int) -> str | None:
        return self.query_service().workflow_status(workflow_id)

    def workflow_elements_status(self, workflow_id: int, with_drms_id: bool = True) -> Any:
        return self.query_service().workflow_elements_status(workflow_id, with_drms_id)

    def job_status(self, job_id: int) -> str:
        return self.query_service().job_status(job_id)

    def job_termination_status(self, job_id: int) -> ExitTuple | None:
        return self.query_service().job_termination_status(job_id)

    def job_files(self, job_id: int) -> tuple[str | None, str | None]:
        return self.query_service().job_files(job_id)

    def get_job_output_params(self, job_id: int) -> dict[str, Any] | None:
        return self.query_service().get_job_output_params(job_id)

    def status_summary(self, workflow_id: int) -> dict[str, int]:
        return self.query_service().status_summary(workflow_id)

    def jobs_info(self, job_ids: Sequence[int]) -> dict[int, JobInfo]:
        return self.query_service().jobs_info(job_ids)
