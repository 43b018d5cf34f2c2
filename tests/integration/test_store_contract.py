"""The WorkflowStore contract, run against a real SQLite file and a real PostgreSQL server.

Every test gets an empty database: a file under tmp_path, or a new PostgreSQL database
created for it (and dropped after) on the server that scripts/test.sh starts.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import sqlite3
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import sqlalchemy as sa

from swf_adapters.store import LATEST_VERSION, SqlAlchemyStore, open_store
from swf_adapters.store import schema as store_schema
from swf_adapters.store.database import make_engine, supported_url, write_transaction
from swf_adapters.store.migrations import create_schema, read_version
from swf_app.ports import (
    JobAggregate,
    JobPageQuery,
    JobState,
    JobUpdate,
    NewJob,
    WorkflowStore,
    WorkflowUpdate,
)
from swf_domain.errors import (
    ConfigurationError,
    SerializationError,
    UnknownObjectError,
    WorkflowError,
)
from swf_domain.status import ExitStatus, JobStatus, WorkflowStatus
from tests.integration.store_fixtures import (
    WINDOW,
    WINDOWS,
    crash_writer_process,
    done_state,
    first_write_process,
    fresh_postgres_database,
    fresh_postgres_schema,
    new_workflow,
    open_and_submit_process,
    postgres_admin_url,
    reader_process,
    writer_process,
)

SPAWN = multiprocessing.get_context("spawn")


@pytest.fixture(scope="module")
def postgres_database() -> Iterator[str]:
    """One PostgreSQL database for this module (each test gets its own schema in it)."""
    with fresh_postgres_database(postgres_admin_url()) as database_url:
        yield database_url


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database of each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'swf.db'}"
        return
    with fresh_postgres_schema(request.getfixturevalue("postgres_database")) as schema_url:
        yield schema_url


@pytest.fixture
def store(url: str) -> Iterator[SqlAlchemyStore]:
    opened = SqlAlchemyStore(url)
    try:
        yield opened
    finally:
        opened.close()


def test_store_satisfies_the_port(store: SqlAlchemyStore) -> None:
    port: WorkflowStore = store
    assert port.workflows() == []


def test_add_workflow_round_trip(store: SqlAlchemyStore) -> None:
    new = new_workflow(
        7, user="bob", name="round trip", queue="long", expiration_date=2e9, submission_date=1e9
    )
    submitted = store.add_workflow(new)

    row = store.workflow(submitted.workflow_id)
    assert row is not None
    assert (row.user, row.name, row.queue, row.status) == (
        "bob",
        "round trip",
        "long",
        WorkflowStatus.NOT_STARTED,
    )
    assert (row.expiration_date, row.submission_date, row.job_count) == (2e9, 1e9, 7)
    assert row.document is None
    with_document = store.workflow(submitted.workflow_id, with_document=True)
    assert with_document is not None and with_document.document == new.document

    jobs = store.jobs_of(submitted.workflow_id)
    assert [job.job_id for job in jobs] == list(submitted.job_ids)
    assert [(j.index, j.name, j.priority, j.is_barrier) for j in jobs] == [
        (job.index, job.name, job.priority, job.is_barrier) for job in new.jobs
    ]
    assert all(job.workflow_id == submitted.workflow_id for job in jobs)
    assert all(job.state == JobState() for job in jobs)
    assert store.job(submitted.job_ids[3]) == jobs[3]
    assert store.workflow(submitted.workflow_id + 1) is None
    assert store.job(submitted.job_ids[-1] + 1) is None


def test_a_document_given_as_text_is_stored_as_that_text(store: SqlAlchemyStore) -> None:
    """The engine stores the text a client sent instead of encoding the document again."""
    new = replace(new_workflow(2), document='{"from": "the text"}')
    submitted = store.add_workflow(new)
    row = store.workflow(submitted.workflow_id, with_document=True)
    assert row is not None and row.document == {"from": "the text"}


def test_the_stored_text_is_not_kept_after_the_insert(store: SqlAlchemyStore) -> None:
    """SQLAlchemy caches the statements it compiled: a document inside one (a value in
    ``values()``) stayed referenced by that cache, 350 MB for a million-job workflow."""
    text = "".join(['{"kept": "', "x" * 1000, '"}'])  # a fresh object, not a constant
    before = sys.getrefcount(text)
    for _ in range(2):  # the second insert reuses the cached statement
        store.add_workflow(replace(new_workflow(2), document=text))
    assert sys.getrefcount(text) == before


def test_a_refused_approval_stores_nothing(store: SqlAlchemyStore) -> None:
    """``approve`` runs inside the transaction: what it raises rolls every row back."""
    kept = store.add_workflow(new_workflow(3))

    def refuse() -> None:
        raise WorkflowError("job 'job_1': invalid")

    with pytest.raises(WorkflowError, match="invalid"):
        store.add_workflow(new_workflow(40, name="refused"), approve=refuse)
    assert [row.workflow_id for row in store.workflows()] == [kept.workflow_id]
    assert store.job(kept.job_ids[-1] + 1) is None
    approved: list[bool] = []
    after = store.add_workflow(new_workflow(2), approve=lambda: approved.append(True))
    assert approved == [True] and len(store.jobs_of(after.workflow_id)) == 2


def test_job_names_round_trip_whatever_their_characters(store: SqlAlchemyStore) -> None:
    names = ['quote " and \\ back', "é ü 漢字 🚀", "tab\tnew\nline", "", "[1, 2]"]
    new = replace(new_workflow(len(names)), jobs=[NewJob(i, n) for i, n in enumerate(names)])
    submitted = store.add_workflow(new)
    assert [job.name for job in store.jobs_of(submitted.workflow_id)] == names


def test_a_job_out_of_its_place_is_refused_naming_it(store: SqlAlchemyStore) -> None:
    jobs = [NewJob(0, "first"), NewJob(2, "misplaced"), NewJob(1, "third")]
    with pytest.raises(WorkflowError, match="'misplaced' is number 1"):
        store.add_workflow(replace(new_workflow(3), jobs=jobs))
    assert store.workflows() == []


def test_job_ids_are_contiguous_and_never_reused(store: SqlAlchemyStore) -> None:
    first = store.add_workflow(new_workflow(50))
    second = store.add_workflow(new_workflow(30))
    empty = store.add_workflow(new_workflow(0))
    assert list(first.job_ids) == list(range(first.job_ids[0], first.job_ids[0] + 50))
    assert list(second.job_ids) == list(range(first.job_ids[-1] + 1, first.job_ids[-1] + 31))
    assert list(empty.job_ids) == [] and store.jobs_of(empty.workflow_id) == []
    assert len({first.workflow_id, second.workflow_id, empty.workflow_id}) == 3

    assert store.delete_workflow(second.workflow_id)
    third = store.add_workflow(new_workflow(5))
    assert third.workflow_id > empty.workflow_id
    assert third.job_ids[0] > second.job_ids[-1]


def test_apply_rewrites_whole_states_in_one_batch(store: SqlAlchemyStore) -> None:
    submitted = store.add_workflow(new_workflow(10))
    ids = list(submitted.job_ids)
    failed = JobState(
        status=JobStatus.FAILED,
        exit_status=ExitStatus.FINISHED_TERM_SIG,
        exit_value=None,
        term_signal=9,
        command=["sleep", "1000"],
        output_params={"nested": {"values": [1, 2.5, "three", None]}},
        queue="short",
        submission_date=1700000000,  # an int date is stored as a float
    )
    store.apply(
        [
            JobUpdate(ids[0], done_state(ids[0])),
            JobUpdate(ids[1], JobState(JobStatus.RUNNING, scheduler_job_id="123")),
            JobUpdate(ids[1], failed),  # the last update of a job in a batch wins
        ],
        [WorkflowUpdate(submitted.workflow_id, WorkflowStatus.IN_PROGRESS)],
    )
    rows = store.jobs_of(submitted.workflow_id)
    assert rows[0].state == done_state(ids[0])
    assert rows[1].state == failed
    assert rows[1].state.exit_info() is not None
    assert rows[2].state == JobState()
    row = store.workflow(submitted.workflow_id)
    assert row is not None and row.status is WorkflowStatus.IN_PROGRESS

    # A later update rewrites the whole state: fields it leaves unset go back to None.
    store.apply([JobUpdate(ids[0], JobState(JobStatus.NOT_SUBMITTED))])
    assert store.jobs_of(submitted.workflow_id)[0].state == JobState()
    store.apply([], [])  # nothing to do is fine


def test_apply_with_an_unknown_job_changes_nothing(store: SqlAlchemyStore) -> None:
    submitted = store.add_workflow(new_workflow(3))
    known = submitted.job_ids[0]
    unknown = submitted.job_ids[-1] + 1000
    with pytest.raises(UnknownObjectError, match=str(unknown)):
        store.apply(
            [JobUpdate(known, done_state(known)), JobUpdate(unknown, done_state(unknown))],
            [WorkflowUpdate(submitted.workflow_id, WorkflowStatus.DONE)],
        )
    job = store.job(known)
    assert job is not None and job.state == JobState()
    row = store.workflow(submitted.workflow_id)
    assert row is not None and row.status is WorkflowStatus.NOT_STARTED


def test_status_counts_and_light_status_reads(store: SqlAlchemyStore) -> None:
    submitted = store.add_workflow(new_workflow(200))
    other = store.add_workflow(new_workflow(20))
    rng = random.Random(7)
    statuses = [JobStatus.DONE, JobStatus.FAILED, JobStatus.RUNNING, JobStatus.QUEUED_ACTIVE]
    chosen = {job_id: rng.choice(statuses) for job_id in rng.sample(list(submitted.job_ids), 120)}
    store.apply([JobUpdate(job_id, JobState(status)) for job_id, status in chosen.items()])

    expected = Counter(chosen.values())
    expected[JobStatus.NOT_SUBMITTED] = 200 - 120
    assert store.status_counts(submitted.workflow_id) == dict(expected)
    assert store.status_counts(other.workflow_id) == {JobStatus.NOT_SUBMITTED: 20}
    assert store.status_counts(other.workflow_id + 99) == {}

    rows = store.jobs_of(submitted.workflow_id)
    light = store.job_statuses(submitted.workflow_id)
    assert light is not None and light.first_job_id == submitted.job_ids[0]
    assert list(light.items()) == [(row.job_id, row.state.status) for row in rows]
    empty = store.job_statuses(store.add_workflow(new_workflow(0)).workflow_id)
    assert empty is not None and len(empty) == 0
    assert store.job_statuses(other.workflow_id + 99) is None

    summaries = store.job_summaries(submitted.workflow_id)
    assert [summary[:3] for summary in summaries] == [
        (row.job_id, row.state.status, row.state.exit_status) for row in rows
    ]
    store.apply([JobUpdate(submitted.job_ids[5], done_state(submitted.job_ids[5]))])
    summary = store.job_summaries(submitted.workflow_id)[5]
    assert summary == (
        submitted.job_ids[5],
        JobStatus.DONE,
        ExitStatus.FINISHED_REGULARLY,
        0,
        None,
        "cput=0.01 mem=1024kb walltime=0.1",
        1.0,
        2.0,
        3.0,
        str(submitted.job_ids[5]),
        None,
        1,
    )


def test_attempts_and_their_exit_info_round_trip(store: SqlAlchemyStore) -> None:
    submitted = store.add_workflow(new_workflow(2))
    job_id = submitted.job_ids[0]
    past = [{"attempt": 1, "exit_status": "finished_regularly", "exit_value": 7}]
    waiting = JobState(attempt=2, past_attempts=past)
    store.apply([JobUpdate(job_id, waiting)])
    row = store.jobs_of(submitted.workflow_id)[0]
    assert (row.state.attempt, row.state.past_attempts) == (2, past)
    assert store.job_summaries(submitted.workflow_id)[0][-1] == 2
    assert store.jobs_of(submitted.workflow_id)[1].state.attempt == 1


def test_job_changes_returns_only_what_changed_since_the_last_read(
    store: SqlAlchemyStore,
) -> None:
    submitted = store.add_workflow(new_workflow(50))
    other = store.add_workflow(new_workflow(5))
    ids = list(submitted.job_ids)

    everything = store.job_changes(submitted.workflow_id)
    assert [summary[0] for summary in everything.summaries] == ids
    assert everything.summaries == store.job_summaries(submitted.workflow_id)
    nothing = store.job_changes(submitted.workflow_id, everything.since)
    assert nothing.summaries == [] and nothing.since == everything.since

    store.apply(
        [JobUpdate(ids[7], done_state(ids[7])), JobUpdate(ids[3], JobState(JobStatus.RUNNING))]
    )
    store.apply([JobUpdate(other.job_ids[0], JobState(JobStatus.RUNNING))])  # another workflow
    first = store.job_changes(submitted.workflow_id, everything.since)
    assert [(summary[0], summary[1]) for summary in first.summaries] == [
        (ids[3], JobStatus.RUNNING),
        (ids[7], JobStatus.DONE),
    ]
    assert first.since > everything.since

    store.apply([JobUpdate(ids[3], done_state(ids[3]))])
    second = store.job_changes(submitted.workflow_id, first.since)
    assert [(summary[0], summary[1]) for summary in second.summaries] == [(ids[3], JobStatus.DONE)]
    assert store.job_changes(submitted.workflow_id, second.since).summaries == []
    # Reading from the start again still gives every job, in its latest state.
    again = store.job_changes(submitted.workflow_id)
    assert again.summaries == store.job_summaries(submitted.workflow_id)
    assert again.since == second.since


def test_delete_workflow_removes_its_jobs_only(store: SqlAlchemyStore) -> None:
    doomed = store.add_workflow(new_workflow(500))
    kept = store.add_workflow(new_workflow(10))
    assert store.delete_workflow(doomed.workflow_id) is True
    assert store.workflow(doomed.workflow_id) is None
    assert store.jobs_of(doomed.workflow_id) == []
    assert store.job(doomed.job_ids[0]) is None
    assert store.status_counts(doomed.workflow_id) == {}
    assert store.delete_workflow(doomed.workflow_id) is False
    assert len(store.jobs_of(kept.workflow_id)) == 10
    assert [row.workflow_id for row in store.workflows()] == [kept.workflow_id]


def test_workflows_filtered_by_user_and_ids(store: SqlAlchemyStore) -> None:
    a1 = store.add_workflow(new_workflow(1, user="alice")).workflow_id
    b1 = store.add_workflow(new_workflow(1, user="bob")).workflow_id
    a2 = store.add_workflow(new_workflow(1, user="alice")).workflow_id
    assert [row.workflow_id for row in store.workflows()] == [a1, b1, a2]
    assert [row.workflow_id for row in store.workflows(user="alice")] == [a1, a2]
    assert [row.workflow_id for row in store.workflows(workflow_ids=[b1, a2])] == [b1, a2]
    assert [row.workflow_id for row in store.workflows("alice", [b1, a2])] == [a2]
    assert store.workflows(user="nobody") == []
    assert store.workflows(workflow_ids=[]) == []


def test_expiration(store: SqlAlchemyStore) -> None:
    soon = store.add_workflow(new_workflow(1, expiration_date=100.0)).workflow_id
    later = store.add_workflow(new_workflow(1, expiration_date=200.0)).workflow_id
    never = store.add_workflow(new_workflow(1)).workflow_id
    assert store.expired_workflow_ids(50.0) == []
    assert store.expired_workflow_ids(150.0) == [soon]
    assert store.expired_workflow_ids(1e12) == [soon, later]

    assert store.set_expiration(later, 120.0) is True
    assert store.set_expiration(soon, None) is True
    assert store.set_expiration(never + 1, 1.0) is False
    assert store.expired_workflow_ids(150.0) == [later]
    row = store.workflow(soon)
    assert row is not None and row.expiration_date is None


def test_active_workflow_ids(store: SqlAlchemyStore) -> None:
    ids = [store.add_workflow(new_workflow(1)).workflow_id for _ in range(4)]
    store.apply(
        [],
        [
            WorkflowUpdate(ids[0], WorkflowStatus.DONE),
            WorkflowUpdate(ids[1], WorkflowStatus.IN_PROGRESS),
            WorkflowUpdate(ids[2], WorkflowStatus.DELETE_PENDING),
        ],
    )
    assert store.active_workflow_ids() == [ids[1], ids[2], ids[3]]


def test_open_store_accepts_a_path_or_a_url(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "swf.db"
    store = open_store(path)
    try:
        workflow_id = store.add_workflow(new_workflow(2)).workflow_id
        assert store.location == str(path)
    finally:
        store.close()
    reopened = open_store(f"sqlite:///{path}")
    try:
        assert reopened.workflow(workflow_id) is not None
        with sqlite3.connect(path) as raw:
            assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        reopened.close()


def test_bad_input_is_refused_with_the_culprit_named(store: SqlAlchemyStore) -> None:
    shuffled = new_workflow(3, name="shuffled")
    jobs = list(shuffled.jobs)
    jobs[1], jobs[2] = jobs[2], jobs[1]
    with pytest.raises(WorkflowError, match="job_2"):
        store.add_workflow(replace(shuffled, jobs=jobs))
    with pytest.raises(SerializationError, match="not json"):
        store.add_workflow(replace(new_workflow(1), name="not json", document={"x": object()}))
    assert store.workflows() == []  # nothing of a refused workflow was kept

    submitted = store.add_workflow(new_workflow(2))
    bad = JobState(JobStatus.DONE, output_params={"x": {1, 2}})
    with pytest.raises(SerializationError, match=str(submitted.job_ids[1])):
        store.apply([JobUpdate(submitted.job_ids[1], bad)])
    assert store.status_counts(submitted.workflow_id) == {JobStatus.NOT_SUBMITTED: 2}


def test_opening_something_else_names_it(tmp_path: Path) -> None:
    not_a_database = tmp_path / "notes.txt"
    not_a_database.write_text("these are not the tables you are looking for\n" * 100)
    with pytest.raises(ConfigurationError, match=r"notes\.txt"):
        open_store(not_a_database)
    with pytest.raises(ConfigurationError, match="nosuchdialect"):
        open_store("nosuchdialect://somewhere/db")
    with pytest.raises(ConfigurationError, match="mysql") as raised:
        open_store("mysql://user:secret@somewhere/db")
    assert "secret" not in str(raised.value)
    with pytest.raises(ConfigurationError, match="psycopg2"):
        open_store("postgresql+psycopg2://somewhere/db")


def test_a_postgresql_url_without_driver_means_psycopg() -> None:
    assert supported_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert supported_url("sqlite:///x.db").drivername == "sqlite"


# -- schema versions ------------------------------------------------------------------------


def test_fresh_database_is_at_the_latest_version(store: SqlAlchemyStore, url: str) -> None:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            assert read_version(connection) == LATEST_VERSION
            indexes = {index["name"] for index in sa.inspect(connection).get_indexes("swf_jobs")}
        assert {"ix_swf_jobs_workflow_status", "ix_swf_jobs_workflow_change"} <= indexes
    finally:
        engine.dispose()


def test_version_1_database_is_migrated_on_open(url: str) -> None:
    engine = make_engine(url)
    try:
        with write_transaction(engine) as connection:
            create_schema(connection, version=1)
            connection.execute(
                store_schema.workflows.insert().values(
                    workflow_id=1,
                    user="old",
                    name="from v1",
                    status=WorkflowStatus.IN_PROGRESS.value,
                    job_count=2,
                    first_job_id=1,
                    document={"name": "from v1"},
                )
            )
            connection.execute(
                store_schema.jobs.insert(),
                [
                    {
                        "job_id": 1 + index,
                        "workflow_id": 1,
                        "job_index": index,
                        "name": f"old_{index}",
                        "priority": 0,
                        "is_barrier": False,
                        "status": JobStatus.DONE.value,
                    }
                    for index in range(2)
                ],
            )
            connection.execute(
                store_schema.counters.update()
                .where(store_schema.counters.c.name == "workflow")
                .values(next_value=2)
            )
            connection.execute(
                store_schema.counters.update()
                .where(store_schema.counters.c.name == "job")
                .values(next_value=3)
            )
        with engine.connect() as connection:
            assert read_version(connection) == 1
            indexes = {index["name"] for index in sa.inspect(connection).get_indexes("swf_jobs")}
            assert "ix_swf_jobs_workflow_status" not in indexes
    finally:
        engine.dispose()

    store = SqlAlchemyStore(url)
    try:
        assert store.status_counts(1) == {JobStatus.DONE: 2}
        assert [job.name for job in store.jobs_of(1)] == ["old_0", "old_1"]
        old_row = store.workflow(1, with_document=True)  # v4's column, NULL for old rows
        assert old_row is not None and old_row.working_directory is None
        assert old_row.transfer_count is None  # v6's: unknown, the document says
        assert store.add_workflow(new_workflow(1)).job_ids[0] == 3
        old_jobs = store.job_changes(1)  # v3's change feed works on v1's rows
        assert [summary[0] for summary in old_jobs.summaries] == [1, 2]
        store.apply([JobUpdate(2, JobState(JobStatus.FAILED))])
        changed = store.job_changes(1, old_jobs.since).summaries
        assert [(summary[0], summary[1]) for summary in changed] == [(2, JobStatus.FAILED)]
    finally:
        store.close()
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            assert read_version(connection) == LATEST_VERSION
            indexes = {index["name"] for index in sa.inspect(connection).get_indexes("swf_jobs")}
            assert {"ix_swf_jobs_workflow_status", "ix_swf_jobs_workflow_change"} <= indexes
    finally:
        engine.dispose()


def test_newer_schema_is_refused_naming_the_database(url: str) -> None:
    SqlAlchemyStore(url).close()
    engine = make_engine(url)
    try:
        with write_transaction(engine) as connection:
            connection.execute(store_schema.schema_version.update().values(version=99))
    finally:
        engine.dispose()
    with pytest.raises(ConfigurationError) as raised:
        SqlAlchemyStore(url)
    message = str(raised.value)
    database = sa.make_url(url).database
    assert database and database in message  # the file, or the PostgreSQL database
    assert "99" in message and str(LATEST_VERSION) in message


# -- concurrency and crashes ------------------------------------------------------------------


def test_threads_share_one_store(store: SqlAlchemyStore) -> None:
    submitted = store.add_workflow(new_workflow(1000))
    ids = list(submitted.job_ids)
    failures: list[BaseException] = []

    def write() -> None:
        for start in range(0, 1000, 100):
            store.apply(
                [JobUpdate(job_id, done_state(job_id)) for job_id in ids[start : start + 100]]
            )

    def read() -> None:
        try:
            for _ in range(20):
                counts = store.status_counts(submitted.workflow_id)
                assert counts.get(JobStatus.DONE, 0) % 100 == 0
                assert len(store.jobs_of(submitted.workflow_id)) == 1000
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=write)] + [threading.Thread(target=read) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert failures == []
    assert store.status_counts(submitted.workflow_id) == {JobStatus.DONE: 1000}


def test_processes_opening_a_fresh_database_at_once_create_it_once(url: str) -> None:
    pipes, processes = [], []
    start = SPAWN.Barrier(4)
    for _ in range(4):
        receiver, sender = SPAWN.Pipe(duplex=False)
        process = SPAWN.Process(target=open_and_submit_process, args=(url, start, sender))
        process.start()
        pipes.append(receiver)
        processes.append(process)
    results = []
    for pipe in pipes:
        assert pipe.poll(120), "a process did not finish"
        results.append(pipe.recv())
    for process in processes:
        process.join(30)
    assert all(isinstance(result, list) for result in results), results
    all_ids = sorted(job_id for result in results for job_id in result)
    assert all_ids == list(range(all_ids[0], all_ids[0] + 40))  # 4 disjoint blocks of 10
    store = SqlAlchemyStore(url)
    try:
        assert len(store.workflows()) == 4
    finally:
        store.close()


def test_many_processes_creating_one_sqlite_file_never_see_it_locked(tmp_path: Path) -> None:
    """Regression: switching a new file to WAL fails at once, without the busy timeout,
    while another process holds it; about one open in a hundred hit it in this race."""
    fork = multiprocessing.get_context("fork")  # cheap children: this needs many rounds
    errors = []
    for round_ in range(30):
        url = f"sqlite:///{tmp_path / f'race_{round_}.db'}"
        start = fork.Barrier(8)
        pipes, processes = [], []
        for _ in range(8):
            receiver, sender = fork.Pipe(duplex=False)
            process = fork.Process(target=first_write_process, args=(url, start, sender))
            process.start()
            pipes.append(receiver)
            processes.append(process)
        for pipe in pipes:
            assert pipe.poll(120), "a process did not finish"
            if (error := pipe.recv()) is not None:
                errors.append(error)
        for process in processes:
            process.join(30)
    assert errors == []


@pytest.mark.slow
def test_readers_in_other_processes_never_fail_while_the_engine_writes(
    store: SqlAlchemyStore, url: str
) -> None:
    size, readers = 5000, 6
    submitted = store.add_workflow(new_workflow(size))
    stop = SPAWN.Event()
    reader_pipes, processes = [], []
    for _ in range(readers):
        receiver, sender = SPAWN.Pipe(duplex=False)
        process = SPAWN.Process(
            target=reader_process, args=(url, submitted.workflow_id, size, stop, sender)
        )
        process.start()
        reader_pipes.append(receiver)
        processes.append(process)
    writer_receiver, writer_sender = SPAWN.Pipe(duplex=False)
    writer = SPAWN.Process(
        target=writer_process,
        args=(url, submitted.workflow_id, submitted.job_ids[0], size, 4.0, writer_sender),
    )
    writer.start()
    try:
        assert writer_receiver.poll(120), "the writer process did not finish"
        batches, writer_error = writer_receiver.recv()
    finally:
        stop.set()
    results = []
    for pipe in reader_pipes:
        assert pipe.poll(120), "a reader process did not finish"
        results.append(pipe.recv())
    for process in [*processes, writer]:
        process.join(30)
        assert process.exitcode == 0

    print(f"writer batches {batches}; reader polls {[result[0] for result in results]}")
    assert writer_error is None
    assert batches >= 5  # the readers did run while the writer committed
    for polls, first_errors, error_count in results:
        assert error_count == 0, first_errors
        assert polls >= 1


@pytest.mark.slow
def test_writer_killed_mid_transaction_leaves_committed_data_only(
    store: SqlAlchemyStore, url: str
) -> None:
    main = store.add_workflow(new_workflow(WINDOW * WINDOWS))
    rng = random.Random(3)
    first_batch = 0
    reported_workflows: set[int] = set()
    reported_batch: dict[int, int] = {}  # window -> last batch reported committed there
    for _ in range(3):
        receiver, sender = SPAWN.Pipe(duplex=False)
        writer = SPAWN.Process(
            target=crash_writer_process,
            args=(url, main.workflow_id, main.job_ids[0], first_batch, sender),
        )
        writer.start()
        assert receiver.poll(60), "the crash writer never committed"
        time.sleep(rng.uniform(0.2, 1.0))
        assert writer.pid is not None
        os.kill(writer.pid, signal.SIGKILL)
        writer.join(30)
        assert writer.exitcode == -signal.SIGKILL
        while receiver.poll(0):
            kind, value = receiver.recv()
            if kind == "batch":
                reported_batch[value % WINDOWS] = value
            else:
                reported_workflows.add(value)

        if url.startswith("sqlite"):
            path = sa.make_url(url).database
            assert path is not None
            with sqlite3.connect(path) as raw:
                assert raw.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
                assert raw.execute("PRAGMA foreign_key_check").fetchall() == []
        first_batch = _check_after_crash(url, main.workflow_id, reported_batch, reported_workflows)
    print(f"committed batches {reported_batch}; extra workflows {sorted(reported_workflows)}")
    assert reported_batch, "the writer reported no commit at all"


def _check_after_crash(
    url: str, main_id: int, reported_batch: dict[int, int], reported_workflows: set[int]
) -> int:
    """Assert the database holds whole transactions only, every reported one included;
    return the next batch number to write."""
    store = SqlAlchemyStore(url)
    try:
        rows = store.jobs_of(main_id)
        assert len(rows) == WINDOW * WINDOWS
        highest = -1
        for window in range(WINDOWS):
            values = {row.state.scheduler_job_id for row in rows[window * WINDOW :][:WINDOW]}
            assert len(values) == 1, f"window {window} was half written: {sorted(map(str, values))}"
            (value,) = values
            if window in reported_batch:
                assert value is not None and int(value) >= reported_batch[window]
            if value is not None:
                highest = max(highest, int(value))
        workflows = {row.workflow_id: row for row in store.workflows()}
        assert reported_workflows <= set(workflows)
        for workflow_id, row in workflows.items():
            assert len(store.jobs_of(workflow_id)) == row.job_count
        return highest + 1
    finally:
        store.close()


def test_a_workflow_keeps_the_directory_it_was_submitted_from(store: SqlAlchemyStore) -> None:
    kept = store.add_workflow(new_workflow(2, working_directory="/home/alice/project"))
    older = store.add_workflow(new_workflow(2))
    row = store.workflow(kept.workflow_id, with_document=True)
    assert row is not None and row.working_directory == "/home/alice/project"
    row = store.workflow(older.workflow_id, with_document=True)
    assert row is not None and row.working_directory is None


def test_a_workflow_keeps_how_many_file_transfers_it_declares(store: SqlAlchemyStore) -> None:
    none = store.add_workflow(new_workflow(2, transfer_count=0))
    three = store.add_workflow(new_workflow(2, transfer_count=3, working_directory="/w"))
    unknown = store.add_workflow(new_workflow(2))
    counts = {row.workflow_id: row.transfer_count for row in store.workflows()}
    assert counts == {none.workflow_id: 0, three.workflow_id: 3, unknown.workflow_id: None}
    row = store.workflow(three.workflow_id, with_document=True)
    assert row is not None and (row.transfer_count, row.working_directory) == (3, "/w")


def test_a_priority_of_64_bits_is_stored_on_every_backend(store: SqlAlchemyStore) -> None:
    workflow = new_workflow(2)
    extremes = (2**63 - 1, -(2**63))
    jobs = [replace(job, priority=p) for job, p in zip(workflow.jobs, extremes, strict=True)]
    submitted = store.add_workflow(replace(workflow, jobs=jobs))
    assert [job.priority for job in store.jobs_of(submitted.workflow_id)] == [2**63 - 1, -(2**63)]


def test_job_aggregates_count_and_date_each_workflow_in_one_read(store: SqlAlchemyStore) -> None:
    first = store.add_workflow(new_workflow(30))
    second = store.add_workflow(new_workflow(5))
    empty = store.add_workflow(new_workflow(0))
    ids = first.job_ids
    store.apply(
        [
            JobUpdate(ids[0], JobState(JobStatus.DONE, execution_date=20.0, ending_date=25.0)),
            JobUpdate(ids[1], JobState(JobStatus.DONE, execution_date=10.0, ending_date=40.0)),
            JobUpdate(ids[2], JobState(JobStatus.RUNNING, execution_date=5.0)),
        ]
    )
    found = store.job_aggregates([first.workflow_id, second.workflow_id, empty.workflow_id, 999])
    assert set(found) == {first.workflow_id, second.workflow_id}
    assert found[first.workflow_id].counts == {
        JobStatus.DONE: 2,
        JobStatus.RUNNING: 1,
        JobStatus.NOT_SUBMITTED: 27,
    }
    assert (found[first.workflow_id].first_started, found[first.workflow_id].last_ended) == (5, 40)
    assert found[second.workflow_id] == JobAggregate({JobStatus.NOT_SUBMITTED: 5}, None, None)
    assert store.job_aggregates([]) == {}


def test_job_page_filters_sorts_and_pages_in_the_database(store: SqlAlchemyStore) -> None:
    submitted = store.add_workflow(new_workflow(50))
    other = store.add_workflow(new_workflow(10))
    ids = submitted.job_ids
    ends = {ids[i]: float(100 - i) for i in range(0, 50, 5)}  # every fifth job done
    store.apply(
        [
            JobUpdate(j, JobState(JobStatus.DONE, execution_date=1.0, ending_date=e))
            for j, e in ends.items()
        ]
        + [JobUpdate(other.job_ids[0], JobState(JobStatus.DONE))]
    )
    total, rows = store.job_page(submitted.workflow_id, JobPageQuery(offset=10, limit=5))
    assert total == 50 and [s[0] for _, s in rows] == list(ids[10:15])
    assert [name for name, _ in rows] == [f"job_{i}" for i in range(10, 15)]
    query = JobPageQuery(limit=3, statuses=("done",), sort="ended")
    total, rows = store.job_page(submitted.workflow_id, query)
    assert total == 10 and [s[0] for _, s in rows] == [ids[45], ids[40], ids[35]]
    assert all(s[1] is JobStatus.DONE and s[8] == ends[s[0]] for _, s in rows)
    descending = replace(query, sort="duration", descending=True)
    assert [s[0] for _, s in store.job_page(submitted.workflow_id, descending)[1]] == [
        ids[0],
        ids[5],
        ids[10],
    ]
    total, rows = store.job_page(submitted.workflow_id, JobPageQuery(text="B_4", sort="name"))
    assert total == 11 and rows[0][0] == "job_4" and rows[1][0] == "job_40"
    assert store.job_page(submitted.workflow_id, JobPageQuery(text="%"))[0] == 0  # literal
    assert store.job_page(999, JobPageQuery()) == (0, [])
