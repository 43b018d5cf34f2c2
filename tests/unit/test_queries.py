"""QueryService: the cached ``workflow_elements_status`` always equals a full read."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from swf_app.ports import JobRow, JobState, JobUpdate, NewJob, NewWorkflow, WorkflowUpdate
from swf_app.queries import QueryService
from swf_app.read_models import JobProgress, JobTermination, keep, soma_job_entry
from swf_domain.errors import JobError, UnknownObjectError
from swf_domain.status import ExitStatus, JobStatus, WorkflowStatus
from tests.app_fakes import EPOCH, InMemoryStore

USER = "tester"


def add(store: InMemoryStore, size: int, queue: str | None = None) -> tuple[int, list[int]]:
    submitted = store.add_workflow(
        NewWorkflow(
            user=USER,
            name=f"w{size}",
            document={},
            jobs=[NewJob(index, f"job{index}") for index in range(size)],
            queue=queue,
        )
    )
    return submitted.workflow_id, list(submitted.job_ids)


def expected_entry(row: JobRow) -> tuple[Any, ...]:
    """soma's job entry, built from a whole job row (what a full read gives)."""
    state = row.state
    exit_status = state.exit_status.value if state.exit_status is not None else None
    return (
        row.job_id,
        state.status.value,
        state.queue,
        (exit_status, state.exit_value, state.term_signal, state.resource_usage),
        (state.submission_date, state.execution_date, state.ending_date, state.queue),
        state.scheduler_job_id,
    )


def full_read(store: InMemoryStore, workflow_id: int) -> Any:
    row = store.workflow(workflow_id)
    assert row is not None
    jobs = [expected_entry(job) for job in store.jobs_of(workflow_id)]
    return (jobs, [], row.status.value, row.queue, [])


def elements(queries: QueryService, workflow_id: int, with_drms_id: bool = True) -> Any:
    """The read model in soma's shape, as the facade gives it (dates left as epochs)."""
    progress = queries.workflow_elements_status(workflow_id)
    jobs = [soma_job_entry(job, with_drms_id, keep) for job in progress.jobs]
    return (jobs, [], progress.status, progress.queue, [])


def ended(job_id: int, value: int = 0, at: float = EPOCH) -> JobUpdate:
    status = JobStatus.DONE if value == 0 else JobStatus.FAILED
    state = JobState(
        status=status,
        exit_status=ExitStatus.FINISHED_REGULARLY,
        exit_value=value,
        submission_date=at,
        execution_date=at + 1,
        ending_date=at + 2,
        scheduler_job_id=str(job_id),
        queue="q",
    )
    return JobUpdate(job_id, state)


def test_a_change_is_seen_on_the_next_call() -> None:
    store = InMemoryStore()
    workflow_id, job_ids = add(store, 5, queue="q")
    queries = QueryService(store, user=USER)
    assert elements(queries, workflow_id) == full_read(store, workflow_id)
    store.apply(
        [ended(job_ids[2], value=3)], [WorkflowUpdate(workflow_id, WorkflowStatus.IN_PROGRESS)]
    )
    jobs, _, status, queue, _ = elements(queries, workflow_id)
    assert status == WorkflowStatus.IN_PROGRESS.value and queue == "q"
    assert jobs[2] == (
        job_ids[2],
        JobStatus.FAILED.value,
        "q",
        (ExitStatus.FINISHED_REGULARLY.value, 3, None, None),
        (EPOCH, EPOCH + 1, EPOCH + 2, "q"),
        str(job_ids[2]),
    )
    assert [entry[0] for entry in jobs] == job_ids
    assert elements(queries, workflow_id) == full_read(store, workflow_id)


def test_without_drms_id_entries_have_five_fields() -> None:
    store = InMemoryStore()
    workflow_id, job_ids = add(store, 3)
    store.apply([ended(job_ids[0])])
    queries = QueryService(store, user=USER)
    jobs = elements(queries, workflow_id, with_drms_id=False)[0]
    assert jobs == [entry[:5] for entry in full_read(store, workflow_id)[0]]
    assert all(len(entry) == 5 for entry in jobs)


def test_the_result_is_a_copy_the_caller_may_change() -> None:
    store = InMemoryStore()
    workflow_id, _ = add(store, 3)
    queries = QueryService(store, user=USER)
    queries.workflow_elements_status(workflow_id).jobs.clear()
    assert len(queries.workflow_elements_status(workflow_id).jobs) == 3


def test_a_deleted_workflow_is_dropped_from_the_cache() -> None:
    store = InMemoryStore()
    workflow_id, _ = add(store, 4)
    queries = QueryService(store, user=USER)
    queries.workflow_elements_status(workflow_id)
    assert queries.cached_workflow_ids() == [workflow_id]
    store.delete_workflow(workflow_id)
    with pytest.raises(UnknownObjectError, match=f"workflow {workflow_id}"):
        queries.workflow_elements_status(workflow_id)
    assert queries.cached_workflow_ids() == []


def test_the_cache_keeps_the_most_recently_used_workflows() -> None:
    store = InMemoryStore()
    ids = [add(store, 2)[0] for _ in range(4)]
    queries = QueryService(store, user=USER, cached_workflows=2)
    for workflow_id in ids[:3]:
        queries.workflow_elements_status(workflow_id)
    queries.workflow_elements_status(ids[1])
    assert queries.cached_workflow_ids() == [ids[2], ids[1]]
    queries.workflow_elements_status(ids[3])
    assert queries.cached_workflow_ids() == [ids[1], ids[3]]
    for workflow_id in ids:  # an evicted workflow is read whole again, still right
        assert elements(queries, workflow_id) == full_read(store, workflow_id)


def test_other_queries_read_the_store() -> None:
    store = InMemoryStore()
    workflow_id, job_ids = add(store, 2)
    store.apply([ended(job_ids[1], value=1)])
    queries = QueryService(store, user=USER)
    assert queries.workflows() == {workflow_id: ("w2", None)}
    assert QueryService(store, user="someone else").workflows() == {}
    assert queries.workflow_status(workflow_id) == WorkflowStatus.NOT_STARTED.value
    assert queries.job_status(job_ids[1]) == JobStatus.FAILED.value
    assert queries.job_termination_status(job_ids[1]) == ("finished_regularly", 1, None, None)
    assert queries.status_summary(workflow_id) == {"not_submitted": 1, "failed": 1}
    assert queries.workflow_document(workflow_id)["job_ids"] == job_ids
    with pytest.raises(UnknownObjectError, match="job 999"):
        queries.job_files(999)


_STATUSES = list(JobStatus)
_updates = st.lists(
    st.tuples(
        st.integers(0, 7),  # job index
        st.sampled_from(_STATUSES),
        st.one_of(st.none(), st.integers(-1, 3)),  # exit value
        st.one_of(st.none(), st.floats(0, 1e9, allow_nan=False)),  # a date
        st.one_of(st.none(), st.sampled_from(["q1", "q2"])),
    ),
    max_size=6,
)


@settings(max_examples=60, deadline=None)
@given(batches=st.lists(st.tuples(_updates, st.booleans()), max_size=8))
def test_refreshed_results_equal_a_fresh_full_read(batches: list[Any]) -> None:
    store = InMemoryStore(id_step=3)
    add(store, 2)  # another workflow first: ids do not start at 1
    workflow_id, job_ids = add(store, 8)
    queries = QueryService(store, user=USER)
    for updates, read_now in batches:
        store.apply(
            [
                JobUpdate(
                    job_ids[index],
                    JobState(
                        status=status,
                        exit_status=None if value is None else ExitStatus.FINISHED_REGULARLY,
                        exit_value=value,
                        execution_date=date,
                        queue=queue,
                        scheduler_job_id=None if date is None else f"s{index}",
                    ),
                )
                for index, status, value, date, queue in updates
            ]
        )
        if read_now:
            assert elements(queries, workflow_id) == full_read(store, workflow_id)
    assert elements(queries, workflow_id) == full_read(store, workflow_id)


def test_concurrent_readers_see_every_change() -> None:
    store = InMemoryStore()
    workflow_id, job_ids = add(store, 200)
    queries = QueryService(store, user=USER)
    stop = threading.Event()
    failures: list[BaseException] = []

    def poll() -> None:
        try:
            while not stop.is_set():
                jobs = elements(queries, workflow_id)[0]
                assert [entry[0] for entry in jobs] == job_ids
        except BaseException as error:  # reported by the main thread
            failures.append(error)

    threads = [threading.Thread(target=poll) for _ in range(4)]
    for thread in threads:
        thread.start()
    for number, job_id in enumerate(job_ids):
        store.apply([ended(job_id, value=number % 2)])
    stop.set()
    for thread in threads:
        thread.join()
    assert failures == []
    assert elements(queries, workflow_id) == full_read(store, workflow_id)


def test_the_read_models_are_typed() -> None:
    store = InMemoryStore()
    workflow_id, job_ids = add(store, 2, queue="q")
    store.apply([ended(job_ids[0], value=3)])
    queries = QueryService(store, user=USER)
    progress = queries.workflow_elements_status(workflow_id)
    assert progress.workflow_id == workflow_id and progress.queue == "q"
    assert progress.jobs[0] == JobProgress(
        job_id=job_ids[0], status="failed", exit_status="finished_regularly", exit_value=3,
        submitted=EPOCH, started=EPOCH + 1, ended=EPOCH + 2,
        scheduler_job_id=str(job_ids[0]), queue="q",
    )  # fmt: skip
    assert progress.jobs[0].termination == JobTermination("finished_regularly", 3, None, None)
    assert queries.job_termination_status(job_ids[0]) == progress.jobs[0].termination
    assert queries.workflows()[workflow_id].name == "w2"
    assert queries.job_files(job_ids[0]).stdout is None


def test_the_change_feed_gives_only_what_changed_after_since() -> None:
    store = InMemoryStore()
    workflow_id, job_ids = add(store, 3)
    queries = QueryService(store, user=USER)
    first = queries.job_changes(workflow_id)
    assert [job.job_id for job in first.jobs] == job_ids
    assert queries.job_changes(workflow_id, first.since).jobs == []
    store.apply([ended(job_ids[1])])
    later = queries.job_changes(workflow_id, first.since)
    assert [(job.job_id, job.status) for job in later.jobs] == [(job_ids[1], "done")]
    assert later.since > first.since


def test_workflow_list_counts_every_workflow_and_recounts_only_unfinished_ones() -> None:
    store = InMemoryStore()
    service = QueryService(store, user=USER)
    finished, finished_jobs = add(store, 3)
    running, running_jobs = add(store, 4)
    store.apply(
        [
            JobUpdate(j, JobState(JobStatus.DONE, execution_date=5.0, ending_date=9.0))
            for j in finished_jobs
        ]
        + [JobUpdate(running_jobs[0], JobState(JobStatus.RUNNING, execution_date=7.0))],
        [WorkflowUpdate(finished, WorkflowStatus.DONE)],
    )
    listed = service.workflow_list()
    assert listed[finished].counts == {"done": 3} and listed[finished].total == 3
    assert (listed[finished].started, listed[finished].ended) == (5.0, 9.0)
    assert listed[running].counts == {"running": 1, "not_submitted": 3}
    assert listed[running].ended is None and listed[running].started == 7.0
    asked: list[list[int]] = []
    counted = store.job_aggregates
    store.job_aggregates = lambda ids: asked.append(list(ids)) or counted(ids)  # type: ignore[method-assign]
    assert service.workflow_list() == listed
    assert asked == [[running]]  # the finished workflow's counts are kept
    assert list(service.workflow_list([finished])) == [finished]


def test_job_page_rejects_bad_arguments_by_name() -> None:
    store = InMemoryStore()
    service = QueryService(store, user=USER)
    workflow_id, _ = add(store, 3)
    page = service.job_page(workflow_id, 1, 5)
    assert page.total == 3 and page.names == ["job1", "job2"]
    assert all(type(job) is JobProgress for job in page.jobs)
    with pytest.raises(JobError, match="sort must be one of"):
        service.job_page(workflow_id, sort="<x>")
    with pytest.raises(JobError, match="offset must be a non-negative integer"):
        service.job_page(workflow_id, offset=-1)
    with pytest.raises(UnknownObjectError):
        service.job_page(workflow_id + 9)


def test_a_workflow_listed_again_and_again_is_followed_by_its_changes_not_recounted() -> None:
    """After TALLY_AFTER listings a running workflow's counts come from the change feed
    (only what changed is read) and stay equal to a fresh count, a change read twice
    included."""
    from swf_app.workflow_list import TALLY_AFTER

    store = InMemoryStore()
    service = QueryService(store, user=USER)
    running, jobs = add(store, 5)
    asked: list[list[int]] = []
    counted = store.job_aggregates

    def recorded(ids: list[int]) -> Any:
        asked.append(list(ids))
        return counted(ids)

    def recounted() -> Any:
        store.job_aggregates = counted  # type: ignore[method-assign]
        try:
            return QueryService(store, user=USER).workflow_list()[running]
        finally:
            store.job_aggregates = recorded  # type: ignore[method-assign]

    store.job_aggregates = recorded  # type: ignore[method-assign]
    for _ in range(TALLY_AFTER - 1):
        service.workflow_list()
    assert asked == [[running]] * (TALLY_AFTER - 1)
    steps = [
        [JobUpdate(jobs[0], JobState(JobStatus.RUNNING, execution_date=3.0))],
        [JobUpdate(j, JobState(JobStatus.RUNNING, execution_date=2.0)) for j in jobs[1:3]],
        [JobUpdate(jobs[0], JobState(JobStatus.DONE, execution_date=3.0, ending_date=8.0))],
        [JobUpdate(jobs[1], JobState(JobStatus.FAILED, execution_date=2.0, ending_date=6.0))],
    ]
    for updates in [[], *steps]:
        store.apply(updates, [])
        followed = service.workflow_list()[running]
        assert followed == recounted()
    assert followed.counts == {"done": 1, "failed": 1, "running": 1, "not_submitted": 2}
    assert (followed.started, followed.ended) == (2.0, None)
    assert asked == [[running]] * (TALLY_AFTER - 1)  # then never counted again
    store.apply([], [WorkflowUpdate(running, WorkflowStatus.DONE)])
    assert service.workflow_list()[running].ended == 8.0  # finished: counted once more


def test_a_listing_does_not_wait_for_a_tally_another_thread_refreshes() -> None:
    """A tally's first read of a big workflow takes seconds; a page's counts asked
    meanwhile come from an aggregate at once (same counts), not after that read."""
    from swf_app.workflow_list import TALLY_AFTER

    store = InMemoryStore()
    service = QueryService(store, user=USER)
    running, jobs = add(store, 3)
    for _ in range(TALLY_AFTER):
        service.workflow_list()
    store.apply([JobUpdate(jobs[0], JobState(JobStatus.RUNNING, execution_date=1.0))], [])
    tally = service._lister._tallies[running]
    with tally.lock:  # another thread's refresh under way
        waited = threading.Thread(target=service.workflow_list, args=([running],))
        waited.start()
        waited.join(timeout=10)
        assert not waited.is_alive()
        assert service.workflow_list([running])[running].counts == {
            "running": 1,
            "not_submitted": 2,
        }


# -- file transfers of a workflow, without its document ------------------------------------


class _DocumentReadsCounted(InMemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.document_reads = 0

    def workflow(self, workflow_id: int, with_document: bool = False) -> Any:
        self.document_reads += with_document
        return super().workflow(workflow_id, with_document)


def test_a_workflow_without_transfers_is_answered_without_reading_its_document() -> None:
    """A monitor's first ``workflow_elements_status`` of a million-job workflow decoded
    its whole document (seconds) to learn it had no file transfer."""
    from swf_domain.model import FileTransfer, Job, Workflow
    from tests.app_fakes import EngineHarness

    store = _DocumentReadsCounted()
    with EngineHarness(store=store) as harness:
        plain = harness.submit(Workflow([Job(["run", "a"], name="a")]))
        output = FileTransfer(False, "/data/out.txt", name="out")
        writer = Job(["run", "b", output], name="b", referenced_output_files=[output])
        with_transfer = harness.submit(Workflow([writer]))
        harness.wait(plain)
        harness.wait(with_transfer)
        queries = QueryService(store, USER)  # a new client: nothing cached yet
        before = store.document_reads
        assert queries.workflow_transfers(plain) == []
        assert store.document_reads == before
        assert [info.client_path for info in queries.workflow_transfers(with_transfer)] == [
            "/data/out.txt"
        ]
        assert store.document_reads == before + 1
        assert store.workflow(plain) is not None
        assert store.workflow(plain).transfer_count == 0  # type: ignore[union-attr]
