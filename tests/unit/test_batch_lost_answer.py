"""A batch whose submission's answer a crash lost, on a fake batch system whose queue
has forgotten it: it is submitted again only when it left no trace in the job directory
(the wrapper's "started" marker, its end files); one that ran is adopted, its ends read."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from swf_adapters.schedulers.batch import BatchScheduler, BatchSettings, wrapper
from swf_adapters.schedulers.batch.adapter import UNKNOWN_ID
from swf_adapters.schedulers.batch.commands import TIMED_OUT, CommandResult, CommandRunner
from swf_adapters.schedulers.batch.jobdir import Batch
from swf_adapters.schedulers.batch.system import QueueView, Shape
from swf_app.ports import LaunchRequest, SchedulerEvent
from swf_domain.status import JobStatus


class FakeSystem:
    """A batch system whose queue is always empty (every job forgotten at once)."""

    name = "FAKE"
    index_variable = "FAKE_INDEX"

    def shape_of(self, request: LaunchRequest, default_options: Sequence[str]) -> Shape:
        return Shape()

    def submit_command(self, script: Path, count: int, shape: Shape, tag: str) -> list[str]:
        return ["submit", str(script)]

    def parse_submitted(self, stdout: str) -> str:
        return stdout.strip()

    def status_command(self, tag: str, cluster_ids: Sequence[str] | None) -> list[str]:
        return ["status", *(cluster_ids or ())]

    def parse_status(self, stdout: str) -> QueueView:
        return {}

    def partial_status(self, returncode: int, stderr: str) -> bool:
        return False

    def task_id(self, cluster_id: str, index: int) -> str:
        return f"{cluster_id}_{index}"

    def cancel_command(self, task_ids: Sequence[str]) -> list[str]:
        return ["cancel", *task_ids]

    def unavailable(self, returncode: int, stderr: str) -> bool:
        return False


class FakeRunner(CommandRunner):
    """Answers every command at once (a submission gets id 500); keeps the argvs."""

    def __init__(self) -> None:
        super().__init__()
        self.argvs: list[list[str]] = []

    def run(self, argv: list[str], timeout: float | None = None) -> CommandResult:
        with self._lock:
            self.calls[argv[0]] += 1
            self.argvs.append(argv)
        return CommandResult(tuple(argv), 0, "500\n" if argv[0] == "submit" else "", "")


ENDED = (JobStatus.DONE, JobStatus.FAILED)


class Sink:
    def __init__(self) -> None:
        self.events: list[SchedulerEvent] = []
        self._lock = threading.Lock()

    def __call__(self, events: Sequence[SchedulerEvent]) -> None:
        with self._lock:
            self.events.extend(events)

    def wait_ends(self, count: int, timeout: float = 10.0) -> dict[int, SchedulerEvent]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                ends = {e.job_id: e for e in self.events if e.status in ENDED}
            if len(ends) >= count:
                return ends
            time.sleep(0.02)
        raise AssertionError(f"{count} ends expected, got {self.events}")


def scheduler(job_dir: Path) -> BatchScheduler:
    settings = BatchSettings(job_dir=job_dir, poll_min=0.05, poll_max=0.1, end_grace=0.3)
    return BatchScheduler(FakeSystem(), settings, FakeRunner())


def lost_batch(job_dir: Path, count: int, first_id: int = 0) -> Batch:
    """A batch written by an engine that died before the submission's answer came."""
    first = scheduler(job_dir)
    first.jobdir.prepare()
    ids = range(first_id, first_id + count)
    requests = [LaunchRequest(i, 1, ("true",), {}, "/dev/null", None) for i in ids]
    return first.jobdir.create(requests, "FAKE_INDEX", Shape())


def ended(batch: Batch, index: int, exit_value: int) -> None:
    """What the wrapper writes when a task's command ended."""
    record = {"job": index, "start": 1.0, "end": 2.0, "exit_value": exit_value, "signal": None}
    wrapper._write_atomically(str(batch.end_file(index)), record)


def run_engine(job_dir: Path, ends: int) -> tuple[BatchScheduler, dict[int, SchedulerEvent]]:
    adapter, sink = scheduler(job_dir), Sink()
    adapter.start(sink)
    try:
        return adapter, sink.wait_ends(ends)
    finally:
        adapter.close()


def test_a_batch_that_ran_and_was_forgotten_is_adopted_not_resubmitted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    batch = lost_batch(tmp_path / "jobs", 3)
    monkeypatch.setenv("SLURM_ARRAY_JOB_ID", "77")
    wrapper.mark_started(str(batch.directory))
    ended(batch, 0, 0)
    ended(batch, 1, 3)  # task 2 began (or was cancelled) and left no end file

    adapter, ends = run_engine(tmp_path / "jobs", 3)

    assert adapter.runner.calls["submit"] == 0
    assert (batch.directory / "cluster_id").read_text() == "77"
    assert ends[0].status is JobStatus.DONE and ends[0].scheduler_job_id == "77_0"
    assert ends[1].status is JobStatus.FAILED and ends[1].exit is not None
    assert ends[1].exit.exit_value == 3
    assert ends[2].status is JobStatus.FAILED and ends[2].scheduler_job_id == "77_2"


def test_a_batch_without_any_trace_is_the_only_one_submitted_again(tmp_path: Path) -> None:
    traced, untraced = lost_batch(tmp_path / "jobs", 1), lost_batch(tmp_path / "jobs", 1, 5)
    ended(traced, 0, 0)  # an older wrapper: an end file, no "started" marker

    adapter, ends = run_engine(tmp_path / "jobs", 1)  # the resubmitted one stays queued

    submitted = [argv for argv in adapter.runner.argvs if argv[0] == "submit"]
    assert submitted == [["submit", str(untraced.directory / "batch.sh")]]
    assert ends[0].status is JobStatus.DONE and ends[0].scheduler_job_id == f"{UNKNOWN_ID}_0"
    statuses = [argv for argv in adapter.runner.argvs if argv[0] == "status"]
    assert all(UNKNOWN_ID not in argv for argv in statuses)  # never asked about


def test_the_started_marker_holds_the_array_id_each_system_gives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in ("SLURM_ARRAY_JOB_ID", "SLURM_JOB_ID", "PBS_JOBID", "JOB_ID"):
        monkeypatch.delenv(variable, raising=False)
    cases = [("PBS_JOBID", "12[3].server", "12[].server"), ("PBS_JOBID", "12.server", "12.server")]
    cases += [("JOB_ID", "345", "345"), ("SLURM_JOB_ID", "9", "9")]
    for variable, value, expected in cases:
        monkeypatch.setenv(variable, value)
        directory = tmp_path / variable / value
        directory.mkdir(parents=True)
        wrapper.mark_started(str(directory))
        assert (directory / wrapper.STARTED).read_text() == expected
        monkeypatch.delenv(variable)


class RunsThenTimesOut(FakeRunner):
    """The first submission goes through and its batch runs to its end at once, but
    the answer never comes (timeout): what a loaded controller does."""

    def run(self, argv: list[str], timeout: float | None = None) -> CommandResult:
        if argv[0] != "submit" or self.calls["submit"]:
            return super().run(argv, timeout)
        with self._lock:
            self.calls["submit"] += 1
        directory = Path(argv[1]).parent
        (directory / wrapper.STARTED).write_text("61")
        record = {"job": 0, "start": 1.0, "end": 2.0, "exit_value": 0, "signal": None}
        wrapper._write_atomically(str(directory / "0.end"), record)
        return CommandResult(tuple(argv), TIMED_OUT, "", "submit: no answer in time")


def test_a_timed_out_submission_whose_batch_already_ran_is_not_submitted_again(
    tmp_path: Path,
) -> None:
    settings = BatchSettings(job_dir=tmp_path / "jobs", poll_min=0.05, retry_first=0.05)
    adapter, sink = BatchScheduler(FakeSystem(), settings, RunsThenTimesOut()), Sink()
    adapter.start(sink)
    try:
        adapter.submit([LaunchRequest(4, 1, ("true",), {}, "/dev/null", None)])
        ends = sink.wait_ends(1)
    finally:
        adapter.close()
    assert adapter.runner.calls["submit"] == 1
    assert ends[4].status is JobStatus.DONE and ends[4].scheduler_job_id == "61_0"
