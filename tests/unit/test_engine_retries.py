"""Retries: a failed attempt runs again before the job counts as FAILED (issue 11)."""

from __future__ import annotations

import itertools
import logging
import time

import pytest

from swf_app.inbox import Command
from swf_app.ports import LaunchRequest
from swf_domain.errors import JobArgumentError, WorkflowArgumentError
from swf_domain.model import Job, Workflow
from swf_domain.serialization import workflow_from_dict, workflow_to_dict
from tests.app_fakes import EngineHarness, FakeOutcome, SimulatedCrash


def chain(first: Job, *names: str) -> Workflow:
    jobs = [first, *(Job(["run", name], name=name) for name in names)]
    return Workflow(jobs, dependencies=list(itertools.pairwise(jobs)))


def always_fails(request: LaunchRequest) -> FakeOutcome:
    return FakeOutcome(exit_value=0 if request.job_name != "a" else 3)


def fails_first_attempt(request: LaunchRequest) -> FakeOutcome:
    return FakeOutcome(exit_value=1 if request.job_name == "a" and request.attempt == 1 else 0)


def long_running(request: LaunchRequest) -> FakeOutcome:
    return FakeOutcome(duration=None)


def attempts_of(harness: EngineHarness, job_id: int) -> list[int]:
    return [r.attempt for r in harness.scheduler.submitted if r.job_id == job_id]


def test_exhausted_attempts_fail_the_job_and_abort_its_descendants() -> None:
    with EngineHarness(behaviour=always_fails) as harness:
        wf_id = harness.submit(chain(Job(["a"], name="a", attempts=3), "b", "c"))
        harness.wait(wf_id)
        a_id = harness.ids(wf_id)[0]
        assert harness.statuses(wf_id) == ["failed"] * 3
        assert harness.exits(wf_id) == [
            "finished_regularly",
            "aborted_before_running",
            "aborted_before_running",
        ]
        assert attempts_of(harness, a_id) == [1, 2, 3]
        state = harness.states(wf_id)[0]
        assert (state.attempt, state.exit_value) == (3, 3)
        assert state.past_attempts is not None
        assert [(p["attempt"], p["exit_status"], p["exit_value"]) for p in state.past_attempts] == [
            (1, "finished_regularly", 3),
            (2, "finished_regularly", 3),
        ]
        assert harness.scheduler.doubly_started == []


def test_success_on_the_second_attempt_runs_the_children() -> None:
    with EngineHarness(behaviour=fails_first_attempt) as harness:
        wf_id = harness.submit(chain(Job(["a"], name="a", attempts=2), "b"))
        harness.wait(wf_id)
        a_id, b_id = harness.ids(wf_id)
        assert harness.statuses(wf_id) == ["done", "done"]
        assert attempts_of(harness, a_id) == [1, 2]
        assert attempts_of(harness, b_id) == [1]
        state = harness.states(wf_id)[0]
        assert state.attempt == 2 and state.exit_value == 0
        assert state.past_attempts is not None and state.past_attempts[0]["exit_value"] == 1
        assert harness.service.workflow_status(wf_id) == "workflow_done"


def test_without_the_option_one_attempt_as_soma() -> None:
    with EngineHarness(behaviour=fails_first_attempt) as harness:
        wf_id = harness.submit(chain(Job(["a"], name="a"), "b"))
        harness.wait(wf_id)
        assert harness.statuses(wf_id) == ["failed", "failed"]
        assert attempts_of(harness, harness.ids(wf_id)[0]) == [1]
        assert harness.states(wf_id)[0].past_attempts is None


def test_resource_default_applies_and_a_job_can_override_it() -> None:
    with EngineHarness(behaviour=always_fails, default_attempts=2) as harness:
        wf_id = harness.submit(chain(Job(["a"], name="a"), "b"))
        harness.wait(wf_id)
        assert attempts_of(harness, harness.ids(wf_id)[0]) == [1, 2]
        wf_id = harness.submit(chain(Job(["a"], name="a", attempts=1), "b"))
        harness.wait(wf_id)
        assert attempts_of(harness, harness.ids(wf_id)[0]) == [1]


def test_workflow_default_applies_between_job_and_resource() -> None:
    with EngineHarness(behaviour=always_fails, default_attempts=2) as harness:
        workflow = chain(Job(["a"], name="a"), "b")
        workflow.attempts = 3
        wf_id = harness.submit(workflow)
        harness.wait(wf_id)
        assert attempts_of(harness, harness.ids(wf_id)[0]) == [1, 2, 3]


def test_a_job_the_user_stops_is_never_retried() -> None:
    with EngineHarness(behaviour=long_running) as harness:
        wf_id = harness.submit(chain(Job(["a"], name="a", attempts=5), "b"))
        harness.idle()
        a_id = harness.ids(wf_id)[0]
        harness.scheduler.finish(a_id, 1)  # attempt 1 fails: attempt 2 starts
        harness.idle()
        assert attempts_of(harness, a_id) == [1, 2]
        harness.service.stop_jobs(wf_id, [a_id])
        harness.wait(wf_id)
        assert attempts_of(harness, a_id) == [1, 2]
        assert harness.exits(wf_id) == ["killed_by_user", "aborted_before_running"]
        assert harness.states(wf_id)[0].attempt == 2


def test_stopping_the_workflow_during_retries_stops_them() -> None:
    with EngineHarness(behaviour=long_running) as harness:
        wf_id = harness.submit(chain(Job(["a"], name="a", attempts=5), "b"))
        harness.idle()
        a_id = harness.ids(wf_id)[0]
        harness.scheduler.finish(a_id, 1)
        harness.idle()
        harness.service.stop_workflow(wf_id)
        harness.wait(wf_id)
        assert attempts_of(harness, a_id) == [1, 2]
        assert harness.statuses(wf_id) == ["failed", "failed"]
        assert harness.exits(wf_id)[0] == "killed_by_user"


def test_restart_after_a_crash_keeps_the_attempt_counter() -> None:
    with EngineHarness(behaviour=long_running) as harness:
        wf_id = harness.submit(chain(Job(["a"], name="a", attempts=3), "b"))
        harness.idle()
        a_id = harness.ids(wf_id)[0]
        harness.scheduler.finish(a_id, 1)
        harness.idle()
        harness.restart_engine()  # attempt 2 is running: adopted, not resubmitted
        assert attempts_of(harness, a_id) == [1, 2]
        harness.scheduler.finish(a_id, 2)
        harness.idle()
        harness.restart_engine()
        harness.scheduler.finish(a_id, 3)
        harness.wait(wf_id)
        assert attempts_of(harness, a_id) == [1, 2, 3]
        state = harness.states(wf_id)[0]
        assert state.attempt == 3 and state.exit_value == 3
        assert state.past_attempts is not None
        assert [p["exit_value"] for p in state.past_attempts] == [1, 2]


def test_crash_after_the_retry_is_committed_but_before_its_end_is_acknowledged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The replayed end of attempt 1 is recognised: attempt 2 runs once, not skipped."""
    caplog.set_level(logging.CRITICAL, logger="swf.engine")
    with EngineHarness(behaviour=long_running) as harness:
        wf_id = harness.submit(chain(Job(["a"], name="a", attempts=3), "b"))
        harness.idle()
        a_id = harness.ids(wf_id)[0]
        scheduler = harness.scheduler

        def crash(job_ids: object) -> None:
            raise SimulatedCrash("power cut before the acknowledgement")

        scheduler.acknowledge = crash  # type: ignore[method-assign]
        scheduler.finish(a_id, 1)
        for _ in range(500):
            if not harness.engine.alive:
                break
            time.sleep(0.01)
        assert not harness.engine.alive
        assert harness.states(wf_id)[0].status.value == "not_submitted"
        assert harness.states(wf_id)[0].attempt == 2
        del scheduler.acknowledge
        harness.restart_engine()
        assert attempts_of(harness, a_id) == [1, 2]
        scheduler.finish(a_id, 0)
        harness.idle()
        scheduler.finish(harness.ids(wf_id)[1], 0)
        harness.wait(wf_id)
        assert harness.statuses(wf_id) == ["done", "done"]
        assert attempts_of(harness, a_id) == [1, 2]
        assert scheduler.doubly_started == []


def test_attempts_travel_in_the_document_and_are_checked() -> None:
    workflow = Workflow([Job(["a"], name="a", attempts=4), Job(["b"], name="b")], attempts=2)
    document = workflow_to_dict(workflow)
    assert document["attempts"] == 2
    assert workflow_from_dict(document).attempts == 2
    assert "attempts" not in workflow_to_dict(Workflow([Job(["a"])]))
    jobs = document["serialized_jobs"]
    assert [jobs[key].get("attempts") for key in ("0", "1")] == [4, None]
    back = workflow_from_dict(document)
    assert [job.attempts for job in back.jobs] == [4, None]
    with pytest.raises(JobArgumentError, match="attempts"):
        Job(["a"], attempts=0)
    with pytest.raises(WorkflowArgumentError, match="attempts"):
        Workflow([Job(["a"])], attempts=-1)


def test_stop_between_a_failed_attempt_and_the_next_one_runs_no_more() -> None:
    """The stop arrives in the tick that records the retry, before it is queued."""
    with EngineHarness(behaviour=long_running) as harness:
        wf_id = harness.submit(chain(Job(["a"], name="a", attempts=5), "b"))
        harness.idle()
        a_id = harness.ids(wf_id)[0]
        engine = harness.engine

        def fail_then_stop(tx: object) -> None:
            harness.scheduler.finish(a_id, 1)  # its end is queued in the inbox...
            stop = Command(lambda tick: engine.execution.stop_workflow(wf_id, tick))
            engine._inbox.put_command(stop)  # ...and the stop right after it

        engine.call(fail_then_stop)
        harness.wait(wf_id)
        assert attempts_of(harness, a_id) == [1]
        assert harness.exits(wf_id) == ["aborted_before_running", "aborted_before_running"]
        state = harness.states(wf_id)[0]
        assert state.attempt == 2
        assert state.past_attempts is not None and state.past_attempts[0]["exit_value"] == 1
