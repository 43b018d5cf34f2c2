"""The SLURM adapter alone on the real cluster: the crash windows the engine-level kill loop
hits only by chance (a crash during ``sbatch``; a task that vanished), batching, and the
one-status-call-per-poll promise."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from swf_adapters.schedulers.batch import BatchScheduler, BatchSettings
from swf_adapters.schedulers.batch.system import Shape
from swf_adapters.schedulers.slurm import Slurm
from swf_app.ports import LaunchRequest, SchedulerEvent
from swf_domain.status import JobStatus
from tests.integration.slurm_fixtures import slurm_cluster

__all__ = ["slurm_cluster"]

pytestmark = [pytest.mark.slurm, pytest.mark.timeout(120), pytest.mark.usefixtures("slurm_cluster")]


class Sink:
    def __init__(self) -> None:
        self.events: list[SchedulerEvent] = []
        self._lock = threading.Lock()

    def __call__(self, events: Sequence[SchedulerEvent]) -> None:
        with self._lock:
            self.events.extend(events)

    def ends(self) -> dict[int, SchedulerEvent]:
        with self._lock:
            return {
                e.job_id: e for e in self.events if e.status in (JobStatus.DONE, JobStatus.FAILED)
            }

    def wait_ends(self, count: int, timeout: float = 60) -> dict[int, SchedulerEvent]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(self.ends()) < count:
            time.sleep(0.05)
        return self.ends()


@pytest.fixture
def job_dir(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Path]:
    path = tmp_path / getattr(request, "param", "jobs")
    yield path
    tag = BatchSettings(job_dir=path).job_tag()
    subprocess.run(["scancel", f"--name={tag}"], check=False, capture_output=True)


def scheduler(job_dir: Path, **settings: float) -> BatchScheduler:
    return BatchScheduler(
        Slurm(), BatchSettings(job_dir=job_dir, poll_min=0.1, poll_max=0.5, **settings)
    )  # type: ignore[arg-type]


def marker_request(job_id: int, tmp_path: Path, sleep: float = 0.0) -> LaunchRequest:
    marker = tmp_path / f"ran-{job_id}"
    script = f'echo ran >> "{marker}"; sleep {sleep}'
    return LaunchRequest(job_id, 1, ("sh", "-c", script), {}, str(tmp_path / f"{job_id}.out"), None)


def runs(tmp_path: Path, job_id: int) -> int:
    marker = tmp_path / f"ran-{job_id}"
    return len(marker.read_text().splitlines()) if marker.exists() else 0


def test_same_shape_jobs_go_in_one_array_and_each_poll_is_one_call(
    job_dir: Path, tmp_path: Path
) -> None:
    adapter, sink = scheduler(job_dir), Sink()
    adapter.start(sink)
    try:
        requests = [marker_request(i, tmp_path) for i in range(1, 41)]
        adapter.submit(requests)
        ends = sink.wait_ends(40)
        assert all(e.status is JobStatus.DONE for e in ends.values()) and len(ends) == 40
        assert adapter.runner.calls["sbatch"] == 1
        assert adapter.runner.calls["squeue"] == adapter.polls
        assert {
            e.scheduler_job_id.split("_")[0] for e in ends.values() if e.scheduler_job_id
        } and all(runs(tmp_path, i) == 1 for i in range(1, 41))
    finally:
        adapter.close()


@pytest.mark.parametrize("job_dir", ["jobs", "my jobs"], indirect=True)
def test_a_crash_after_sbatch_answered_adopts_the_batch_without_submitting_again(
    job_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The engine died between sbatch's answer and the cluster id's write: the next one
    finds the batch in the queue by its script (even with a space in its path: not by
    its traces) and does not submit it again."""
    first = scheduler(job_dir)
    first.jobdir.prepare()
    batch = first.jobdir.create([marker_request(7, tmp_path, 1.0)], "SLURM_ARRAY_TASK_ID", Shape())
    argv = first.system.submit_command(batch.directory / "batch.sh", 1, Shape(), first.tag)
    subprocess.run(argv, check=True, capture_output=True)  # ... and the engine dies here

    second, sink = scheduler(job_dir), Sink()
    assert second.start(sink) == frozenset({7})
    try:
        ends = sink.wait_ends(1)
        assert ends[7].status is JobStatus.DONE
        assert second.runner.calls["sbatch"] == 0 and runs(tmp_path, 7) == 1
        assert "ran while no engine knew its id" not in caplog.text
    finally:
        second.close()


def test_a_crash_before_sbatch_submits_the_batch_once(job_dir: Path, tmp_path: Path) -> None:
    first = scheduler(job_dir)
    first.jobdir.prepare()
    first.jobdir.create([marker_request(8, tmp_path)], "SLURM_ARRAY_TASK_ID", Shape())
    # the engine dies before sbatch ran

    second, sink = scheduler(job_dir), Sink()
    assert second.start(sink) == frozenset({8})
    try:
        ends = sink.wait_ends(1)
        assert ends[8].status is JobStatus.DONE
        assert second.runner.calls["sbatch"] == 1 and runs(tmp_path, 8) == 1
    finally:
        second.close()


def test_a_task_that_vanished_without_an_end_file_fails_with_a_reason(
    job_dir: Path, tmp_path: Path
) -> None:
    adapter, sink = scheduler(job_dir, end_grace=1.0), Sink()
    adapter.start(sink)
    try:
        request = marker_request(9, tmp_path, 30.0)
        script = f'echo $PPID > "{tmp_path}/wrapper-9"; {request.argv[2]}'
        adapter.submit([dataclasses.replace(request, argv=("sh", "-c", script))])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and runs(tmp_path, 9) == 0:
            time.sleep(0.05)
        # The wrapper dies (its node fails, the OOM killer...): no chance to write its end.
        wrapper_pid = int((tmp_path / "wrapper-9").read_text())
        os.kill(wrapper_pid, signal.SIGKILL)
        ends = sink.wait_ends(1, timeout=60)
        assert ends[9].status is JobStatus.FAILED
        assert ends[9].exit is not None and ends[9].exit.exit_status.value == "aborted"
        said = (tmp_path / "9.out").read_text()
        assert "left the queue" in said and "without the wrapper's end file" in said
    finally:
        adapter.close()


def test_kills_are_one_scancel_and_end_user_killed(job_dir: Path, tmp_path: Path) -> None:
    adapter, sink = scheduler(job_dir), Sink()
    adapter.start(sink)
    try:
        adapter.submit([marker_request(i, tmp_path, 60.0) for i in range(20, 30)])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and runs(tmp_path, 20) == 0:
            time.sleep(0.05)
        adapter.kill(list(range(20, 30)))
        ends = sink.wait_ends(10)
        assert {e.exit.exit_status.value for e in ends.values() if e.exit} == {"killed_by_user"}
        assert adapter.runner.calls["scancel"] == 1
    finally:
        adapter.close()
