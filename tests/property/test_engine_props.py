"""Random workflows, failures, stops, restarts and crashes against the engine's promises.

On the fake scheduler (virtual time), each example builds a random DAG whose jobs take
0-2 virtual seconds and fail on some runs, then plays a random script of clock moves,
stop_workflow, restart_workflow, stop_jobs, restart_jobs and engine crashes (clean ones
between ticks, and dirty ones where the store refuses a tick's transaction). Checked:

- no job starts before all its parents' last runs succeeded (so descendants of a
  failure never run), and no job is started while it already runs;
- a job whose last run succeeded starts again only when restart_jobs asked for it or
  for one of its ancestors (so restart_workflow reruns only failed / not-run jobs, and
  no crash makes a finished job run again);
- after every step, the store's job statuses equal the engine's view;
- at the end every job is terminal (DONE or FAILED) and the workflow is DONE.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from swf_app.engine import Engine
from swf_app.ports import LaunchRequest
from swf_domain.errors import EngineError
from swf_domain.model import Job, Workflow
from swf_domain.ready import NodeState
from swf_domain.status import JobStatus
from tests.app_fakes import EngineHarness, FakeOutcome, SimulatedCrash

logging.getLogger("swf.engine").setLevel(logging.CRITICAL)


@dataclass(frozen=True)
class Plan:
    count: int
    edges: list[tuple[int, int]]
    durations: list[int]
    #: exit values of each job's successive runs (missing runs succeed)
    exits: list[list[int]]
    script: list[tuple[str, Any]]


@st.composite
def plans(draw: st.DrawFn) -> Plan:
    count = draw(st.integers(1, 9))
    pairs = [(i, j) for j in range(count) for i in range(j)]
    edges = draw(st.lists(st.sampled_from(pairs), unique=True, max_size=14)) if pairs else []
    durations = draw(st.lists(st.integers(0, 2), min_size=count, max_size=count))
    exits = draw(
        st.lists(st.lists(st.sampled_from([0, 0, 1]), max_size=3), min_size=count, max_size=count)
    )
    subset = st.lists(st.integers(0, count - 1), min_size=1, max_size=3, unique=True)
    step = st.one_of(
        st.tuples(st.just("advance"), st.integers(1, 2)),
        st.tuples(st.just("stop_workflow"), st.none()),
        st.tuples(st.just("restart_workflow"), st.none()),
        st.tuples(st.just("stop_jobs"), subset),
        st.tuples(st.just("restart_jobs"), subset),
        st.tuples(st.just("clean_crash"), st.none()),
        st.tuples(st.just("dirty_crash"), st.integers(1, 3)),
    )
    script = draw(st.lists(step, max_size=8))
    return Plan(count, edges, durations, exits, script)


@dataclass
class Referee:
    """Watches every start the scheduler sees and records broken promises."""

    plan: Plan
    harness: EngineHarness | None = None
    exits: list[list[int]] = field(default_factory=list)
    ids: list[int] = field(default_factory=list)
    runs: dict[int, int] = field(default_factory=dict)
    #: Jobs restart_jobs allowed to run again although their last run succeeded.
    rerun_allowed: set[int] = field(default_factory=set)
    violations: list[str] = field(default_factory=list)

    def parents(self, index: int) -> list[int]:
        return [i for i, j in self.plan.edges if j == index]

    def descendants(self, indices: list[int]) -> set[int]:
        found, stack = set(indices), list(indices)
        while stack:
            node = stack.pop()
            for i, j in self.plan.edges:
                if i == node and j not in found:
                    found.add(j)
                    stack.append(j)
        return found

    def behaviour(self, request: LaunchRequest) -> FakeOutcome:
        assert self.harness is not None
        scheduler = self.harness.scheduler
        index = self.ids.index(request.job_id)
        for parent in self.parents(index):
            end = scheduler.last_end.get(self.ids[parent])
            if (
                self.ids[parent] in scheduler.running
                or end is None
                or end.status is not JobStatus.DONE
            ):
                self.violations.append(f"job {index} started before parent {parent} succeeded")
        last = scheduler.last_end.get(request.job_id)
        if last is not None and last.status is JobStatus.DONE and index not in self.rerun_allowed:
            self.violations.append(f"job {index} ran again after succeeding")
        self.rerun_allowed.discard(index)
        run = self.runs.get(index, 0)
        self.runs[index] = run + 1
        exits = self.exits[index]
        exit_value = exits[run] if run < len(exits) else 0
        return FakeOutcome(duration=float(self.plan.durations[index]), exit_value=exit_value)


def engine_view(engine: Engine) -> dict[int, str]:
    """Each loaded job's status as the engine sees it, taken on the engine thread."""

    def snapshot(tx: Any) -> dict[int, str]:
        view: dict[int, str] = {}
        for runtime in engine.execution.runtimes.values():
            for index in range(len(runtime.compiled.jobs)):
                state = runtime.tracker.state(index)
                if state is NodeState.RUNNING:
                    active = runtime.active.get(index)
                    status = active.state.status.value if active else "not_submitted"
                elif state is NodeState.DONE:
                    status = "done"
                elif state in (NodeState.FAILED, NodeState.ABORTED):
                    status = "failed"
                else:
                    status = "not_submitted"
                view[runtime.job_ids.id_of(index)] = status
        return view

    result: dict[int, str] = engine.call(snapshot)
    return result


def check_store_matches_engine(harness: EngineHarness, wf_id: int) -> None:
    harness.idle()
    view = engine_view(harness.engine)
    stored = dict(zip(harness.ids(wf_id), harness.statuses(wf_id), strict=True))
    if not any(job_id in view for job_id in stored):  # finished and unloaded
        assert set(stored.values()) <= {"done", "failed"}, stored
        assert harness.service.workflow_status(wf_id) == "workflow_done"
        return
    assert {job_id: view[job_id] for job_id in stored} == stored


def play(harness: EngineHarness, referee: Referee, wf_id: int, step: tuple[str, Any]) -> None:
    action, argument = step
    service = harness.service
    ids = referee.ids
    if action == "advance":
        harness.advance(float(argument))
    elif action == "stop_workflow":
        service.stop_workflow(wf_id)
    elif action == "restart_workflow":
        service.restart_workflow(wf_id)
    elif action == "stop_jobs":
        service.stop_jobs(wf_id, [ids[i] for i in argument])
    elif action == "restart_jobs":
        referee.rerun_allowed |= referee.descendants(list(argument))
        service.restart_jobs(wf_id, [ids[i] for i in argument])
    elif action == "clean_crash":
        harness.restart_engine()
    elif action == "dirty_crash":
        harness.store.crash_on_apply = harness.store.apply_count + argument
        with contextlib.suppress(SimulatedCrash, EngineError):
            for _ in range(6):
                harness.advance(1.0)
        harness.store.crash_on_apply = None
        harness.restart_engine()


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(plans())
def test_engine_keeps_its_promises(plan: Plan) -> None:
    referee = Referee(plan, exits=[list(runs) for runs in plan.exits])
    harness = EngineHarness(slots=2, behaviour=referee.behaviour)
    referee.harness = harness
    jobs = [Job(["run", f"j{i}"], name=f"j{i}") for i in range(plan.count)]
    workflow = Workflow(jobs, dependencies=[(jobs[i], jobs[j]) for i, j in plan.edges])
    with harness:
        wf_id = harness.submit(workflow)
        referee.ids = harness.ids(wf_id)
        harness.idle()
        for step in plan.script:
            play(harness, referee, wf_id, step)
            check_store_matches_engine(harness, wf_id)
        for _ in range(4 * plan.count + 4):
            if harness.service.workflow_status(wf_id) == "workflow_done":
                break
            harness.advance(1.0)
        assert harness.service.wait_workflow(wf_id, timeout=5)
        check_store_matches_engine(harness, wf_id)
        assert set(harness.statuses(wf_id)) <= {"done", "failed"}
        # a last restart with nothing failing any more ends with every job done
        referee.exits = [[] for _ in range(plan.count)]
        harness.service.restart_workflow(wf_id)
        for _ in range(4 * plan.count + 4):
            if harness.service.workflow_status(wf_id) == "workflow_done":
                break
            harness.advance(1.0)
        assert harness.service.wait_workflow(wf_id, timeout=5)
        assert harness.statuses(wf_id) == ["done"] * plan.count
    assert referee.violations == []
    assert harness.scheduler.doubly_started == []
