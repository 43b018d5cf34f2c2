"""The workflow list with each workflow's counts and dates, and a page of one workflow's
jobs: the two reads that let a monitor show big workflows without reading every job.

A monitor's workflows page asks for the list every second. Finished workflows do not
change, so their aggregates are kept and only the others are counted again (one
GROUP BY over their jobs); a finished workflow seen unfinished again (restarted) is
counted afresh.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from swf_domain.errors import JobError
from swf_domain.status import WorkflowStatus

from .ports import JOB_PAGE_SORTS, JobAggregate, JobPageQuery, WorkflowRow, WorkflowStore
from .read_models import JobPage, JobProgress, WorkflowSummary

#: Rows of one job page at most (a page is for people).
MAX_PAGE_ROWS = 1000

_DONE = WorkflowStatus.DONE


class WorkflowLister:
    """``workflow_list`` for one user; thread-safe."""

    def __init__(self, store: WorkflowStore, user: str) -> None:
        self._store = store
        self._user = user
        self._finished: dict[int, JobAggregate] = {}
        self._lock = threading.Lock()

    def workflow_list(self, workflow_ids: Sequence[int] | None) -> dict[int, WorkflowSummary]:
        ids = list(workflow_ids) if workflow_ids is not None else None
        rows = self._store.workflows(user=self._user, workflow_ids=ids)
        aggregates = self._aggregates(rows)
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
        missing = [row.workflow_id for row in rows if row.workflow_id not in known]
        fresh = self._store.job_aggregates(missing)
        with self._lock:
            for row in rows:
                if row.status is _DONE and row.workflow_id in fresh:
                    self._finished[row.workflow_id] = fresh[row.workflow_id]
        return {**known, **fresh}

    def forget(self, workflow_id: int) -> None:
        with self._lock:
            self._finished.pop(workflow_id, None)


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
