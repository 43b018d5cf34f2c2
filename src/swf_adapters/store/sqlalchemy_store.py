"""``WorkflowStore`` on SQLAlchemy Core: a SQLite file by default, PostgreSQL by URL.

The engine is the one writer; clients and monitors read from other threads and
processes. Every write is one transaction (bulk insert of a workflow, one batch of
updates per engine tick); every read is one statement in a short transaction.

Job ids: a workflow's jobs get one contiguous block, ``job_id = first_job_id + index``,
reserved by bumping a counter row (``swf_counters``) inside the insert transaction. On
SQLite the transaction starts with ``BEGIN IMMEDIATE`` so the reservation and the inserts
happen under the single write lock; on PostgreSQL the ``UPDATE`` of the counter row locks
that row until commit, so concurrent submitters serialize on it (and only on it) without a
table lock, and a rolled-back submission leaves no gap in use by anyone else. Ids are
never reused, even after a workflow is deleted.

Reads for monitors, cheapest first: ``status_counts`` (one GROUP BY on a covering index),
``job_changes(since)`` (only the jobs changed since the previous call), ``job_statuses``
(every status, as one concatenated string), ``job_summaries`` and ``jobs_of`` (whole
rows, seconds for a million jobs: for engine restarts, not for refreshes).

The hot paths talk to the driver directly (``bulk``); the rest is SQLAlchemy Core.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import count
from operator import attrgetter
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from swf_adapters.store import bulk, job_views, schema
from swf_adapters.store.database import (
    driver_write_transaction,
    is_sqlite,
    make_engine,
    read_transaction,
    url_of,
    write_transaction,
)
from swf_adapters.store.migrations import describe, ensure_schema
from swf_app.ports import (
    JobAggregate,
    JobChanges,
    JobPageQuery,
    JobRow,
    JobState,
    JobSummary,
    JobUpdate,
    NewJob,
    NewWorkflow,
    SubmittedWorkflow,
    WorkflowRow,
    WorkflowUpdate,
)
from swf_domain.errors import (
    ConfigurationError,
    SerializationError,
    UnknownObjectError,
    WorkflowError,
)
from swf_domain.gc_pause import gc_paused
from swf_domain.status import ExitStatus, JobStatus, WorkflowStatus

_JOB_STATUS = {status.value: status for status in JobStatus}
_EXIT_STATUS = {status.value: status for status in ExitStatus}
_WORKFLOW_STATUS = {status.value: status for status in WorkflowStatus}

_W = schema.workflows.c
_J = schema.jobs.c

_WORKFLOW_COLUMNS = (
    _W.workflow_id,
    _W.user,
    _W.name,
    _W.status,
    _W.queue,
    _W.expiration_date,
    _W.submission_date,
    _W.job_count,
    _W.first_job_id,
    schema.workflow_transfer_count,
)
_JOB_COLUMNS = (
    _J.job_id,
    _J.workflow_id,
    _J.job_index,
    _J.name,
    _J.priority,
    _J.is_barrier,
    *(schema.job_column(name) for name in schema.JOB_STATE_COLUMNS),
)

#: A migrated column: set after the version-1 insert, in the same transaction.
#: The columns added after version 1 (see ``migrations``), set after the row's INSERT.
_SET_LATER_COLUMNS = sa.text(
    "UPDATE swf_workflows SET working_directory = :directory, transfer_count = :transfers"
    " WHERE workflow_id = :workflow_id"
)


@dataclass(frozen=True, slots=True)
class JobStatusList:
    """The statuses of a workflow's jobs: ``statuses[i]`` is the job of index ``i``, whose
    id is ``first_job_id + i`` (ids are contiguous per workflow)."""

    first_job_id: int
    statuses: list[JobStatus]

    def items(self) -> Iterator[tuple[int, JobStatus]]:
        """(job_id, status) pairs in index order."""
        return zip(count(self.first_job_id), self.statuses, strict=False)

    def __len__(self) -> int:
        return len(self.statuses)


class SqlAlchemyStore:
    """The store behind ``swf_app.ports.WorkflowStore`` (see the module docstring)."""

    def __init__(self, url: str) -> None:
        try:
            self._engine = make_engine(url)
        except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ValueError, OSError) as error:
            raise ConfigurationError(
                f"{_without_password(url)}: not a usable swf database: {error}"
            ) from error
        #: The database as users know it (the SQLite file, or the URL without password).
        self.location = describe(self._engine)
        try:
            ensure_schema(self._engine)
        except sa.exc.DBAPIError as error:
            self._engine.dispose()
            raise ConfigurationError(
                f"{self.location}: cannot open the swf database: {error.orig}"
            ) from error
        except BaseException:
            self._engine.dispose()
            raise

    @property
    def url(self) -> str:
        return self._engine.url.render_as_string(hide_password=True)

    # -- writes -----------------------------------------------------------------------

    def add_workflow(
        self, workflow: NewWorkflow, approve: Callable[[], None] | None = None
    ) -> SubmittedWorkflow:
        count = len(workflow.jobs)
        # Serialized before the write lock is taken: a million-job document takes seconds.
        document = _document_json(workflow)
        with write_transaction(self._engine) as connection:
            workflow_id = _reserve_ids(connection, "workflow", 1)
            first_job_id = _reserve_ids(connection, "job", count)
            connection.execute(
                _insert_workflow(connection),
                {
                    "workflow_id": workflow_id,
                    "user": workflow.user,
                    "name": workflow.name,
                    "status": WorkflowStatus.NOT_STARTED.value,
                    "queue": workflow.queue,
                    "expiration_date": workflow.expiration_date,
                    "submission_date": workflow.submission_date,
                    "job_count": count,
                    "first_job_id": first_job_id,
                    "document": document,
                },
            )
            if workflow.working_directory is not None or workflow.transfer_count is not None:
                connection.execute(
                    _SET_LATER_COLUMNS,
                    {
                        "workflow_id": workflow_id,
                        "directory": workflow.working_directory,
                        "transfers": workflow.transfer_count,
                    },
                )
            with gc_paused():
                if is_sqlite(self._engine):
                    _check_job_indexes(workflow.jobs)
                    bulk.insert_jobs_sqlite(
                        connection,
                        [(job.name, job.priority, job.is_barrier) for job in workflow.jobs],
                        workflow_id,
                        first_job_id,
                        JobStatus.NOT_SUBMITTED.value,
                    )
                else:
                    bulk.insert_jobs(
                        connection, _new_job_rows(workflow.jobs, workflow_id, first_job_id)
                    )
            if approve is not None:
                approve()
        return SubmittedWorkflow(workflow_id, range(first_job_id, first_job_id + count))

    def apply(self, jobs: Sequence[JobUpdate], workflows: Sequence[WorkflowUpdate] = ()) -> None:
        if not jobs and not workflows:
            return
        # The engine's group commit, several times a second: on the driver's cursor
        # (see ``driver_write_transaction``), SQL written once in ``bulk``.
        postgresql = not is_sqlite(self._engine)
        with driver_write_transaction(self._engine) as cursor:
            if jobs:
                change_seq = bulk.reserve_ids(cursor, postgresql, "change", 1)
                rows = [_job_update_row(update, change_seq) for update in jobs]
                if not bulk.update_job_states(cursor, rows, postgresql):
                    _raise_unknown_jobs(cursor, postgresql, [update.job_id for update in jobs])
            if workflows:
                bulk.update_workflow_statuses(
                    cursor,
                    postgresql,
                    [(update.status.value, update.workflow_id) for update in workflows],
                )

    def set_expiration(self, workflow_id: int, expiration_date: float | None) -> bool:
        with write_transaction(self._engine) as connection:
            result = connection.execute(
                schema.workflows.update()
                .where(_W.workflow_id == workflow_id)
                .values(expiration_date=expiration_date)
            )
            return result.rowcount > 0

    def delete_workflow(self, workflow_id: int) -> bool:
        with write_transaction(self._engine) as connection:
            connection.execute(schema.jobs.delete().where(*_job_id_range(workflow_id)))
            result = connection.execute(
                schema.workflows.delete().where(_W.workflow_id == workflow_id)
            )
            return result.rowcount > 0

    # -- reads ------------------------------------------------------------------------

    def workflow(self, workflow_id: int, with_document: bool = False) -> WorkflowRow | None:
        columns: tuple[sa.ColumnElement[Any], ...] = _WORKFLOW_COLUMNS
        if with_document:
            columns = (*columns, _W.document, schema.workflow_working_directory)
        # The collector paused while the document is decoded: its 100,000 job dicts made
        # it walk them again and again (0.55 -> 0.35 s CPU for 100,000 jobs).
        with read_transaction(self._engine) as connection, gc_paused():
            query = sa.select(*columns).select_from(schema.workflows)
            row = connection.execute(query.where(_W.workflow_id == workflow_id)).first()
        if row is None:
            return None
        result = _workflow_row(row)
        if with_document:
            result.document, result.working_directory = row[-2], row[-1]
        return result

    def workflows(
        self, user: str | None = None, workflow_ids: Sequence[int] | None = None
    ) -> list[WorkflowRow]:
        query = sa.select(*_WORKFLOW_COLUMNS).order_by(_W.workflow_id)
        if user is not None:
            query = query.where(_W.user == user)
        if workflow_ids is not None:
            query = query.where(_W.workflow_id.in_(list(workflow_ids)))
        with read_transaction(self._engine) as connection:
            rows = connection.execute(query).all()
        return [_workflow_row(row) for row in rows]

    def jobs_of(self, workflow_id: int) -> list[JobRow]:
        with gc_paused():
            with read_transaction(self._engine) as connection:
                rows = bulk.read_jobs(connection, workflow_id, bulk.JOB_ROW_COLUMNS)
            return [_job_row(row) for row in rows]

    def job_statuses(self, workflow_id: int) -> JobStatusList | None:
        """The status of every job of a workflow in index order, or None if unknown: what a
        monitor refreshes, read as one string (a million jobs in a fraction of a second)."""
        with read_transaction(self._engine) as connection:
            found = bulk.read_status_column(connection, workflow_id)
        if found is None:
            return None
        first_job_id, joined = found
        with gc_paused():
            statuses = list(map(_JOB_STATUS.__getitem__, joined.split(","))) if joined else []
        return JobStatusList(first_job_id, statuses)

    def job_summaries(self, workflow_id: int) -> list[JobSummary]:
        """What a monitor shows of each job (status, exit info, dates, scheduler id, queue),
        in index order, as plain tuples: ``jobs_of`` without the names, JSON and files."""
        status_of, exit_of = _JOB_STATUS, _EXIT_STATUS
        with gc_paused():
            with read_transaction(self._engine) as connection:
                rows = bulk.read_jobs(connection, workflow_id, bulk.SUMMARY_COLUMNS)
            return [
                (job_id, status_of[status], exit_of.get(exit_status), *rest)
                for job_id, status, exit_status, *rest in rows
            ]

    def job_changes(self, workflow_id: int, since: int | None = None) -> JobChanges:
        """The summaries of the workflow's jobs changed after ``since`` (None: every job),
        in index order, and the ``since`` to pass next time: a monitor refreshing a
        million-job workflow reads only what changed between two refreshes.

        Every write transaction stamps the jobs it writes with the next number of the
        ``change`` counter, and stamps are committed in order (SQLite has one writer at a
        time; on PostgreSQL the counter row stays locked until commit), so "after ``since``"
        never skips a committed change. The last committed stamp is read before the jobs:
        a change committed in between may come twice (harmless: summaries are whole
        states), none is ever missed.
        """
        columns = bulk.SUMMARY_COLUMNS
        status_of, exit_of = _JOB_STATUS, _EXIT_STATUS
        counter = schema.counters.c
        with gc_paused():
            with read_transaction(self._engine) as connection:
                head = connection.execute(
                    sa.select(counter.next_value - 1).where(counter.name == "change")
                ).scalar_one()
                if since is None:
                    rows = bulk.read_jobs(connection, workflow_id, columns)
                else:
                    rows = bulk.read_changed_jobs(connection, workflow_id, columns, since)
            summaries: list[JobSummary] = [
                (job_id, status_of[status], exit_of.get(exit_status), *rest)
                for job_id, status, exit_status, *rest in rows
            ]
        return JobChanges(int(head), summaries)

    def job(self, job_id: int) -> JobRow | None:
        with read_transaction(self._engine) as connection:
            row = connection.execute(sa.select(*_JOB_COLUMNS).where(_J.job_id == job_id)).first()
        return None if row is None else _job_row(tuple(row))

    def status_counts(self, workflow_id: int) -> dict[JobStatus, int]:
        with read_transaction(self._engine) as connection:
            rows = connection.execute(
                sa.select(_J.status, sa.func.count())
                .where(_J.workflow_id == workflow_id)
                .group_by(_J.status)
            ).all()
        return {_JOB_STATUS[status]: int(count) for status, count in rows}

    def job_aggregates(self, workflow_ids: Sequence[int]) -> dict[int, JobAggregate]:
        if not workflow_ids:
            return {}
        with read_transaction(self._engine) as connection:
            rows = connection.execute(job_views.aggregates(workflow_ids)).all()
        found: dict[int, JobAggregate] = {}
        for workflow_id, status, number, started, ended in rows:
            known = found.get(workflow_id) or JobAggregate({}, None, None)
            known.counts[_JOB_STATUS[status]] = int(number)
            found[workflow_id] = JobAggregate(
                known.counts,
                _earliest(known.first_started, started),
                _latest(known.last_ended, ended),
            )
        return found

    def job_page(
        self, workflow_id: int, query: JobPageQuery
    ) -> tuple[int, list[tuple[str, JobSummary]]]:
        total, page = job_views.page(workflow_id, query)
        with read_transaction(self._engine) as connection:
            matching = int(connection.execute(total).scalar_one())
            rows = connection.execute(page).all()
        status_of, exit_of = _JOB_STATUS, _EXIT_STATUS
        return matching, [
            (name, (job_id, status_of[status], exit_of.get(exit_status), *rest))
            for name, job_id, status, exit_status, *rest in rows
        ]

    def active_workflow_ids(self) -> list[int]:
        return self._workflow_ids(_W.status != WorkflowStatus.DONE.value)

    def expired_workflow_ids(self, now: float) -> list[int]:
        return self._workflow_ids(_W.expiration_date.is_not(None), _W.expiration_date < now)

    def close(self) -> None:
        self._engine.dispose()

    def _workflow_ids(self, *conditions: sa.ColumnElement[bool]) -> list[int]:
        with read_transaction(self._engine) as connection:
            ids = connection.execute(
                sa.select(_W.workflow_id).where(*conditions).order_by(_W.workflow_id)
            ).scalars()
            return [int(workflow_id) for workflow_id in ids]

    @property
    def is_sqlite(self) -> bool:
        return is_sqlite(self._engine)


def _earliest(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else min(a, b)


def _latest(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else max(a, b)


def open_store(url_or_path: str | Path) -> SqlAlchemyStore:
    """A store from a SQLAlchemy URL or a file path (a SQLite file, created if missing)."""
    return SqlAlchemyStore(url_of(url_or_path))


# -- helpers ----------------------------------------------------------------------------


def _without_password(url: str) -> str:
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "the database URL"  # unparsable: it may hold a password, so not shown


def _job_id_range(workflow_id: int) -> tuple[sa.ColumnElement[bool], ...]:
    """The jobs of a workflow as a primary-key range (ids are contiguous per workflow)."""
    bounds = sa.select(_W.first_job_id).where(_W.workflow_id == workflow_id)
    first = bounds.scalar_subquery()
    end = bounds.with_only_columns(_W.first_job_id + _W.job_count).scalar_subquery()
    return (_J.job_id >= first, _J.job_id < end)


def _reserve_ids(connection: Connection, name: str, count: int) -> int:
    """Reserve ``count`` consecutive ids of the ``name`` sequence; return the first."""
    counter = schema.counters.c
    first = connection.execute(
        schema.counters.update()
        .where(counter.name == name)
        .values(next_value=counter.next_value + count)
        .returning(counter.next_value - count)
    ).scalar_one()
    return int(first)


#: A document is a fresh tree (the writer's): no check for containers met twice, which
#: took a third of the encoding time; a cycle fails as a RecursionError.
_DOCUMENT_ENCODER = json.JSONEncoder(separators=(",", ":"), check_circular=False)


def _document_json(workflow: NewWorkflow) -> str:
    if isinstance(workflow.document, str):
        return workflow.document
    try:
        return _DOCUMENT_ENCODER.encode(workflow.document)
    except (TypeError, ValueError, RecursionError) as error:
        raise SerializationError(
            f"workflow {workflow.name!r}: its document cannot be stored as JSON: {error}"
        ) from error


def _insert_workflow(connection: Connection) -> sa.Insert:
    """The workflow row's INSERT, its already-serialized JSON document a named parameter
    (text for SQLite, which stores JSON as text; cast to json for PostgreSQL).

    A value given inside the statement (``values(document=text)``) stayed referenced by
    SQLAlchemy's cache of compiled statements after the insert: the whole document text,
    350 MB for a million jobs, kept by the engine for as long as it ran.
    """
    value = sa.bindparam("document", type_=sa.Text())
    document = sa.cast(value, sa.JSON()) if bulk.is_postgresql(connection) else value
    return schema.workflows.insert().values(document=document)


def _check_job_indexes(jobs: Sequence[NewJob]) -> None:
    """WorkflowError unless each job's index is its position (one C-speed pass first)."""
    if list(map(attrgetter("index"), jobs)) == list(range(len(jobs))):
        return
    for _ in _new_job_rows(jobs, 0, 0):  # raises, naming the first misplaced job
        pass


def _new_job_rows(
    jobs: Sequence[NewJob], workflow_id: int, first_job_id: int
) -> Iterator[tuple[Any, ...]]:
    """New jobs as ``bulk.insert_jobs`` takes them; the id is ``first_job_id + index``."""
    not_submitted = JobStatus.NOT_SUBMITTED.value
    for position, job in enumerate(jobs):
        index = job.index
        if index != position:
            raise WorkflowError(
                f"job {job.name!r} is number {position} of the job list but has index {index}"
            )
        yield (
            first_job_id + index,
            workflow_id,
            index,
            job.name,
            job.priority,
            job.is_barrier,
            not_submitted,
        )


def _job_update_row(update: JobUpdate, change_seq: int) -> tuple[Any, ...]:
    """A JobState as ``bulk.update_job_states`` takes it: the change stamp, the state
    columns, then the id."""
    state = update.state
    exit_status = state.exit_status
    try:
        command = bulk.dump_json(state.command)
        output_params = bulk.dump_json(state.output_params)
        past_attempts = bulk.dump_json(state.past_attempts)
    except (TypeError, ValueError) as error:
        raise SerializationError(
            f"job {update.job_id}: its command or output parameters cannot be stored as "
            f"JSON: {error}"
        ) from error
    return (
        change_seq,
        state.status.value,
        None if exit_status is None else exit_status.value,
        state.exit_value,
        state.term_signal,
        state.resource_usage,
        state.scheduler_job_id,
        state.submission_date,
        state.execution_date,
        state.ending_date,
        command,
        state.stdout_file,
        state.stderr_file,
        output_params,
        state.queue,
        state.attempt,
        past_attempts,
        update.job_id,
    )


def _raise_unknown_jobs(cursor: Any, postgresql: bool, job_ids: Sequence[int]) -> None:
    wanted = sorted(set(job_ids))
    known = bulk.known_job_ids(cursor, postgresql, wanted)
    missing = [job_id for job_id in wanted if job_id not in known]
    if not missing:
        return
    shown = ", ".join(str(job_id) for job_id in missing[:10])
    more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
    raise UnknownObjectError(f"cannot update unknown job id(s) {shown}{more}")


def _workflow_row(row: Sequence[Any]) -> WorkflowRow:
    workflow_id, user, name, status, queue, expiration, submission, job_count, first = row[:9]
    transfers = row[9]
    return WorkflowRow(
        workflow_id=int(workflow_id),
        user=user,
        name=name,
        status=_WORKFLOW_STATUS[status],
        queue=queue,
        expiration_date=expiration,
        submission_date=submission,
        job_count=int(job_count),
        first_job_id=int(first),
        transfer_count=None if transfers is None else int(transfers),
    )


def _job_row(row: Sequence[Any]) -> JobRow:
    (
        job_id,
        workflow_id,
        index,
        name,
        priority,
        is_barrier,
        status,
        exit_status,
        exit_value,
        term_signal,
        resource_usage,
        scheduler_job_id,
        submission_date,
        execution_date,
        ending_date,
        command,
        stdout_file,
        stderr_file,
        output_params,
        queue,
        attempt,
        past_attempts,
    ) = row
    state = JobState(
        _JOB_STATUS[status],
        None if exit_status is None else _EXIT_STATUS[exit_status],
        exit_value,
        term_signal,
        resource_usage,
        scheduler_job_id,
        submission_date,
        execution_date,
        ending_date,
        bulk.load_json(command),
        stdout_file,
        stderr_file,
        bulk.load_json(output_params),
        queue,
        int(attempt),
        bulk.load_json(past_attempts),
    )
    return JobRow(job_id, workflow_id, index, name, priority, bool(is_barrier), state)
