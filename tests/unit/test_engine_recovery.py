"""Engine crash and restart: reload from the store, reconcile with the scheduler."""

from __future__ import annotations

import itertools
import logging

import pytest

from swf_app.ports import LaunchRequest, SchedulerEvent
from swf_domain.model import Job, Workflow
from swf_domain.status import ExitInfo, ExitStatus, JobStatus
from tests.app_fakes import EngineHarness, FakeOutcome, SimulatedCrash


def job(name: str) -> Job:
    return Job(["run", name], name=name)


def chain(*names: str) -> Workflow:
    jobs = [job(name) for name in names]
    return Workflow(jobs, dependencies=list(itertools.pairwise(jobs)))


def long_running(request: LaunchRequest) -> FakeOutcome:
    return FakeOutcome(duration=None)  # runs until the test ends it


def test_running_job_is_adopted_and_its_end_counts() -> None:
    with EngineHarness(behaviour=long_running) as harness:
        wf_id = harness.submit(chain("a", "b"))
        harness.idle()
        a_id, b_id = harness.ids(wf_id)
        assert harness.statuses(wf_id) == ["running", "not_submitted"]
        harness.restart_engine()
        assert harness.statuses(wf_id) == ["running", "not_submitted"]
        harness.scheduler.finish(a_id)
        harness.idle()
        harness.scheduler.finish(b_id)
        harness.wait(wf_id)
        assert harness.statuses(wf_id) == ["done", "done"]
        assert harness.scheduler.started == [a_id, b_id]


def test_job_ended_while_engine_was_down_is_recorded_once() -> None:
    with EngineHarness(behaviour=lambda r: FakeOutcome(duration=5.0)) as harness:
        wf_id = harness.submit(chain("a", "b"))
        harness.idle()
        harness.engine.shutdown()
        harness.clock.advance(10.0)  # "a" ends while nobody listens
        a_id = harness.ids(wf_id)[0]
        assert a_id in harness.scheduler.unacknowledged
        harness.restart_engine()
        harness.advance(10.0)
        harness.wait(wf_id)
        assert harness.statuses(wf_id) == ["done", "done"]
        assert a_id not in harness.scheduler.unacknowledged
        assert harness.scheduler.started.count(a_id) == 1


def test_lost_job_fails_undetermined_and_its_descendants_never_run() -> None:
    with EngineHarness(behaviour=long_running) as harness:
        wf_id = harness.submit(chain("a", "b", "c"))
        harness.idle()
        a_id = harness.ids(wf_id)[0]
        harness.engine.shutdown()
        del harness.scheduler.running[a_id]  # the resource forgot it (node reboot...)
        harness.restart_engine()
        harness.wait(wf_id)
        assert harness.statuses(wf_id) == ["failed"] * 3
        assert harness.exits(wf_id) == [
            "exit_status_undetermined",
            "aborted_before_running",
            "aborted_before_running",
        ]
        assert harness.scheduler.started == [a_id]


def test_crash_between_submission_and_commit_adopts_the_job(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.CRITICAL, logger="swf.engine")
    with EngineHarness(behaviour=long_running) as harness:
        harness.store.crash_on_apply = harness.store.apply_count + 1
        with pytest.raises(SimulatedCrash):  # the tick submitting "a" cannot commit
            harness.submit(chain("a", "b"))
        assert not harness.engine.alive
        (wf_id,) = [row.workflow_id for row in harness.store.workflows()]
        a_id = harness.ids(wf_id)[0]
        assert a_id in harness.scheduler.running
        assert harness.statuses(wf_id) == ["not_submitted", "not_submitted"]
        harness.store.crash_on_apply = None
        harness.restart_engine()
        assert harness.statuses(wf_id)[0] == "running"
        harness.scheduler.finish(a_id)
        harness.idle()
        harness.scheduler.finish(harness.ids(wf_id)[1])
        harness.wait(wf_id)
        assert harness.statuses(wf_id) == ["done", "done"]
        assert harness.scheduler.started.count(a_id) == 1
        assert harness.scheduler.doubly_started == []


def test_duplicate_end_events_are_ignored_and_acknowledged() -> None:
    with EngineHarness() as harness:
        wf_id = harness.submit(chain("a", "b"))
        harness.wait(wf_id)
        a_id = harness.ids(wf_id)[0]
        before = harness.states(wf_id)
        late = SchedulerEvent(a_id, JobStatus.FAILED, ExitInfo(ExitStatus.FINISHED_REGULARLY, 9))
        harness.scheduler.send([late, late])
        harness.idle()
        assert harness.states(wf_id) == before
        assert harness.scheduler.acknowledged.count(a_id) >= 2
        assert harness.service.workflow_status(wf_id) == "workflow_done"


def test_restart_after_shutdown_never_reruns_finished_jobs() -> None:
    with EngineHarness(slots=1, behaviour=lambda r: FakeOutcome(duration=1.0)) as harness:
        wf_id = harness.submit(chain("a", "b", "c", "d"))
        harness.advance(1.0)
        harness.advance(1.0)
        harness.restart_engine()
        for _ in range(4):
            harness.advance(1.0)
        harness.wait(wf_id)
        assert harness.statuses(wf_id) == ["done"] * 4
        assert sorted(harness.scheduler.started) == sorted(set(harness.scheduler.started))


def test_pending_ready_jobs_are_released_after_restart() -> None:
    with EngineHarness(slots=1, behaviour=long_running) as harness:
        jobs = [job(f"j{i}") for i in range(3)]
        wf_id = harness.submit(Workflow(jobs))
        harness.idle()
        ids = harness.ids(wf_id)
        assert harness.statuses(wf_id) == ["running", "not_submitted", "not_submitted"]
        harness.restart_engine()
        harness.scheduler.finish(ids[0])
        harness.idle()
        assert harness.statuses(wf_id) == ["done", "running", "not_submitted"]
        harness.scheduler.finish(ids[1])
        harness.idle()
        harness.scheduler.finish(ids[2])
        harness.wait(wf_id)
        assert harness.statuses(wf_id) == ["done"] * 3
