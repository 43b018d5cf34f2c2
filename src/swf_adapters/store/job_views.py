"""The monitor's reads of many jobs at once, done by the database: aggregates per
workflow (the workflows list) and one filtered, sorted page of a workflow's jobs (the job
table of a 100,000-job workflow). Each is one or two statements whose result is a few
dozen rows, so a page never costs a read of every job into Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from swf_adapters.store import schema
from swf_adapters.store.bulk import SUMMARY_COLUMNS
from swf_app.ports import JOB_PAGE_SORTS, JobPageQuery

_J = schema.jobs.c

#: The summary columns, as a statement selects them (``attempt`` came by migration).
_SUMMARY = tuple(schema.job_column(name) for name in SUMMARY_COLUMNS)


def aggregates(workflow_ids: Sequence[int]) -> sa.Select[Any]:
    """(workflow id, status, count, first start, last end) per workflow and status."""
    return (
        sa.select(
            _J.workflow_id,
            _J.status,
            sa.func.count(),
            sa.func.min(_J.execution_date),
            sa.func.max(_J.ending_date),
        )
        .where(_J.workflow_id.in_(list(workflow_ids)))
        .group_by(_J.workflow_id, _J.status)
    )


def _conditions(workflow_id: int, query: JobPageQuery) -> list[sa.ColumnElement[bool]]:
    found: list[sa.ColumnElement[bool]] = [_J.workflow_id == workflow_id]
    if query.statuses:
        found.append(_J.status.in_(list(query.statuses)))
    if query.text:
        found.append(_J.name.icontains(query.text, autoescape=True))
    return found


def _order(query: JobPageQuery) -> list[Any]:
    """The sort key, then the index ascending even when descending (a stable order across
    pages, ties as Python's stable ``sort(reverse=True)`` leaves them); missing dates
    count as 0, as the monitor's in-memory sort does."""
    if query.sort not in JOB_PAGE_SORTS:
        raise ValueError(f"sort must be one of {', '.join(JOB_PAGE_SORTS)}")
    key: Any = {
        "index": _J.job_index,
        "name": _J.name,
        "status": _J.status,
        "submitted": sa.func.coalesce(_J.submission_date, 0.0),
        "started": sa.func.coalesce(_J.execution_date, 0.0),
        "ended": sa.func.coalesce(_J.ending_date, 0.0),
        "duration": sa.func.coalesce(_J.ending_date - _J.execution_date, 0.0),
    }[query.sort]
    if query.descending:
        return [key.desc(), _J.job_index]
    return [key, _J.job_index]


def page(workflow_id: int, query: JobPageQuery) -> tuple[sa.Select[Any], sa.Select[Any]]:
    """(how many jobs match, the page's rows: name then the summary columns)."""
    conditions = _conditions(workflow_id, query)
    total = sa.select(sa.func.count()).select_from(schema.jobs).where(*conditions)
    rows = (
        sa.select(_J.name, *_SUMMARY)
        .where(*conditions)
        .order_by(*_order(query))
        .offset(max(0, query.offset))
        .limit(max(0, query.limit))
    )
    return total, rows
