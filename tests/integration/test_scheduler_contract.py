"""The Scheduler port's contract, run on every backend of ``scheduler_contract.BACKENDS``.

What the engine relies on, whatever runs the jobs: batches in and out, each end exactly
once per adapter instance, ends replayed to the next instance until acknowledged
(adoption after a crash: the store hands the new instance the jobs it believes active),
a capacity with a unit (and its changes as reports), a job that cannot start failing
alone, and ``submit``/``kill`` returning while the resource does not answer.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from swf_app.ports import Capacity, CapacityUnit, KnownJob, Scheduler, launch_name
from swf_domain.status import ExitStatus, JobStatus
from tests.integration.scheduler_contract import (
    BACKENDS,
    EXIT_3,
    LONG,
    MISSING,
    QUICK,
    ContractBackend,
    Recorder,
)

#: Seconds ``submit``/``kill`` may take while the resource is paused: far more than a
#: non-blocking call needs, far less than the jobs (or a blocked call) would.
RETURN_LIMIT = 5.0


@pytest.fixture(params=BACKENDS, ids=[backend.name for backend in BACKENDS])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ContractBackend]:
    chosen: ContractBackend = request.param(tmp_path)
    reason = chosen.unavailable()
    assert reason is None, f"the {chosen.name} backend cannot run here: {reason}"
    try:
        yield chosen
    finally:
        chosen.close()


class Started:
    """Adapter instances started by a test, closed at its end."""

    def __init__(self, backend: ContractBackend) -> None:
        self.backend = backend
        self.instances: list[Scheduler] = []

    def __call__(self, known: list[KnownJob] | None = None) -> tuple[Scheduler, Recorder, set[int]]:
        scheduler = self.backend.new_scheduler()
        recorder = Recorder()
        held = scheduler.start(recorder, known or [])
        self.instances.append(scheduler)
        return scheduler, recorder, set(held)

    def close(self) -> None:
        for scheduler in self.instances:
            scheduler.close()


@pytest.fixture
def start(backend: ContractBackend) -> Iterator[Started]:
    started = Started(backend)
    yield started
    started.close()


def known(job_id: int, recorder: Recorder) -> KnownJob:
    """What the store would hand back for a job, from the events it received."""
    ids = recorder.scheduler_ids(job_id)
    return KnownJob(job_id, min(ids) if ids else None, launch_name(1, job_id))


def in_thread(call: Callable[[], None]) -> float:
    """Seconds ``call`` took, or fail once it takes more than RETURN_LIMIT."""
    began = time.monotonic()
    worker = threading.Thread(target=call, daemon=True)
    worker.start()
    worker.join(RETURN_LIMIT)
    assert not worker.is_alive(), f"the call blocked for more than {RETURN_LIMIT} s"
    return time.monotonic() - began


def test_capacity_has_a_unit(backend: ContractBackend, start: Started) -> None:
    scheduler, _, held = start()
    capacity = scheduler.capacity()
    assert isinstance(capacity, Capacity) and isinstance(capacity.unit, CapacityUnit)
    assert capacity.total is None or capacity.total >= 0
    assert all(limit >= 0 for limit in capacity.per_queue.values())
    assert held == set()


def test_a_batch_ends_each_job_exactly_once(backend: ContractBackend, start: Started) -> None:
    scheduler, recorder, _ = start()
    quick, failing = [1, 2, 3, 4, 5], [6, 7]
    scheduler.submit(
        [backend.request(i, QUICK) for i in quick] + [backend.request(i, EXIT_3) for i in failing]
    )
    ends = recorder.wait_ends(quick + failing, backend.timeout)
    for job_id in quick:
        assert ends[job_id].status is JobStatus.DONE
        assert ends[job_id].exit is not None and ends[job_id].exit.succeeded()
    for job_id in failing:
        assert ends[job_id].status is JobStatus.FAILED
        assert ends[job_id].exit is not None
        assert ends[job_id].exit.exit_status is ExitStatus.FINISHED_REGULARLY
        assert ends[job_id].exit.exit_value == 3
    for job_id in quick + failing:  # the store learns each job's scheduler id
        assert recorder.scheduler_ids(job_id), f"no event of job {job_id} had a scheduler id"
    scheduler.acknowledge(quick + failing)
    time.sleep(0.3)  # a repeated end would have come by now
    assert all(len(recorder.ends(job_id)) == 1 for job_id in quick + failing)


def test_a_job_that_cannot_start_fails_alone(backend: ContractBackend, start: Started) -> None:
    scheduler, recorder, _ = start()
    scheduler.submit(
        [backend.request(1, QUICK), backend.request(2, MISSING), backend.request(3, QUICK)]
    )
    ends = recorder.wait_ends([1, 2, 3], backend.timeout)
    assert ends[2].status is JobStatus.FAILED
    assert ends[2].exit is not None and not ends[2].exit.succeeded()
    assert ends[1].status is JobStatus.DONE and ends[3].status is JobStatus.DONE


def test_private_outputs_are_never_opened_through_a_symlink(
    backend: ContractBackend, start: Started
) -> None:
    """``private_outputs``: the engine checks only their directory, so the scheduler must
    not follow a symlink a job planted there (to make a later job write into the
    engine's files): that job fails alone and what the link leads to is untouched."""
    scheduler, recorder, _ = start()
    canary = backend.root / "engine.db"
    canary.write_bytes(b"the engine's state")
    requests = [replace(backend.request(i, QUICK), private_outputs=True) for i in (1, 2, 3, 4)]
    Path(requests[1].stdout_file).symlink_to(canary)
    assert requests[3].stderr_file is not None
    Path(requests[3].stderr_file).symlink_to(canary)
    scheduler.submit(requests)
    ends = recorder.wait_ends([1, 2, 3, 4], backend.timeout)
    assert ends[2].status is JobStatus.FAILED and ends[4].status is JobStatus.FAILED
    assert ends[1].status is JobStatus.DONE and ends[3].status is JobStatus.DONE
    assert canary.read_bytes() == b"the engine's state"


def test_kill_ends_a_batch_of_running_jobs(backend: ContractBackend, start: Started) -> None:
    scheduler, recorder, _ = start()
    scheduler.submit([backend.request(i, LONG) for i in (1, 2)])
    recorder.wait_running([1, 2], backend.timeout)
    scheduler.kill([1, 2])
    ends = recorder.wait_ends([1, 2], backend.timeout)
    for end in ends.values():
        assert end.status is JobStatus.FAILED
        assert end.exit is not None and end.exit.exit_status is ExitStatus.USER_KILLED
    scheduler.kill([1, 2])  # killing ended jobs again is harmless and reports nothing
    time.sleep(0.3)
    assert len(recorder.ends(1)) == len(recorder.ends(2)) == 1


def test_a_new_instance_adopts_the_known_jobs_and_reports_their_ends(
    backend: ContractBackend, start: Started
) -> None:
    first, first_events, _ = start()
    first.submit([backend.request(1, QUICK), backend.request(2, LONG)])
    first_events.wait_ends([1], backend.timeout)
    first_events.wait_running([2], backend.timeout)
    first.close()  # the engine died: nothing was acknowledged
    never_submitted = KnownJob(99, None, launch_name(1, 99))
    second, events, held = start([known(1, first_events), known(2, first_events), never_submitted])
    assert {1, 2} <= held and 99 not in held
    (end,) = events.wait_ends([1], backend.timeout).values()
    assert end.status is JobStatus.DONE
    second.kill([2])
    (killed,) = events.wait_ends([2], backend.timeout).values()
    assert killed.exit is not None and killed.exit.exit_status is ExitStatus.USER_KILLED
    second.acknowledge([1, 2])
    second.close()
    _, third_events, third_held = start([])  # acknowledged: forgotten
    assert third_held.isdisjoint({1, 2})
    time.sleep(0.3)
    assert third_events.ends(1) == [] and third_events.ends(2) == []


def test_submit_and_kill_return_while_the_resource_does_not_answer(
    backend: ContractBackend, start: Started
) -> None:
    scheduler, recorder, _ = start()
    scheduler.submit([backend.request(1, LONG)])
    recorder.wait_running([1], backend.timeout)
    backend.pause()
    try:
        in_thread(lambda: scheduler.submit([backend.request(i, QUICK) for i in range(2, 22)]))
        in_thread(lambda: scheduler.kill([1]))
    finally:
        backend.resume()
    ends = recorder.wait_ends(list(range(1, 22)), backend.timeout * 2)
    assert ends[1].exit is not None and ends[1].exit.exit_status is ExitStatus.USER_KILLED


def test_capacity_changes_arrive_as_reports(backend: ContractBackend, start: Started) -> None:
    if not backend.changes_capacity:
        scheduler, recorder, _ = start()
        before = scheduler.capacity()
        scheduler.submit([backend.request(1, QUICK)])
        recorder.wait_ends([1], backend.timeout)
        assert scheduler.capacity() == before and recorder.capacities == []
        return
    scheduler, recorder, _ = start()
    changed = backend.change_capacity(scheduler)
    recorder.wait_until(lambda: changed in recorder.capacities, backend.timeout, "the capacity")
    assert scheduler.capacity() == changed
