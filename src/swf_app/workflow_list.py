"""The workflow list with each workflow's counts and dates, and a page of one workflow's
jobs: the two reads that let a monitor show big workflows without reading every job.

A monitor's workflows page asks for the list every second. Finished workflows do not
change, so their aggregates are kept; the others are counted (one GROUP BY over their
jobs) the first few times, then, once a monitor clearly keeps listing them, followed by
a ``WorkflowTally`` (the change feed: only what changed is read). A finished workflow seen
unfinished again (restarted) is counted afresh.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from swf_domain.errors import JobError
from swf_domain.status import WorkflowStatus

from .ports import JOB_PAGE_SORTS, JobAggregate, JobPageQuery, WorkflowRow, WorkflowStore
from .read_models import JobPage, JobProgress, WorkflowSummary
from .workflow_tally import WorkflowTally

#: Rows of one job page at most (a page is for people).
MAX_PAGE_ROWS = 1000

_DONE = WorkflowStatus.DONE
#: An unfinished workflow listed this many times is followed by a tally from then on: its
#: one full read costs a few aggregates, so a one-off list (``swf list``) never pays it.
TALLY_AFTER = 3


class WorkflowLister:
    """``workflow_list`` for one user; thread-safe."""

    def __init__(self, store: WorkflowStore, user: str) -> None:
        self._store = store
        self._user = user
        self._finished: dict[int, JobAggregate] = {}
        self._listed: dict[int, int] = {}
        self._tallies: dict[int, WorkflowTally] = {}
        #: Guards the dicts above; never held across a read of the store.
        self._lock = threading.Lock()

    def workflow_list(self, workflow_ids: Sequence[int] | None) -> dict[int, WorkflowSummary]:
        ids = list(workflow_ids) if workflow_ids is not None else None
        rows = self._store.workflows(user=self._user, workflow_ids=ids)
        aggregates = self._aggregates(rows)
        if ids is None:
            self._prune({row.workflow_id for row in rows})
        empty = JobAggregate({}, None, None)
        return {
            row.workflow_id: _summary(row, aggregates.get(row.workflow_id, empty)) for row in rows
        }

    def _aggregates(self, rows: list[WorkflowRow]) -> dict[int, JobAggregate]:
        with self._lock:
            for row in rows:
                if row.status is not _DONE:
                    self._finished.pop(row.workflow_id, None)
            known = {
                r.workflow_id: self._finished[r.workflow_id]
                for r in rows
                if r.workflow_id in self._finished
            }
        missing = [row for row in rows if row.workflow_id not in known]
        fresh = self._followed(missing)
        counted = [r.workflow_id for r in missing if r.workflow_id not in fresh]
        if counted:
            fresh.update(self._store.job_aggregates(counted))
        with self._lock:
            for row in rows:
                if row.status is _DONE and row.workflow_id in fresh:
                    self._finished[row.workflow_id] = fresh[row.workflow_id]
        return {**known, **fresh}

    def _followed(self, rows: list[WorkflowRow]) -> dict[int, JobAggregate]:
        """The aggregates of the unfinished workflows listed often enough, from tallies.
        A tally another thread is refreshing is left out (counted by an aggregate): its
        first read of a 100,000-job workflow takes seconds, which a page's counts (the
        first event, the workflow page's summary) must not wait for."""
        found: dict[int, JobAggregate] = {}
        for row in rows:
            with self._lock:
                tally = self._tally_of(row)
            if tally is not None and tally.lock.acquire(blocking=False):
                try:
                    found[row.workflow_id] = tally.refresh(self._store)
                finally:
                    tally.lock.release()
        return found

    def _tally_of(self, row: WorkflowRow) -> WorkflowTally | None:
        """The row's tally, made on its TALLY_AFTER-th listing (under ``_lock``)."""
        key = row.workflow_id
        if row.status is _DONE or row.first_job_id is None:
            self._tallies.pop(key, None)
            return None
        tally = self._tallies.get(key)
        if tally is None:
            self._listed[key] = self._listed.get(key, 0) + 1
            if self._listed[key] < TALLY_AFTER:
                return None
            tally = self._tallies[key] = WorkflowTally(key, row.first_job_id, row.job_count)
        return tally

    def _prune(self, present: set[int]) -> None:
        """Forget the tallies of workflows deleted meanwhile (by another client)."""
        with self._lock:
            for gone in (self._tallies.keys() | self._listed.keys()) - present:
                self._tallies.pop(gone, None)
                self._listed.pop(gone, None)

    def forget(self, workflow_id: int) -> None:
        with self._lock:
            self._finished.pop(workflow_id, None)
            self._tallies.pop(workflow_id, None)
            self._listed.pop(workflow_id, None)


def _summary(row: WorkflowRow, aggregate: JobAggregate) -> WorkflowSummary:
    counts = {status.value: n for status, n in sorted(aggregate.counts.items()) if n}
    ended = aggregate.last_ended if row.status is _DONE else None
    return WorkflowSummary(
        row.name,
        row.status.value,
        row.queue,
        row.expiration_date,
        row.submission_date,
        aggregate.first_started,
        ended,
        row.job_count,
        counts,
    )


def job_page(
    store: WorkflowStore,
    workflow_id: int,
    query: JobPageQuery,
    progress_of: Callable[..., JobProgress],
) -> JobPage:
    """One page of the workflow's jobs; JobError naming the bad argument."""
    _check_page(workflow_id, query)
    limited = JobPageQuery(
        query.offset,
        min(query.limit, MAX_PAGE_ROWS),
        tuple(query.statuses),
        query.text,
        query.sort,
        query.descending,
    )
    total, rows = store.job_page(workflow_id, limited)
    return JobPage(
        workflow_id, total, [progress_of(summary) for _, summary in rows], [n for n, _ in rows]
    )


def _check_page(workflow_id: int, query: JobPageQuery) -> None:
    where = f"job_page of workflow {workflow_id}"
    if query.sort not in JOB_PAGE_SORTS:
        raise JobError(f"{where}: sort must be one of {', '.join(JOB_PAGE_SORTS)}")
    for name in ("offset", "limit"):
        value = getattr(query, name)
        if type(value) is not int or value < 0:
            raise JobError(f"{where}: {name} must be a non-negative integer, not {value!r}")
    if not isinstance(query.text, str) or not all(isinstance(s, str) for s in query.statuses):
        raise JobError(f"{where}: text and statuses must be strings")
