"""Helpers of the store contract tests: databases to test against, workflows to store,
and the bodies of the writer and reader processes (importable, so ``spawn`` can run them).
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection as Pipe
from multiprocessing.synchronize import Barrier, Event
from typing import Any

import pytest
import sqlalchemy as sa

from swf_adapters.store import open_store
from swf_adapters.store.database import make_engine
from swf_app.ports import JobState, JobUpdate, NewJob, NewWorkflow, WorkflowUpdate
from swf_domain.status import ExitStatus, JobStatus, WorkflowStatus

POSTGRES_ENV = "SWF_TEST_POSTGRES_URL"


def postgres_admin_url() -> str:
    """The URL of the PostgreSQL server the test command started.

    Unset: a developer running pytest by hand without a server, so the test is skipped.
    "unavailable": the test command could not start one, which is a failure.
    """
    url = os.environ.get(POSTGRES_ENV)
    if url is None:
        pytest.skip(f"{POSTGRES_ENV} is not set (scripts/test.sh starts a PostgreSQL server)")
    if url == "unavailable":
        pytest.fail(
            f"{POSTGRES_ENV}=unavailable: scripts/test.sh could not start PostgreSQL, "
            "so the PostgreSQL store was not tested"
        )
    return url


@contextmanager
def fresh_postgres_database(admin_url: str) -> Iterator[str]:
    """A new, empty database on the server, dropped afterwards; yields its URL."""
    name = f"swf_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f"CREATE DATABASE {name}")
        try:
            yield sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        admin.dispose()


@contextmanager
def fresh_postgres_schema(database_url: str) -> Iterator[str]:
    """A new, empty schema in the database, dropped afterwards; yields a URL whose
    connections put it first on their search_path (much cheaper than a database)."""
    name = f"swf_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(database_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f"CREATE SCHEMA {name}")
        try:
            url = sa.make_url(database_url).update_query_dict({"options": f"-csearch_path={name}"})
            yield url.render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.exec_driver_sql(f"DROP SCHEMA IF EXISTS {name} CASCADE")
    finally:
        admin.dispose()


def new_workflow(
    size: int,
    user: str = "alice",
    name: str | None = "wf",
    expiration_date: float | None = None,
    **extra: Any,
) -> NewWorkflow:
    """A workflow of ``size`` jobs; every third job a barrier, priorities 0..4."""
    jobs = [NewJob(i, f"job_{i}", priority=i % 5, is_barrier=i % 3 == 2) for i in range(size)]
    document = {"name": name, "jobs": {str(i): {"command": ["echo", str(i)]} for i in range(size)}}
    return NewWorkflow(
        user=user,
        name=name,
        document=document,
        jobs=jobs,
        expiration_date=expiration_date,
        **extra,
    )


def done_state(job_id: int) -> JobState:
    return JobState(
        status=JobStatus.DONE,
        exit_status=ExitStatus.FINISHED_REGULARLY,
        exit_value=0,
        resource_usage="cput=0.01 mem=1024kb walltime=0.1",
        scheduler_job_id=str(job_id),
        submission_date=1.0,
        execution_date=2.0,
        ending_date=3.0,
        command=["echo", str(job_id)],
        stdout_file=f"/tmp/{job_id}.out",
        stderr_file=f"/tmp/{job_id}.err",
        output_params={"id": job_id},
    )


# -- process bodies ------------------------------------------------------------------------

#: Jobs whose status the writer of the concurrency test flips per transaction.
BATCH = 250


def writer_process(
    url: str, workflow_id: int, first_job_id: int, size: int, seconds: float, pipe: Pipe
) -> None:
    """For ``seconds``, flip BATCH jobs per transaction (NOT_SUBMITTED -> DONE on the first
    pass over the workflow, DONE -> RUNNING on the next, and so on), so that any
    committed state has a multiple of BATCH jobs DONE. Reports (batches, error)."""
    store = open_store(url)
    batches = 0
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            start = (batches * BATCH) % size
            flip_to_done = (batches * BATCH // size) % 2 == 0
            ids = range(first_job_id + start, first_job_id + start + BATCH)
            store.apply(
                [
                    JobUpdate(
                        job_id,
                        done_state(job_id) if flip_to_done else JobState(JobStatus.RUNNING),
                    )
                    for job_id in ids
                ],
                [WorkflowUpdate(workflow_id, WorkflowStatus.IN_PROGRESS)],
            )
            batches += 1
        pipe.send((batches, None))
    except Exception as error:  # reported to the test, which fails with it
        pipe.send((batches, f"{type(error).__name__}: {error}"))
    finally:
        store.close()


def reader_process(url: str, workflow_id: int, size: int, stop: Event, pipe: Pipe) -> None:
    """Poll the workflow until ``stop``; check that each answer is a committed state (all
    jobs there, DONE count a multiple of BATCH), including a monitor's cache kept up to
    date by ``job_changes`` increments; report (polls, first errors, error count)."""
    store = open_store(url)
    polls = 0
    errors: list[str] = []
    cache: dict[int, JobStatus] = {}
    since: int | None = None
    try:
        while not stop.is_set() or polls == 0:
            try:
                counts = store.status_counts(workflow_id)
                statuses = store.job_statuses(workflow_id)
                rows = store.jobs_of(workflow_id)
                changes = store.job_changes(workflow_id, since)
            except Exception as error:
                errors.append(f"{type(error).__name__}: {error}")
                continue
            polls += 1
            time.sleep(0.01)  # a monitor's refresh interval, shortened: leave the writer CPU
            done = counts.get(JobStatus.DONE, 0)
            if sum(counts.values()) != size or done % BATCH != 0:
                errors.append(f"status_counts saw an uncommitted state: {counts}")
            if statuses is None or len(statuses) != size:
                errors.append("job_statuses missed jobs")
            elif statuses.statuses.count(JobStatus.DONE) % BATCH != 0:
                errors.append("job_statuses saw an uncommitted state")
            if len(rows) != size or sum(r.state.status is JobStatus.DONE for r in rows) % BATCH:
                errors.append("jobs_of saw an uncommitted state")
            cache.update((summary[0], summary[1]) for summary in changes.summaries)
            since = changes.since
            if len(cache) != size or list(cache.values()).count(JobStatus.DONE) % BATCH:
                errors.append("a cache kept by job_changes is not a committed state")
        stop.wait()
        final = store.job_changes(workflow_id, since)
        cache.update((summary[0], summary[1]) for summary in final.summaries)
        rows = store.jobs_of(workflow_id)
        if cache != {row.job_id: row.state.status for row in rows}:
            errors.append("a cache kept by job_changes differs from the final state")
    finally:
        store.close()
        pipe.send((polls, errors[:5], len(errors)))


def open_and_submit_process(url: str, start: Barrier, pipe: Pipe) -> None:
    """Open a store at the same moment as other processes (once all have reached
    ``start``), so they race to create its schema; submit one workflow; report its job
    ids or the error."""
    try:
        start.wait(60)
        store = open_store(url)
        try:
            pipe.send(list(store.add_workflow(new_workflow(10)).job_ids))
        finally:
            store.close()
    except Exception as error:
        pipe.send(f"{type(error).__name__}: {error}")


def first_write_process(url: str, start: Barrier, pipe: Pipe) -> None:
    """Connect to a new SQLite file at the same moment as other processes, read, then
    write at once: the race of several swf processes starting on a fresh database."""
    try:
        engine = make_engine(url)  # connects lazily, below
        start.wait(60)
        try:
            raw = engine.raw_connection()  # runs swf's connect hook (pragmas, WAL)
            cursor = raw.cursor()
            for statement in (
                "BEGIN",
                "SELECT name FROM sqlite_master",
                "ROLLBACK",
                "BEGIN IMMEDIATE",
                "CREATE TABLE IF NOT EXISTS swf_race (pid INTEGER)",  # swf_: not foreign
                f"INSERT INTO swf_race VALUES ({os.getpid()})",
                "COMMIT",
            ):
                cursor.execute(statement)
            raw.close()
        finally:
            engine.dispose()
        pipe.send(None)
    except Exception as error:
        pipe.send(f"{type(error).__name__}: {error}")


#: The crash test's main workflow is WINDOWS windows of WINDOW jobs; each transaction
#: rewrites one whole window with its batch number.
WINDOW = 2000
WINDOWS = 10


def crash_writer_process(
    url: str, workflow_id: int, first_job_id: int, first_batch: int, pipe: Pipe
) -> None:
    """Write until killed: batch n rewrites window n % WINDOWS (scheduler_job_id "n"), and
    every fourth batch also submits a 20,000-job workflow. Each commit is reported."""
    store = open_store(url)
    batch = first_batch
    while True:
        window = batch % WINDOWS
        start = first_job_id + window * WINDOW
        store.apply(
            [
                JobUpdate(job_id, JobState(JobStatus.RUNNING, scheduler_job_id=str(batch)))
                for job_id in range(start, start + WINDOW)
            ],
            [WorkflowUpdate(workflow_id, WorkflowStatus.IN_PROGRESS)],
        )
        pipe.send(("batch", batch))
        if batch % 4 == 3:
            submitted = store.add_workflow(new_workflow(20_000, name=f"extra_{batch}"))
            pipe.send(("workflow", submitted.workflow_id))
        batch += 1
