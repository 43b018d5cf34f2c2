"""Compiling a workflow to index lists, its topological order and its cycles."""

from __future__ import annotations

import gc
from itertools import pairwise

import pytest

from swf_domain.errors import WorkflowError
from swf_domain.graph import (
    Adjacency,
    CompiledWorkflow,
    compile_collecting,
    compile_workflow,
    cycle_message,
    find_cycle,
    find_cycles,
    topological_order,
)
from swf_domain.model import Group, Job, Workflow


def jobs(*names: str) -> list[Job]:
    return [Job(["echo", name], name=name) for name in names]


def test_compile_indexes_jobs_in_workflow_order() -> None:
    a, b, c = jobs("a", "b", "c")
    compiled = compile_workflow(Workflow([a, b, c], [(a, c), (b, c)]))
    assert compiled.jobs == [a, b, c]
    assert compiled.index == {a: 0, b: 1, c: 2}
    assert compiled.parents == [[], [], [0, 1]]
    assert compiled.children == [[2], [2], []]


def test_index_is_by_identity_not_by_equal_content() -> None:
    first, second = Job(["same"], name="same"), Job(["same"], name="same")
    compiled = compile_workflow(Workflow([first, second], [(first, second)]))
    assert compiled.index[first] == 0 and compiled.index[second] == 1
    assert compiled.parents == [[], [0]]


def test_repeated_dependencies_give_one_edge() -> None:
    a, b = jobs("a", "b")
    workflow = Workflow([a, b], [(a, b), (a, b)])
    workflow.dependencies = [(a, b), (a, b), (a, b)]  # also past the model's own dedup
    compiled = compile_workflow(workflow)
    assert compiled.parents == [[], [0]]
    assert compiled.children == [[1], []]


def test_group_dependencies_compile_through_their_hubs() -> None:
    a, b, c = jobs("a", "b", "c")
    group = Group([b, c], name="g")
    workflow = Workflow([a, b, c], [(a, group)], root_group=[a, group])
    compiled = compile_workflow(workflow)
    hub_in = next(i for i, job in enumerate(compiled.jobs) if job.name == "g_input")
    assert compiled.parents[hub_in] == [0]
    assert sorted(compiled.children[hub_in]) == [1, 2]


def test_unknown_child_in_a_dependency_is_named_with_its_number() -> None:
    a, b, stranger = jobs("a", "b", "stranger")
    workflow = Workflow([a, b], [(a, b), (b, stranger)])
    with pytest.raises(WorkflowError) as error:
        compile_workflow(workflow)
    assert str(error.value) == (
        "dependency #2 (job 'b' -> job 'stranger'): job 'stranger' is not in workflow.jobs"
    )


def test_both_unknown_ends_are_named() -> None:
    a, x, y = jobs("a", "x", "y")
    with pytest.raises(WorkflowError, match=r"job 'x' and job 'y' are not in workflow.jobs"):
        compile_workflow(Workflow([a], [(x, y)]))


def test_a_dependency_that_is_not_a_pair_is_named() -> None:
    a, b = jobs("a", "b")
    workflow = Workflow([a, b], [(a, b)])
    workflow.dependencies = [(a, b), (a,)]  # type: ignore[list-item]
    with pytest.raises(WorkflowError, match=r"dependency #2 is \(<Job 'a'>,\), not a"):
        compile_workflow(workflow)


def test_a_job_listed_twice_is_named_with_both_positions() -> None:
    a, b = jobs("a", "b")
    with pytest.raises(WorkflowError) as error:
        compile_workflow(Workflow([a, b, a]))
    assert str(error.value) == "job 'a' is listed twice in workflow.jobs (positions 0 and 2)"


def test_something_else_than_a_job_in_jobs_is_named() -> None:
    (a,) = jobs("a")
    workflow = Workflow([a])
    workflow.jobs.append("oops")  # type: ignore[arg-type]
    with pytest.raises(WorkflowError, match=r"workflow.jobs\[1\] is a str, not a Job"):
        compile_workflow(workflow)


def test_collecting_compile_reports_every_problem_and_keeps_the_good_edges() -> None:
    a, b, c, stranger = jobs("a", "b", "c", "stranger")
    workflow = Workflow([a, b, c, a], [(a, b), (stranger, c), (b, c)])
    found: list[tuple[str, str]] = []
    compiled = compile_collecting(
        workflow, lambda culprit, message: found.append((culprit, message))
    )
    assert [culprit for culprit, _ in found] == ["job 'a'", "dependency #2"]
    assert compiled.parents == [[], [0], [1], []]
    assert compiled.index == {a: 0, b: 1, c: 2}


def test_topological_order_puts_parents_first_deterministically() -> None:
    a, b, c, d = jobs("a", "b", "c", "d")
    compiled = compile_workflow(Workflow([d, c, b, a], [(a, b), (b, c), (a, d)]))
    # indices: d=0, c=1, b=2, a=3
    assert topological_order(compiled) == [3, 2, 0, 1]  # b released before d


def test_topological_order_of_an_empty_workflow() -> None:
    assert topological_order(compile_workflow(Workflow([]))) == []


def test_topological_order_names_the_cycle() -> None:
    a, b, c, d = jobs("a", "b", "c", "d")
    compiled = compile_workflow(Workflow([d, a, b, c], [(a, b), (b, c), (c, a), (c, d)]))
    with pytest.raises(WorkflowError) as error:
        topological_order(compiled)
    assert str(error.value) == "cycle: 'a' -> 'b' -> 'c' -> 'a'"


def test_find_cycle_starts_with_the_first_listed_job_of_the_cycle() -> None:
    a, b, c, root = jobs("a", "b", "c", "root")
    compiled = compile_workflow(Workflow([root, c, a, b], [(root, a), (a, b), (b, c), (c, a)]))
    # indices: root=0, c=1, a=2, b=3; the cycle is a -> b -> c -> a, c listed first
    assert find_cycle(compiled) == [1, 2, 3]


def test_find_cycle_is_none_for_a_dag() -> None:
    a, b, c = jobs("a", "b", "c")
    assert find_cycle(compile_workflow(Workflow([a, b, c], [(a, b), (a, c), (b, c)]))) is None


def test_a_self_dependency_is_a_cycle_of_one_job() -> None:
    (a,) = jobs("a")
    compiled = compile_workflow(Workflow([a], [(a, a)]))
    assert find_cycle(compiled) == [0]
    assert cycle_message(compiled.jobs, [0]) == "cycle: 'a' -> 'a'"


def test_find_cycles_names_independent_cycles_once_each() -> None:
    a, b, c, d, e = jobs("a", "b", "c", "d", "e")
    workflow = Workflow([a, b, c, d, e], [(a, b), (b, a), (b, c), (c, d), (d, c), (d, e)])
    assert find_cycles(compile_workflow(workflow)) == [[0, 1], [2, 3]]


def test_find_cycles_skips_what_only_sits_below_a_cycle() -> None:
    a, b, c, d = jobs("a", "b", "c", "d")
    workflow = Workflow([a, b, c, d], [(a, b), (b, a), (b, c), (c, d)])
    assert find_cycles(compile_workflow(workflow)) == [[0, 1]]


def test_unnamed_jobs_are_named_by_position_in_cycles() -> None:
    first, second = Job([]), Job([])
    compiled = compile_workflow(Workflow([first, second], [(first, second), (second, first)]))
    cycle = find_cycle(compiled)
    assert cycle is not None
    assert cycle_message(compiled.jobs, cycle) == (
        "cycle: <unnamed job at jobs[0]> -> <unnamed job at jobs[1]> -> <unnamed job at jobs[0]>"
    )


def test_a_long_chain_needs_no_recursion() -> None:
    chain = [Job(["true"], name=f"j{i}") for i in range(50_000)]
    workflow = Workflow(chain, list(pairwise(chain)))
    compiled = compile_workflow(workflow)
    assert topological_order(compiled) == list(range(50_000))
    workflow.dependencies = [*(workflow.dependencies or []), (chain[-1], chain[0])]
    compiled = compile_workflow(workflow)
    assert find_cycle(compiled) == list(range(50_000))
    assert find_cycles(compiled) == [list(range(50_000))]


def test_two_cycles_sharing_a_job_are_one_knot_named_once() -> None:
    a, b, c = jobs("a", "b", "c")
    workflow = Workflow([a, b, c], [(a, b), (b, a), (b, c), (c, b)])
    (cycle,) = find_cycles(compile_workflow(workflow))
    assert cycle in ([0, 1], [1, 2])


def test_compiled_workflow_is_a_plain_dataclass() -> None:
    compiled = CompiledWorkflow(jobs=[], index={}, parents=[], children=[])
    assert compiled.parents == [] and find_cycle(compiled) is None


def test_compiling_leaves_the_garbage_collector_as_it_found_it() -> None:
    a, stranger = jobs("a", "stranger")
    was_enabled = gc.isenabled()
    try:
        gc.enable()
        compile_workflow(Workflow([a]))
        assert gc.isenabled()
        with pytest.raises(WorkflowError):
            compile_workflow(Workflow([a], [(a, stranger)]))
        assert gc.isenabled()
        gc.disable()
        compile_workflow(Workflow([a]))
        assert not gc.isenabled()
    finally:
        if was_enabled:
            gc.enable()
        else:
            gc.disable()


def test_adjacency_holds_the_same_lists_packed() -> None:
    lists = [[1, 2], [], [0], [5, 3, 4], []]
    packed = Adjacency.of(lists)
    assert len(packed) == len(lists)
    assert [list(entries) for entries in packed] == lists
    assert [list(packed[i]) for i in range(len(lists))] == lists
    assert list(packed[-2]) == [5, 3, 4]
    assert [list(entries) for entries in packed[1:4]] == lists[1:4]
    assert packed.lengths() == [2, 0, 1, 3, 0]
    assert Adjacency.of(packed) is packed
    assert packed.nbytes() == 8 * 6 + 4 * 6


def test_an_empty_adjacency() -> None:
    packed = Adjacency.of([])
    assert len(packed) == 0 and list(packed) == [] and packed.lengths() == []


def test_compacted_keeps_the_dag_and_drops_the_index_unless_asked() -> None:
    a, b, c = Job(["a"], name="a"), Job(["b"], name="b"), Job(["c"], name="c")
    compiled = compile_workflow(Workflow([a, b, c], dependencies=[(a, b), (a, c), (b, c)]))
    lean = compiled.compacted(keep_index=False)
    assert lean.jobs is compiled.jobs and lean.index == {}
    assert [list(p) for p in lean.parents] == compiled.parents
    assert [list(c) for c in lean.children] == compiled.children
    assert compiled.compacted(keep_index=True).index == compiled.index
    assert topological_order(lean) == topological_order(compiled)
