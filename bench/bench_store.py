"""Store benchmark: submit, update and read big workflows through ``SqlAlchemyStore``.

For each backend (a SQLite file; PostgreSQL when a URL is given) it measures:

- ``add_workflow`` of 1e4 / 1e5 / 1e6 jobs, with a soma-like JSON document (~110 B/job);
- ``apply`` of 1e5 whole-state updates in batches of 1000 (one transaction each);
- on the largest workflow, half of its jobs ended ("while running"): ``jobs_of``,
  ``job_statuses``, ``job_summaries``, ``status_counts``, ``workflow``; ``job_changes``
  from scratch, then after one batch of 1000 updates (a monitor's refresh); and
  ``delete_workflow``.

Each figure comes with a baseline measured in the same run on the same database: the
same rows written or read with the bare driver (sqlite3 / psycopg: executemany, COPY,
fetchall of (job_id, status)), so ``ratio`` says what the store costs on top of the
database itself, whatever the machine's load.

    .venv/bin/python bench/bench_store.py
    .venv/bin/python bench/bench_store.py --sizes 10000 100000 \\
        --postgres postgresql+psycopg://postgres@127.0.0.1:55432/postgres
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from swf_adapters.store import SqlAlchemyStore
from swf_adapters.store.schema import JOB_STATE_COLUMNS
from swf_app.ports import JobState, JobUpdate, NewJob, NewWorkflow
from swf_domain.status import ExitStatus, JobStatus

APPLY_UPDATES = 100_000
APPLY_BATCH = 1000
TARGET_SUBMIT_1E6 = 10.0  # seconds the store may take of the 20 s submit budget
TARGET_STATUS_1E6 = 0.5  # soma's workflow_elements_status target for 1e6 jobs

Row = tuple[str, str, int, float, float | None]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument(
        "--postgres",
        default=os.environ.get("SWF_TEST_POSTGRES_URL"),
        help="PostgreSQL server URL (a scratch database is created and dropped)",
    )
    args = parser.parse_args()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="swf-bench-store-") as directory:
        rows += run_backend("sqlite", lambda: sqlite_url(directory), args.sizes)
    if args.postgres and args.postgres != "unavailable":
        with scratch_postgres(args.postgres) as make_url:
            rows += run_backend("postgresql", make_url, args.sizes)
    print_table(rows)


# -- databases -----------------------------------------------------------------------------


def sqlite_url(directory: str) -> str:
    return f"sqlite:///{Path(directory) / f'{uuid.uuid4().hex}.db'}"


@contextmanager
def scratch_postgres(server_url: str) -> Iterator[Callable[[], str]]:
    """A scratch database; each call of the factory gives a URL to a new empty schema."""
    name = f"swf_bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f"CREATE DATABASE {name}")
    database_url = sa.make_url(server_url).set(database=name)
    scratch = sa.create_engine(database_url, isolation_level="AUTOCOMMIT")

    def new_schema() -> str:
        schema = f"s_{uuid.uuid4().hex[:10]}"
        with scratch.connect() as connection:
            connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
        url = database_url.update_query_dict({"options": f"-csearch_path={schema}"})
        return url.render_as_string(hide_password=False)

    try:
        yield new_schema
    finally:
        scratch.dispose()
        with admin.connect() as connection:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()


# -- workload ------------------------------------------------------------------------------


def new_workflow(size: int) -> NewWorkflow:
    """A fan-out workflow with a soma-like document (command and name per job)."""
    jobs = [NewJob(i, f"job_{i}", priority=i % 3) for i in range(size)]
    document = {
        "name": f"bench {size}",
        "jobs": {
            str(i): {"command": ["python", "-c", "pass", f"/data/s{i}"], "name": f"job_{i}"}
            for i in range(size)
        },
        "dependencies": [[0, i] for i in range(1, size)],
    }
    return NewWorkflow(user="bench", name=f"bench {size}", document=document, jobs=jobs)


def ended(job_id: int) -> JobState:
    return JobState(
        status=JobStatus.DONE,
        exit_status=ExitStatus.FINISHED_REGULARLY,
        exit_value=0,
        resource_usage="cput=0.01 mem=2048kb walltime=0.2",
        scheduler_job_id=str(job_id),
        submission_date=1.7e9,
        execution_date=1.7e9 + 1,
        ending_date=1.7e9 + 2,
        command=["python", "-c", "pass", f"/data/s{job_id}"],
        stdout_file=f"/scratch/out/{job_id}.out",
        stderr_file=f"/scratch/out/{job_id}.err",
    )


def timed(action: Callable[[], Any]) -> tuple[float, Any]:
    gc.collect()
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


# -- one backend ---------------------------------------------------------------------------


def run_backend(backend: str, make_url: Callable[[], str], sizes: list[int]) -> list[Row]:
    rows: list[Row] = []
    for size in sizes:
        workflow = new_workflow(size)
        url = make_url()
        store = SqlAlchemyStore(url)
        seconds, submitted = timed(partial(store.add_workflow, workflow))
        baseline = raw_insert_seconds(make_url(), size)
        rows.append((backend, "add_workflow", size, seconds, baseline))
        del workflow
        if size == max(sizes) or size == APPLY_UPDATES:
            rows += measure_updates_and_reads(backend, store, url, submitted, size, sizes)
        store.close()
        print(f"  {backend} {size:>9,} done", file=sys.stderr, flush=True)
    return rows


def measure_updates_and_reads(
    backend: str, store: SqlAlchemyStore, url: str, submitted: Any, size: int, sizes: list[int]
) -> list[Row]:
    rows: list[Row] = []
    ids = list(submitted.job_ids)
    if size == APPLY_UPDATES or (size == max(sizes) and APPLY_UPDATES not in sizes):
        count = min(APPLY_UPDATES, size)
        batches = [
            [JobUpdate(job_id, ended(job_id)) for job_id in ids[start : start + APPLY_BATCH]]
            for start in range(0, count, APPLY_BATCH)
        ]
        seconds, _ = timed(lambda: [store.apply(batch) for batch in batches])
        baseline = raw_apply_seconds(url, batches)
        rows.append((backend, f"apply ({APPLY_BATCH}/tx)", count, seconds, baseline))
    if size != max(sizes):
        return rows
    half = ids[: size // 2]  # "while running": half the jobs ended
    for start in range(0, len(half), 10_000):
        store.apply([JobUpdate(job_id, ended(job_id)) for job_id in half[start : start + 10_000]])
    workflow_id = submitted.workflow_id
    baseline = raw_status_read_seconds(url, ids[0], size)
    for name in ("jobs_of", "job_summaries", "job_statuses", "status_counts", "workflow"):
        seconds, _ = timed(partial(getattr(store, name), workflow_id))
        rows.append((backend, name, size, seconds, baseline if name != "workflow" else None))
    seconds, changes = timed(partial(store.job_changes, workflow_id))
    rows.append((backend, "job_changes(all)", size, seconds, baseline))
    changed = ids[size // 2 : size // 2 + APPLY_BATCH]  # one engine tick's worth
    store.apply([JobUpdate(job_id, ended(job_id)) for job_id in changed])
    seconds, _ = timed(partial(store.job_changes, workflow_id, changes.since))
    rows.append((backend, "job_changes(1000)", size, seconds, None))
    seconds, _ = timed(partial(store.delete_workflow, workflow_id))
    rows.append((backend, "delete_workflow", size, seconds, None))
    return rows


# -- baselines: the bare driver ------------------------------------------------------------


def raw_insert_seconds(url: str, size: int) -> float:
    """The same job rows inserted with the bare driver into the store's schema."""
    store = SqlAlchemyStore(url)  # creates the schema
    store.add_workflow(NewWorkflow("bench", None, {}, []))  # workflow 1, for the foreign key
    engine = sa.create_engine(url)
    columns = "job_id, workflow_id, job_index, name, priority, is_barrier, status"
    rows = [(i + 1, 1, i, f"job_{i}", i % 3, False, "not_submitted") for i in range(size)]
    try:
        with engine.begin() as connection:
            cursor: Any = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            start = time.perf_counter()
            if engine.dialect.name == "postgresql":
                with cursor.copy(f"COPY swf_jobs ({columns}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                cursor.executemany(f"INSERT INTO swf_jobs ({columns}) VALUES (?,?,?,?,?,?,?)", rows)
            seconds = time.perf_counter() - start
        return seconds
    finally:
        engine.dispose()
        store.close()


def raw_apply_seconds(url: str, batches: list[list[JobUpdate]]) -> float:
    """The same updates with the bare driver: executemany of one UPDATE per batch."""
    engine = sa.create_engine(url)
    mark = "?" if engine.dialect.name == "sqlite" else "%s"
    sql = (
        f"UPDATE swf_jobs SET {', '.join(f'{name} = {mark}' for name in JOB_STATE_COLUMNS)} "
        f"WHERE job_id = {mark}"
    )
    tuples = [[(*state_values(update.state), update.job_id) for update in b] for b in batches]
    try:
        with engine.connect() as connection:
            cursor: Any = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            connection.commit()
            gc.collect()
            start = time.perf_counter()
            for batch in tuples:
                cursor.executemany(sql, batch)
                connection.connection.dbapi_connection.commit()  # type: ignore[union-attr]
            return time.perf_counter() - start
    finally:
        engine.dispose()


def state_values(state: JobState) -> tuple[Any, ...]:
    return (
        state.status.value,
        state.exit_status.value if state.exit_status else None,
        state.exit_value,
        state.term_signal,
        state.resource_usage,
        state.scheduler_job_id,
        state.submission_date,
        state.execution_date,
        state.ending_date,
        json.dumps(state.command),
        state.stdout_file,
        state.stderr_file,
        json.dumps(state.output_params) if state.output_params is not None else None,
        state.queue,
    )


def raw_status_read_seconds(url: str, first_job_id: int, size: int) -> float:
    """(job_id, status) of the workflow's rows fetched with the bare driver."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            cursor: Any = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            mark = "?" if engine.dialect.name == "sqlite" else "%s"
            gc.collect()
            start = time.perf_counter()
            cursor.execute(
                f"SELECT job_id, status FROM swf_jobs WHERE job_id >= {mark} AND job_id < {mark} "
                "ORDER BY job_id",
                (first_job_id, first_job_id + size),
            )
            cursor.fetchall()
            return time.perf_counter() - start
    finally:
        engine.dispose()


# -- report --------------------------------------------------------------------------------


def print_table(rows: list[Row]) -> None:
    print()
    print(
        f"{'backend':<11}{'operation':<17}{'jobs':>10}{'seconds':>10}{'us/job':>9}"
        f"{'baseline s':>12}{'ratio':>7}"
    )
    for backend, operation, size, seconds, baseline in rows:
        per_job = seconds / size * 1e6 if size else 0.0
        base = f"{baseline:12.3f}" if baseline else f"{'':>12}"
        ratio = f"{seconds / baseline:7.1f}" if baseline else f"{'':>7}"
        print(
            f"{backend:<11}{operation:<17}{size:>10,}{seconds:>10.3f}{per_job:>9.2f}{base}{ratio}"
        )
    print()
    print(
        f"targets: add_workflow(1e6) <= {TARGET_SUBMIT_1E6:.0f} s (store's share of submit); "
        f"job_statuses(1e6) <= {TARGET_STATUS_1E6} s (workflow_elements_status)"
    )
    print(
        "baseline: add_workflow = bare executemany/COPY of the job rows (no document); "
        "apply = bare executemany of the same UPDATEs; reads = bare fetchall of (job_id, status)"
    )


if __name__ == "__main__":
    main()
