"""The PBS adapter alone on the stand-in server (tests/pbs/; no real PBS server runs
here), PBS Pro's and Torque's forms: batching and one status call per poll, the crash
windows around ``qsub``, the scheduler frozen with jobs queued, kills in one ``qdel``, a
task that left the queue without an end file."""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from swf_adapters.schedulers.batch import BatchScheduler, BatchSettings
from swf_adapters.schedulers.batch.system import Shape
from swf_app.ports import SchedulerEvent
from swf_domain.status import ExitStatus, JobStatus
from tests.integration.test_slurm_adapter import Sink as BaseSink
from tests.integration.test_slurm_adapter import marker_request, runs
from tests.pbs.standin import PbsStandIn, pbs_system

pytestmark = [pytest.mark.pbs, pytest.mark.timeout(120)]


class Sink(BaseSink):
    def with_status(self, *statuses: JobStatus) -> dict[int, SchedulerEvent]:
        with self._lock:
            return {e.job_id: e for e in self.events if e.status in statuses}


@pytest.fixture(params=["pbspro", "torque"])
def standin(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[PbsStandIn]:
    server = PbsStandIn(tmp_path / "pbs", request.param, cores=4)
    server.start()
    yield server
    server.stop()


def scheduler(standin: PbsStandIn, job_dir: Path, **settings: float) -> BatchScheduler:
    options = BatchSettings(job_dir=job_dir, poll_min=0.1, poll_max=0.5, **settings)  # type: ignore[arg-type]
    return BatchScheduler(pbs_system(standin), options)


def test_same_shape_jobs_go_in_one_array_and_each_poll_is_one_call(
    standin: PbsStandIn, tmp_path: Path
) -> None:
    adapter, sink = scheduler(standin, tmp_path / "jobs"), Sink()
    adapter.start(sink)
    try:
        adapter.submit([marker_request(i, tmp_path) for i in range(1, 41)])
        ends = sink.wait_ends(40)
        assert len(ends) == 40 and all(e.status is JobStatus.DONE for e in ends.values())
        assert adapter.runner.calls["qsub"] == 1 and standin.calls()["qsub"] == 1
        assert adapter.runner.calls["qstat"] == adapter.polls == standin.calls()["qstat"]
        ids = {e.scheduler_job_id for e in ends.values()}
        assert {i.split("[")[0] for i in ids if i} == {"1000"}
        assert "1000[39].standin" in ids and all(runs(tmp_path, i) == 1 for i in range(1, 41))
    finally:
        adapter.close()


@pytest.mark.parametrize("jobs", ["jobs", "my jobs"])
def test_a_crash_after_qsub_answered_finds_the_batch_by_its_script(
    standin: PbsStandIn, tmp_path: Path, jobs: str
) -> None:
    """The engine died between qsub's answer and the cluster id's write: the next one
    lists every job once, finds the batch by its script, and does not submit it again
    (also in a job directory with a space, which PBS's joined arguments split)."""
    standin.freeze()  # still queued when the next engine looks
    first = scheduler(standin, tmp_path / jobs)
    first.jobdir.prepare()
    requests = [marker_request(7, tmp_path), marker_request(8, tmp_path)]
    batch = first.jobdir.create(requests, first.system.index_variable, Shape())
    argv = first.system.submit_command(batch.directory / "batch.sh", 2, Shape(), first.tag)
    subprocess.run(argv, check=True, capture_output=True)  # ... and the engine dies here

    second, sink = scheduler(standin, tmp_path / jobs), Sink()
    assert second.start(sink) == frozenset({7, 8})
    try:
        assert standin.wait_for(lambda: standin.calls()["qstat"] >= 1)
        standin.thaw()
        ends = sink.wait_ends(2)
        assert {e.status for e in ends.values()} == {JobStatus.DONE}
        assert second.runner.calls["qsub"] == 0 and standin.calls()["qsub"] == 1
        assert runs(tmp_path, 7) == runs(tmp_path, 8) == 1
    finally:
        second.close()


def test_a_crash_before_qsub_submits_the_batch_once(standin: PbsStandIn, tmp_path: Path) -> None:
    first = scheduler(standin, tmp_path / "jobs")
    first.jobdir.prepare()
    first.jobdir.create([marker_request(9, tmp_path)], first.system.index_variable, Shape())

    second, sink = scheduler(standin, tmp_path / "jobs"), Sink()
    assert second.start(sink) == frozenset({9})
    try:
        assert sink.wait_ends(1)[9].status is JobStatus.DONE
        assert second.runner.calls["qsub"] == 1 and runs(tmp_path, 9) == 1
    finally:
        second.close()


def test_a_batch_that_finished_before_the_next_engine_looked_never_runs_twice(
    standin: PbsStandIn, tmp_path: Path
) -> None:
    """qsub's answer was lost in a crash and the batch ran to its end before the next
    engine looked; the server (no job history) has forgotten it. Its "started" marker
    and end files say it ran: it is adopted, not submitted again."""
    first = scheduler(standin, tmp_path / "jobs")
    first.jobdir.prepare()
    requests = [marker_request(11, tmp_path), marker_request(12, tmp_path)]
    batch = first.jobdir.create(requests, first.system.index_variable, Shape())
    argv = first.system.submit_command(batch.directory / "batch.sh", 2, Shape(), first.tag)
    subprocess.run(argv, check=True, capture_output=True)  # ... and the engine dies here
    assert standin.wait_for(lambda: not standin.jobs() and runs(tmp_path, 12) == 1)

    second, sink = scheduler(standin, tmp_path / "jobs"), Sink()
    assert second.start(sink) == frozenset({11, 12})
    try:
        ends = sink.wait_ends(2)
        assert {e.status for e in ends.values()} == {JobStatus.DONE}
        assert ends[11].scheduler_job_id == "1000[0].standin"
        time.sleep(1.0)  # a resubmitted batch would have started by now
        assert second.runner.calls["qsub"] == 0 and standin.calls()["qsub"] == 1
        assert runs(tmp_path, 11) == runs(tmp_path, 12) == 1
    finally:
        second.close()


def test_frozen_jobs_stay_queued_and_a_kill_is_one_qdel(
    standin: PbsStandIn, tmp_path: Path
) -> None:
    standin.freeze()
    adapter, sink = scheduler(standin, tmp_path / "jobs"), Sink()
    adapter.start(sink)
    try:
        adapter.submit([marker_request(i, tmp_path) for i in (1, 2, 3)])
        assert standin.wait_for(lambda: len(sink.with_status(JobStatus.QUEUED_ACTIVE)) == 3)
        time.sleep(1.0)  # several polls: nothing runs while the scheduler is frozen
        assert not sink.with_status(JobStatus.RUNNING) and set(standin.task_states().values()) == {
            "Q"
        }
        adapter.kill([1, 2, 3])
        ends = sink.wait_ends(3)
        assert {e.exit.exit_status for e in ends.values() if e.exit} == {ExitStatus.USER_KILLED}
        assert adapter.runner.calls["qdel"] == 1 and standin.calls()["qdel"] == 1
        assert not any(runs(tmp_path, i) for i in (1, 2, 3))
    finally:
        adapter.close()


def test_an_admins_qdel_ends_the_job_with_the_signal_pbs_sent(
    standin: PbsStandIn, tmp_path: Path
) -> None:
    adapter, sink = scheduler(standin, tmp_path / "jobs"), Sink()
    adapter.start(sink)
    try:
        adapter.submit([marker_request(5, tmp_path, sleep=60)])
        assert standin.wait_for(lambda: bool(sink.with_status(JobStatus.RUNNING)), 30)
        (event,) = sink.with_status(JobStatus.RUNNING).values()
        subprocess.run([str(standin.bin / "qdel"), str(event.scheduler_job_id)], check=True)
        end = sink.wait_ends(1)[5]
        assert end.status is JobStatus.FAILED and end.exit is not None
        assert end.exit.exit_status is ExitStatus.FINISHED_TERM_SIG and end.exit.term_signal == 15
    finally:
        adapter.close()


def test_a_task_killed_with_its_node_fails_with_a_reason(
    standin: PbsStandIn, tmp_path: Path
) -> None:
    """SIGKILL of the task and its wrapper (a node that died): no end file; once out of
    the queue for end_grace, the job fails and its output says why."""
    adapter, sink = scheduler(standin, tmp_path / "jobs", end_grace=0.5), Sink()
    adapter.start(sink)
    try:
        adapter.submit([marker_request(6, tmp_path, sleep=60)])
        assert standin.wait_for(lambda: bool(sink.with_status(JobStatus.RUNNING)), 30)
        (event,) = sink.with_status(JobStatus.RUNNING).values()
        for process in psutil.process_iter():
            with contextlib.suppress(psutil.Error):
                if process.environ().get("PBS_JOBID") == event.scheduler_job_id:
                    process.kill()  # the job's own processes, started by this test's server
        end = sink.wait_ends(1)[6]
        assert end.status is JobStatus.FAILED and end.exit is not None
        assert end.exit.exit_status is ExitStatus.EXIT_ABORTED
        said = (tmp_path / "6.out").read_text()
        assert f"job {event.scheduler_job_id} left the queue" in said, said
    finally:
        adapter.close()
