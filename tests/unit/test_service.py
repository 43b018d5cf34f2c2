"""EngineService: soma-workflow's WorkflowController semantics on the fakes."""

from __future__ import annotations

import itertools
import json
import time
from typing import Any

import pytest

from swf_app.engine import Engine
from swf_app.ports import LaunchRequest
from swf_app.service import EngineService
from swf_domain.errors import (
    EngineError,
    SerializationError,
    UnknownObjectError,
    WorkflowError,
)
from swf_domain.model import Job, Workflow
from swf_domain.serialization import workflow_from_dict, workflow_to_dict
from tests.app_fakes import EPOCH, EngineHarness, FakeOutcome


def job(name: str, **kwargs: Any) -> Job:
    return Job(["run", name], name=name, **kwargs)


def chain(*names: str) -> Workflow:
    jobs = [job(name) for name in names]
    return Workflow(jobs, dependencies=list(itertools.pairwise(jobs)))


def durations(table: dict[str, float | None], exits: dict[str, int] | None = None) -> Any:
    def behaviour(request: LaunchRequest) -> FakeOutcome:
        name = request.argv[1]
        return FakeOutcome(duration=table.get(name, 0.0), exit_value=(exits or {}).get(name, 0))

    return behaviour


# -- submission and queries --------------------------------------------------------------


def test_invalid_workflow_raises_and_persists_nothing() -> None:
    a, b = job("a"), job("b")
    cyclic = Workflow([a, b], dependencies=[(a, b), (b, a)])
    with EngineHarness() as harness:
        with pytest.raises(WorkflowError, match="cycle"):
            harness.submit(cyclic)
        assert harness.store.workflows() == []


def test_document_queries_and_shapes() -> None:
    with EngineHarness() as harness:
        wf_id = harness.submit(chain("a", "b"), name="mine", expiration_date=EPOCH + 100)
        harness.wait(wf_id)
        service = harness.service
        document = service.workflow_document(wf_id)
        assert document["job_ids"] == harness.ids(wf_id)
        rebuilt = workflow_from_dict(document)
        assert [j.name for j in rebuilt.jobs] == ["a", "b"]
        assert service.workflows() == {wf_id: ("mine", EPOCH + 100)}
        assert service.workflows([wf_id, 999]) == {wf_id: ("mine", EPOCH + 100)}
        a_id = harness.ids(wf_id)[0]
        assert service.job_status(a_id) == "done"
        assert service.job_termination_status(a_id) == ("finished_regularly", 0, None, None)
        assert service.job_files(a_id) == (
            f"/ws/jobs/{wf_id}/{a_id}.out",
            f"/ws/jobs/{wf_id}/{a_id}.err",
        )
        assert service.status_summary(wf_id) == {"done": 2}
        progress = service.workflow_elements_status(wf_id)
        assert progress.status == "workflow_done" and progress.queue is None
        first = progress.jobs[0]
        assert (first.job_id, first.status, first.queue) == (a_id, "done", None)
        assert first.termination == ("finished_regularly", 0, None, None)
        assert first.submitted == EPOCH
        batch = service.job_changes(wf_id)
        assert batch.jobs == progress.jobs and batch.status == "workflow_done"
        assert service.wait_changes(wf_id, batch.since, 0.05).jobs == []


def test_not_finished_job_termination_status_is_all_none() -> None:
    with EngineHarness(behaviour=durations({"a": None})) as harness:
        wf_id = harness.submit(chain("a"))
        harness.idle()
        assert harness.service.job_termination_status(harness.ids(wf_id)[0]) == (None,) * 4
        assert harness.service.workflow_status(wf_id) == "workflow_in_progress"


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.workflow_status(4242),
        lambda s: s.workflow_document(4242),
        lambda s: s.workflow_elements_status(4242),
        lambda s: s.status_summary(4242),
        lambda s: s.job_status(4242),
        lambda s: s.job_termination_status(4242),
        lambda s: s.job_files(4242),
        lambda s: s.read_job_output(4242),
        lambda s: s.job_changes(4242),
        lambda s: s.wait_changes(4242, None, 0),
        lambda s: s.get_job_output_params(4242),
        lambda s: s.stop_workflow(4242),
        lambda s: s.restart_workflow(4242),
        lambda s: s.delete_workflow(4242),
        lambda s: s.stop_jobs(4242, []),
        lambda s: s.restart_jobs(4242, []),
        lambda s: s.change_workflow_expiration_date(4242, None),
        lambda s: s.wait_workflow(4242, 0),
        lambda s: s.wait_job([4242], 0),
    ],
)
def test_unknown_ids_raise_unknown_object_error_naming_the_id(call: Any) -> None:
    with EngineHarness() as harness, pytest.raises(UnknownObjectError, match="4242"):
        call(harness.service)


def test_job_of_another_workflow_is_refused() -> None:
    with EngineHarness() as harness:
        first = harness.submit(chain("a"))
        second = harness.submit(chain("b"))
        with pytest.raises(UnknownObjectError, match="not a job of workflow"):
            harness.service.stop_jobs(first, harness.ids(second))


# -- waiting ------------------------------------------------------------------------------


def test_wait_times_out_while_running_then_returns_true() -> None:
    with EngineHarness(behaviour=durations({"a": 5.0})) as harness:
        wf_id = harness.submit(chain("a"))
        harness.idle()
        a_id = harness.ids(wf_id)[0]
        assert harness.service.wait_workflow(wf_id, timeout=0.05) is False
        assert harness.service.wait_job([a_id], timeout=0.05) is False
        harness.clock.advance(5.0)
        assert harness.service.wait_job([a_id], timeout=5) is True
        assert harness.service.wait_workflow(wf_id, timeout=5) is True


# -- stop / restart -------------------------------------------------------------------


def test_stop_kills_running_and_marks_the_rest_not_run_then_restart_runs_only_those() -> None:
    a, b, c, d = job("a"), job("b"), job("c"), job("d")
    workflow = Workflow([a, b, c, d], dependencies=[(a, b), (b, c)])
    behaviour = durations({"a": 1.0, "b": None, "d": 1.0})
    with EngineHarness(slots=2, behaviour=behaviour) as harness:
        wf_id = harness.submit(workflow)
        harness.advance(1.0)  # a and d done, b running
        a_id, b_id, c_id, d_id = harness.ids(wf_id)
        assert harness.statuses(wf_id) == ["done", "running", "not_submitted", "done"]
        assert harness.service.stop_workflow(wf_id) is True
        assert harness.statuses(wf_id) == ["done", "failed", "failed", "done"]
        assert harness.exits(wf_id)[1:3] == ["killed_by_user", "aborted_before_running"]
        assert harness.service.workflow_status(wf_id) == "workflow_done"
        harness.scheduler.behaviour = durations({})
        assert harness.service.restart_workflow(wf_id) is True
        harness.wait(wf_id)
        assert harness.statuses(wf_id) == ["done"] * 4
        assert harness.scheduler.started == [a_id, d_id, b_id, b_id, c_id]
        assert harness.service.restart_workflow(wf_id) is False  # nothing failed now


def test_stop_cancels_jobs_waiting_for_a_slot() -> None:
    jobs = [job(f"j{i}") for i in range(4)]
    with EngineHarness(slots=1, behaviour=durations({"j0": None})) as harness:
        wf_id = harness.submit(Workflow(jobs))
        harness.idle()
        assert harness.service.stop_workflow(wf_id)
        assert harness.exits(wf_id) == ["killed_by_user"] + ["aborted_before_running"] * 3
        assert len(harness.scheduler.started) == 1


def test_restart_while_running_restarts_failed_jobs_now() -> None:
    bad, slow, after_bad = job("bad"), job("slow"), job("after_bad")
    workflow = Workflow([bad, slow, after_bad], dependencies=[(bad, after_bad)])
    with EngineHarness(behaviour=durations({"slow": 10.0}, exits={"bad": 1})) as harness:
        wf_id = harness.submit(workflow)
        harness.idle()
        bad_id, slow_id, after_id = harness.ids(wf_id)
        assert harness.statuses(wf_id) == ["failed", "running", "failed"]
        harness.scheduler.behaviour = durations({"slow": 10.0})
        assert harness.service.restart_workflow(wf_id) is True
        harness.idle()
        assert harness.statuses(wf_id) == ["done", "running", "done"]
        assert harness.scheduler.started.count(slow_id) == 1
        harness.advance(10.0)
        harness.wait(wf_id)
        assert harness.scheduler.started == [bad_id, slow_id, bad_id, after_id]


def test_restart_of_a_finished_workflow_after_engine_restart() -> None:
    with EngineHarness(behaviour=durations({}, exits={"b": 2})) as harness:
        wf_id = harness.submit(chain("a", "b", "c"))
        harness.wait(wf_id)
        harness.restart_engine()  # the finished workflow is not in memory any more
        harness.scheduler.behaviour = durations({})
        assert harness.service.restart_workflow(wf_id, queue="short")
        harness.wait(wf_id)
        assert harness.statuses(wf_id) == ["done"] * 3
        assert [s.queue for s in harness.states(wf_id)] == [None, "short", "short"]
        assert harness.scheduler.submitted[-1].queue == "short"


def test_stop_jobs_and_restart_jobs() -> None:
    a, b, c, other = job("a"), job("b"), job("c"), job("other")
    workflow = Workflow([a, b, c, other], dependencies=[(a, b), (b, c)])
    with EngineHarness(behaviour=durations({"b": None, "other": None})) as harness:
        wf_id = harness.submit(workflow)
        harness.idle()
        a_id, b_id, c_id, other_id = harness.ids(wf_id)
        assert harness.service.stop_jobs(wf_id, [b_id]) is True
        assert harness.statuses(wf_id) == ["done", "failed", "failed", "running"]
        assert harness.exits(wf_id)[1:3] == ["killed_by_user", "aborted_before_running"]
        harness.scheduler.behaviour = durations({"other": None})
        # restarting "a" (DONE) takes its descendants along: b and c run again too
        assert harness.service.restart_jobs(wf_id, [a_id]) is True
        harness.idle()
        assert harness.statuses(wf_id) == ["done", "done", "done", "running"]
        assert harness.scheduler.started == [a_id, other_id, b_id, a_id, b_id, c_id]
        harness.scheduler.finish(other_id)
        harness.wait(wf_id)


def test_restart_jobs_of_a_finished_workflow_loads_it_once_and_reads_no_job_rows() -> None:
    """Restarting a group in a big finished workflow must cost the group, not the
    workflow several times: one load from the store, no row read per job named."""
    with EngineHarness(behaviour=durations({}, exits={"b": 2})) as harness:
        wf_id = harness.submit(chain("a", "b", "c"))
        harness.wait(wf_id)
        harness.restart_engine()  # the finished workflow is not in memory any more
        harness.scheduler.behaviour = durations({})
        store = harness.store
        reads: list[str] = []
        for name in ("jobs_of", "job"):
            original = getattr(store, name)
            setattr(store, name, _counting(reads, name, original))
        _, b_id, _ = harness.ids(wf_id)
        assert harness.service.restart_jobs(wf_id, [b_id]) is True
        harness.wait(wf_id)
        assert reads == ["jobs_of"]
        assert harness.statuses(wf_id) == ["done"] * 3


def _counting(reads: list[str], name: str, method: Any) -> Any:
    def counted(*args: Any) -> Any:
        reads.append(name)
        return method(*args)

    return counted


def test_restart_jobs_kills_a_running_job_first() -> None:
    with EngineHarness(behaviour=durations({"a": None})) as harness:
        wf_id = harness.submit(chain("a", "b"))
        harness.idle()
        a_id, b_id = harness.ids(wf_id)
        harness.scheduler.behaviour = durations({})
        assert harness.service.restart_jobs(wf_id, [a_id]) is True
        harness.wait(wf_id)
        assert harness.scheduler.killed == [a_id]
        assert harness.scheduler.started == [a_id, a_id, b_id]
        assert harness.statuses(wf_id) == ["done", "done"]


def test_stop_jobs_on_a_pending_job_keeps_it_from_running() -> None:
    with EngineHarness(behaviour=durations({"a": 1.0})) as harness:
        wf_id = harness.submit(chain("a", "b", "c"))
        harness.idle()
        a_id, b_id, _c_id = harness.ids(wf_id)
        harness.service.stop_jobs(wf_id, [b_id])
        harness.advance(1.0)
        harness.wait(wf_id)
        assert harness.statuses(wf_id) == ["done", "failed", "failed"]
        assert harness.exits(wf_id)[1:] == ["aborted_before_running"] * 2
        assert harness.scheduler.started == [a_id]


# -- delete, expiration -------------------------------------------------------------------


def test_delete_kills_and_forgets_everything() -> None:
    with EngineHarness(behaviour=durations({"a": None})) as harness:
        wf_id = harness.submit(chain("a", "b"))
        harness.idle()
        a_id = harness.ids(wf_id)[0]
        harness.workspace.append_text(f"/ws/jobs/{wf_id}/{a_id}.out", "hello")
        assert harness.service.delete_workflow(wf_id) is True
        harness.idle()
        assert harness.scheduler.killed == [a_id]
        assert a_id in harness.scheduler.acknowledged  # its late end was acknowledged
        assert harness.store.workflow(wf_id) is None
        assert not any(path.startswith(f"/ws/jobs/{wf_id}/") for path in harness.workspace.files)
        with pytest.raises(UnknownObjectError):
            harness.service.workflow_status(wf_id)
        assert harness.service.wait_workflow  # nothing left behind in the engine
        assert harness.engine.execution.runtimes == {}


def test_expiration_sweep_and_expiration_changes() -> None:
    with EngineHarness() as harness:
        short = harness.submit(chain("a"), expiration_date=EPOCH + 10)
        long = harness.submit(chain("b"), expiration_date=EPOCH + 1000)
        default = harness.submit(chain("c"))  # soma's default: expires in 7 days
        harness.wait(short)
        service = harness.service
        assert service.change_workflow_expiration_date(long, EPOCH - 1) is False
        assert service.change_workflow_expiration_date(long, EPOCH + 20) is True
        assert service.delete_expired_workflows() == []
        harness.clock.advance(15.0)
        assert service.delete_expired_workflows() == [short]
        harness.clock.advance(10.0)
        assert service.delete_expired_workflows() == [long]
        assert service.workflows() == {default: (None, EPOCH + 7 * 24 * 3600)}


def test_submitted_documents_round_trip_through_the_store() -> None:
    workflow = chain("x", "y")
    document = workflow_to_dict(workflow)
    with EngineHarness() as harness:
        wf_id = harness.service.submit_workflow(document, None, None, None)
        harness.wait(wf_id)
        stored = harness.service.workflow_document(wf_id)
        assert {k: v for k, v in stored.items() if k != "job_ids"} == document


def test_a_document_submitted_as_json_text_is_parsed_and_checked_alike() -> None:
    document = workflow_to_dict(chain("x", "y"))
    with EngineHarness() as harness:
        wf_id = harness.service.submit_workflow(json.dumps(document), None, None, None)
        harness.wait(wf_id)
        stored = harness.service.workflow_document(wf_id)
        assert {k: v for k, v in stored.items() if k != "job_ids"} == document
        with pytest.raises(SerializationError, match=r"submitted workflow document.*line 1"):
            harness.service.submit_workflow('{"jobs": [', None, None, None)
        a, b = job("a"), job("b")
        cyclic = json.dumps(workflow_to_dict(Workflow([a, b], dependencies=[(a, b), (b, a)])))
        with pytest.raises(WorkflowError, match="cycle"):
            harness.service.submit_workflow(cyclic, None, None, None)
        assert [row.workflow_id for row in harness.store.workflows()] == [wf_id]


def test_the_engine_timer_deletes_expired_workflows_by_itself() -> None:
    harness = EngineHarness()
    harness.engine = Engine(
        harness.store, harness.scheduler, harness.clock, harness.workspace, sweep_interval=0.02
    )
    harness.service = EngineService(harness.store, harness.engine, harness.clock, user="tester")
    with harness:
        wf_id = harness.submit(chain("a"), expiration_date=EPOCH + 10)
        harness.wait(wf_id)
        harness.clock.advance(20.0)  # the next timer wake-up (real 20 ms) sweeps
        deadline = time.monotonic() + 5
        while harness.store.workflow(wf_id) is not None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert harness.store.workflow(wf_id) is None


def test_shutdown_leaves_jobs_running_and_refuses_commands() -> None:
    with EngineHarness(behaviour=durations({"a": None})) as harness:
        wf_id = harness.submit(chain("a"))
        harness.idle()
        a_id = harness.ids(wf_id)[0]
        harness.service.shutdown()
        assert a_id in harness.scheduler.running and harness.scheduler.killed == []
        with pytest.raises(EngineError):
            harness.service.stop_workflow(wf_id)
        with pytest.raises(EngineError):
            harness.service.wait_workflow(wf_id)
        assert harness.service.job_status(a_id) == "running"  # queries still answer


@pytest.mark.parametrize("offset", [-1.0, 0.0, -86400.0, float("nan")])
def test_a_past_expiration_date_is_refused_at_submit(offset: float) -> None:
    """Issue 8: ``--expiration -1`` was accepted, then the sweep deleted the workflow."""
    with EngineHarness() as harness:
        with pytest.raises(WorkflowError, match=r"expiration date .* not in the future"):
            harness.submit(chain("a"), expiration_date=harness.clock.now() + offset)
        assert harness.store.workflows() == []
        assert harness.scheduler.started == []


def test_the_sweep_keeps_an_expired_workflow_until_it_ends() -> None:
    with EngineHarness(behaviour=durations({"a": 100.0})) as harness:
        wf_id = harness.submit(chain("a", "b"), expiration_date=EPOCH + 10)
        harness.advance(20.0)  # expired, "a" still running and "b" to run
        assert harness.service.delete_expired_workflows() == []
        assert harness.statuses(wf_id) == ["running", "not_submitted"]
        assert harness.scheduler.killed == []
        harness.advance(100.0)
        harness.wait(wf_id)
        assert harness.statuses(wf_id) == ["done", "done"]
        assert harness.service.delete_expired_workflows() == [wf_id]
        assert harness.store.workflow(wf_id) is None


def test_the_daemon_freezes_a_big_model_without_special_paths_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``freeze_kept_models`` (the daemon's setting): a submission of FREEZE_FROM_JOBS
    jobs or more, without special paths, is left out of later collections; a smaller one,
    one with a FileTransfer (its model holds cycles) or a user's process (the flag off)
    is not."""
    import swf_app.service as service_module
    from swf_domain.model import FileTransfer

    frozen: list[int] = []
    monkeypatch.setattr(service_module, "FREEZE_FROM_JOBS", 3)
    monkeypatch.setattr(service_module, "freeze_survivors", lambda: frozen.append(1))
    transfer = FileTransfer(True, "/tmp/x", name="x")
    with_paths = Workflow(
        [Job(["run", transfer], referenced_input_files=[transfer], name=f"t{i}") for i in range(3)]
    )
    with EngineHarness() as harness:
        harness.service.submit_workflow(workflow_to_dict(chain("a", "b", "c")), None, None, None)
        assert frozen == []  # a user's process: never
        harness.service.freeze_kept_models = True
        harness.service.submit_workflow(workflow_to_dict(chain("a", "b")), None, None, None)
        assert frozen == []  # too small
        harness.service.submit_workflow(workflow_to_dict(with_paths), None, None, None)
        assert frozen == []  # cycles: would never be freed
        harness.service.submit_workflow(workflow_to_dict(chain("a", "b", "c")), None, None, None)
        assert frozen == [1]
