"""Property tests of DAG validation and of the ready-set tracker on random workflows.

Random DAGs are drawn as edges between jobs ``i < j`` of a hidden order, then relabelled
by a random permutation, so neither the listing order nor the dependency order gives
the answer away. Cycles are made by adding one edge from a job back to one of its
ancestors.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from swf_domain.errors import WorkflowError
from swf_domain.graph import compile_workflow, find_cycle, find_cycles, topological_order
from swf_domain.model import Job, Workflow
from swf_domain.ready import NodeState, ReadyTracker
from swf_domain.validation import find_problems, validate

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@dataclass
class Dag:
    size: int
    edges: list[tuple[int, int]]  # (parent, child) by job index; may repeat

    def parents(self) -> list[set[int]]:
        found: list[set[int]] = [set() for _ in range(self.size)]
        for parent, child in self.edges:
            found[child].add(parent)
        return found

    def children(self) -> list[set[int]]:
        found: list[set[int]] = [set() for _ in range(self.size)]
        for parent, child in self.edges:
            found[parent].add(child)
        return found

    def workflow(self) -> Workflow:
        jobs = [Job(["true"], name=f"j{index}") for index in range(self.size)]
        return Workflow(jobs, [(jobs[parent], jobs[child]) for parent, child in self.edges])


@st.composite
def dags(draw: st.DrawFn, max_size: int = 300) -> Dag:
    size = draw(st.integers(min_value=1, max_value=max_size))
    hidden = draw(st.permutations(range(size)))
    pairs = draw(
        st.lists(
            st.tuples(st.integers(0, size - 1), st.integers(0, size - 1)),
            max_size=min(3 * size, 600),
        )
    )
    edges = [
        (hidden[min(a, b)], hidden[max(a, b)]) for a, b in pairs if a != b
    ]  # parent before child in the hidden order: acyclic
    return Dag(size, edges)


def reachable(children: list[set[int]], start: int) -> set[int]:
    """Jobs reachable from ``start`` by one edge or more."""
    seen: set[int] = set()
    queue = deque(children[start])
    while queue:
        node = queue.popleft()
        if node not in seen:
            seen.add(node)
            queue.extend(children[node])
    return seen


@st.composite
def cyclic_dags(draw: st.DrawFn) -> Dag:
    dag = draw(dags())
    children = dag.children()
    start = draw(st.integers(0, dag.size - 1))
    below = sorted(reachable(children, start))
    end = draw(st.sampled_from(below)) if below else start  # no descendant: a self-loop
    return Dag(dag.size, [*dag.edges, (end, start)])


def named_cycle(message: str) -> list[int]:
    """Job indices named by ``cycle: 'j1' -> 'j4' -> 'j1'``."""
    assert message.startswith("cycle: ")
    names = message.removeprefix("cycle: ").split(" -> ")
    return [int(name.strip("'").removeprefix("j")) for name in names]


def assert_real_cycle(dag: Dag, cycle: list[int]) -> None:
    edges = set(dag.edges)
    assert cycle, "an empty cycle"
    assert len(set(cycle)) == len(cycle), f"a job repeats in {cycle}"
    for parent, child in zip(cycle, [*cycle[1:], cycle[0]], strict=True):
        assert (parent, child) in edges, f"{parent} -> {child} is not an edge of {cycle}"


# -- validation -----------------------------------------------------------------------


@SETTINGS
@given(dags())
def test_every_acyclic_workflow_is_valid(dag: Dag) -> None:
    workflow = dag.workflow()
    assert find_problems(workflow) == []
    compiled = validate(workflow)
    assert [set(parents) for parents in compiled.parents] == dag.parents()
    assert all(len(set(parents)) == len(parents) for parents in compiled.parents)
    assert all(len(set(children)) == len(children) for children in compiled.children)
    assert [set(c) for c in compiled.children] == dag.children()
    assert find_cycle(compiled) is None


@SETTINGS
@given(cyclic_dags())
def test_every_cyclic_workflow_is_rejected_naming_a_real_cycle(dag: Dag) -> None:
    workflow = dag.workflow()
    with pytest.raises(WorkflowError) as error:
        validate(workflow)
    assert str(error.value).startswith("cycle: ")
    problems = find_problems(workflow)
    assert problems and all(problem.culprit == "cycle" for problem in problems)
    for problem in problems:
        named = named_cycle(problem.message)
        assert named[0] == named[-1]
        assert_real_cycle(dag, named[:-1])
    compiled = compile_workflow(workflow)
    one = find_cycle(compiled)
    assert one is not None
    assert_real_cycle(dag, one)
    assert one[0] == min(one)
    for cycle in find_cycles(compiled):
        assert_real_cycle(dag, cycle)
    with pytest.raises(WorkflowError, match=r"^cycle: "):
        topological_order(compiled)


@SETTINGS
@given(dags())
def test_topological_order_respects_every_edge(dag: Dag) -> None:
    order = topological_order(compile_workflow(dag.workflow()))
    assert sorted(order) == list(range(dag.size))
    rank = {job: position for position, job in enumerate(order)}
    for parent, child in dag.edges:
        assert rank[parent] < rank[child]


# -- the tracker ----------------------------------------------------------------------


class Driver:
    """Drives a tracker like an engine would, checking invariants after every event."""

    def __init__(self, dag: Dag, tracker: ReadyTracker | None = None) -> None:
        self.dag = dag
        self.parents = dag.parents()
        self.children = dag.children()
        # packed, as the engine keeps it (RunningWorkflow's lean copy)
        compiled = compile_workflow(dag.workflow()).compacted(keep_index=False)
        self.tracker = tracker or ReadyTracker(compiled.parents, compiled.children)
        self.compiled = compiled
        self.running: list[int] = []
        self.ever_run: set[int] = set()

    def states(self) -> list[NodeState]:
        return [self.tracker.state(job) for job in range(self.dag.size)]

    def take(self) -> None:
        states = self.states()
        taken = self.tracker.take_ready()
        for job in taken:
            assert states[job] is NodeState.READY
            assert all(states[parent] is NodeState.DONE for parent in self.parents[job]), (
                f"job {job} released before all its parents were DONE"
            )
        self.running.extend(taken)
        self.ever_run.update(taken)

    def end(self, position: int, success: bool) -> None:
        job = self.running.pop(position)
        if success:
            self.tracker.succeeded(job)
            return
        before = self.states()
        aborted = self.tracker.failed(job)
        expected = {
            node
            for node in reachable(self.children, job)
            if before[node] in (NodeState.PENDING, NodeState.READY)
        }
        assert set(aborted) == expected
        assert len(aborted) == len(expected)

    def restart(self, jobs: list[int]) -> None:
        before = self.states()
        brought_back = self.tracker.restart(jobs)
        after = self.states()
        assert len(set(brought_back)) == len(brought_back)
        assert set(brought_back) == {
            job
            for job, (old, new) in enumerate(zip(before, after, strict=True))
            if old in (NodeState.FAILED, NodeState.ABORTED)
            and new in (NodeState.PENDING, NodeState.READY)
        }
        for job, (old, new) in enumerate(zip(before, after, strict=True)):
            if old in (NodeState.DONE, NodeState.RUNNING, NodeState.READY):
                assert new is old, f"restart touched job {job} ({old.name})"

    def check(self) -> None:
        states = self.states()
        counts = dict.fromkeys(NodeState, 0)
        for state in states:
            counts[state] += 1
        assert self.tracker.counts() == counts
        blocked = {
            job
            for job, state in enumerate(states)
            if state in (NodeState.FAILED, NodeState.ABORTED)
        }
        below_failed: set[int] = set()
        for job in blocked:
            if states[job] is NodeState.FAILED:
                below_failed |= reachable(self.children, job)
        for job, state in enumerate(states):
            if state in (NodeState.READY, NodeState.RUNNING, NodeState.DONE):
                assert all(states[p] is NodeState.DONE for p in self.parents[job])
            if state is NodeState.READY:
                assert job not in below_failed
            if state is NodeState.PENDING:
                assert job not in below_failed, f"job {job} waits below a failure"
                assert any(states[p] is not NodeState.DONE for p in self.parents[job]), (
                    f"job {job} is PENDING with every parent DONE"
                )
            if state is NodeState.ABORTED:
                assert job in below_failed, f"job {job} ABORTED with no FAILED ancestor"

    def check_final(self) -> None:
        states = self.states()
        assert self.tracker.is_finished()
        assert all(
            state in (NodeState.DONE, NodeState.FAILED, NodeState.ABORTED) for state in states
        )
        failed = [job for job, state in enumerate(states) if state is NodeState.FAILED]
        descendants: set[int] = set()
        for job in failed:
            descendants |= reachable(self.children, job)
        aborted = {job for job, state in enumerate(states) if state is NodeState.ABORTED}
        assert aborted == descendants
        # every job whose ancestors all succeeded was released and ran
        for job, state in enumerate(states):
            if all(states[p] is NodeState.DONE for p in self.parents[job]):
                assert state in (NodeState.DONE, NodeState.FAILED)
                assert job in self.ever_run


@SETTINGS
@given(dags(max_size=120), st.data())
def test_tracker_under_random_completions_failures_and_restarts(
    dag: Dag, data: st.DataObject
) -> None:
    driver = Driver(dag)
    restarts_left = data.draw(st.integers(0, 4), label="restarts")
    failure_rate = data.draw(st.sampled_from([0.0, 0.05, 0.3]), label="failure rate")
    steps = 0
    while not driver.tracker.is_finished():
        steps += 1
        assert steps < 20 * dag.size + 100, "the tracker does not converge"
        driver.take()
        driver.check()
        if driver.running:
            position = data.draw(st.integers(0, len(driver.running) - 1), label="ends")
            fails = data.draw(st.floats(0, 1), label="draw") < failure_rate
            driver.end(position, success=not fails)
            driver.check()
        if restarts_left and data.draw(st.integers(0, 9), label="restart now?") == 0:
            restarts_left -= 1
            chosen = data.draw(
                st.lists(st.integers(0, dag.size - 1), max_size=dag.size // 2 + 1),
                label="restart set",
            )
            driver.restart(chosen)
            driver.check()
    driver.check_final()


@SETTINGS
@given(dags(max_size=120), st.data())
def test_a_tracker_resumed_from_its_states_behaves_the_same(dag: Dag, data: st.DataObject) -> None:
    driver = Driver(dag)
    for _ in range(data.draw(st.integers(0, 2 * dag.size), label="events before resume")):
        driver.take()
        if not driver.running:
            break
        position = data.draw(st.integers(0, len(driver.running) - 1))
        driver.end(position, success=data.draw(st.booleans()))
    states = driver.states()
    resumed = ReadyTracker(driver.compiled.parents, driver.compiled.children, states)
    assert resumed.aborted == []  # the original already aborted everything it had to
    assert [resumed.state(job) for job in range(dag.size)] == states
    assert resumed.counts() == driver.tracker.counts()
    assert sorted(resumed.take_ready()) == sorted(driver.tracker.take_ready())
    assert resumed.counts() == driver.tracker.counts()


@SETTINGS
@given(dags(max_size=120), st.data())
def test_a_tracker_resumed_from_a_torn_store_aborts_what_it_must(
    dag: Dag, data: st.DataObject
) -> None:
    """States written between a failure and its aborts: resuming completes the aborts."""
    raw = data.draw(
        st.lists(
            st.sampled_from([NodeState.PENDING, NodeState.FAILED]),
            min_size=dag.size,
            max_size=dag.size,
        )
    )
    parents, children = dag.parents(), dag.children()
    compiled = compile_workflow(dag.workflow())
    track = ReadyTracker(compiled.parents, compiled.children, raw)
    failed = {job for job, state in enumerate(raw) if state is NodeState.FAILED}
    below = set().union(*(reachable(children, job) for job in failed)) - failed
    assert set(track.aborted) == below
    for job in range(dag.size):
        if job in below:
            assert track.state(job) is NodeState.ABORTED
        elif job not in failed:
            expected = NodeState.READY if not parents[job] else NodeState.PENDING
            assert track.state(job) is expected
