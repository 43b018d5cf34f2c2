"""Validation: every problem of a workflow, each naming its culprit, with typed errors."""

from __future__ import annotations

import re
import warnings
from typing import Any

import pytest

from swf_domain.errors import (
    JobError,
    JobValidationIssue,
    WorkflowError,
    WorkflowValidationError,
)
from swf_domain.job_rules import UnfilledPlaceholderWarning
from swf_domain.model import BarrierJob, Group, Job, Workflow
from swf_domain.validation import JobValidationError, Problem, find_problems, validate


def jobs(*names: str) -> list[Job]:
    return [Job(["echo", name], name=name) for name in names]


def messages(workflow: Workflow) -> list[str]:
    return [problem.message for problem in find_problems(workflow)]


# -- valid workflows ------------------------------------------------------------------


def test_a_valid_workflow_has_no_problem_and_validates_to_its_dag() -> None:
    a, b, c = jobs("a", "b", "c")
    workflow = Workflow([a, b, c], [(a, b), (b, c)], root_group=[a, Group([b, c], name="g")])
    assert find_problems(workflow) == []
    compiled = validate(workflow)
    assert compiled.jobs == [a, b, c]
    assert compiled.parents == [[], [0], [1]]


def test_barrier_jobs_are_valid() -> None:
    a, b = jobs("a", "b")
    hub = BarrierJob(name="hub")
    workflow = Workflow([a, hub, b], [(a, hub), (hub, b)])
    assert find_problems(workflow) == []


def test_an_empty_workflow_is_valid() -> None:
    assert validate(Workflow([])).jobs == []


# -- structure ------------------------------------------------------------------------


def test_unknown_job_in_a_dependency() -> None:
    a, b, stranger = jobs("a", "b", "stranger")
    (problem,) = find_problems(Workflow([a, b], [(a, b), (stranger, b)]))
    assert problem == Problem(
        WorkflowError,
        "dependency #2",
        "dependency #2 (job 'stranger' -> job 'b'): job 'stranger' is not in workflow.jobs",
    )


def test_a_job_listed_twice() -> None:
    a, b = jobs("a", "b")
    (problem,) = find_problems(Workflow([a, b, b]))
    assert problem.error is WorkflowError
    assert problem.culprit == "job 'b'"
    assert problem.message == "job 'b' is listed twice in workflow.jobs (positions 1 and 2)"


def test_a_cycle_is_named_job_by_job_in_order() -> None:
    root, a, b, c = jobs("root", "a", "b", "c")
    workflow = Workflow([root, a, b, c], [(root, a), (a, b), (b, c), (c, a)])
    (problem,) = find_problems(workflow)
    assert problem == Problem(WorkflowError, "cycle", "cycle: 'a' -> 'b' -> 'c' -> 'a'")


def test_independent_cycles_are_all_named() -> None:
    a, b, c, d = jobs("a", "b", "c", "d")
    workflow = Workflow([a, b, c, d], [(a, b), (b, a), (c, d), (d, c)])
    assert messages(workflow) == ["cycle: 'a' -> 'b' -> 'a'", "cycle: 'c' -> 'd' -> 'c'"]


def test_a_cycle_is_found_even_with_a_bad_dependency_elsewhere() -> None:
    a, b, stranger = jobs("a", "b", "stranger")
    workflow = Workflow([a, b], [(a, b), (b, a), (stranger, a)])
    assert messages(workflow) == [
        "dependency #3 (job 'stranger' -> job 'a'): job 'stranger' is not in workflow.jobs",
        "cycle: 'a' -> 'b' -> 'a'",
    ]


def test_group_element_not_in_the_workflow() -> None:
    a, b, outsider = jobs("a", "b", "outsider")
    workflow = Workflow([a, b], root_group=[a, Group([b, outsider], name="g")])
    (problem,) = find_problems(workflow)
    assert problem == Problem(
        WorkflowError, "group 'g'", "group 'g': job 'outsider' is not in workflow.jobs"
    )


def test_root_group_element_not_in_the_workflow() -> None:
    a, outsider = jobs("a", "outsider")
    workflow = Workflow([a], root_group=[a, outsider])
    assert messages(workflow) == ["root_group: job 'outsider' is not in workflow.jobs"]


def test_group_element_of_the_wrong_type() -> None:
    (a,) = jobs("a")
    workflow = Workflow([a], root_group=[Group([a, "b"], name="g")])  # type: ignore[list-item]
    assert messages(workflow) == [
        "group 'g': element #2 is a str ('b'), not a job or a group",
    ]


def test_nested_and_shared_groups_are_walked_once() -> None:
    a, b, outsider = jobs("a", "b", "outsider")
    inner = Group([b, outsider], name="inner")
    outer = Group([a, inner], name="outer")
    workflow = Workflow([a, b], root_group=[outer, inner])
    assert messages(workflow) == ["group 'inner': job 'outsider' is not in workflow.jobs"]


def test_a_group_containing_itself_does_not_loop() -> None:
    (a,) = jobs("a")
    group = Group([a], name="loop")
    group.elements.append(group)
    assert find_problems(Workflow([a], root_group=[group])) == []


def test_root_group_of_the_wrong_type() -> None:
    (a,) = jobs("a")
    workflow = Workflow([a])
    workflow.root_group = "nope"  # type: ignore[assignment]
    assert messages(workflow) == ["root_group must be a list, not str"]


# -- param links ----------------------------------------------------------------------


def linked(source: Job, destination: Job, *links: tuple[Any, ...]) -> Workflow:
    workflow = Workflow([source, destination], [(source, destination)])
    workflow.param_links = {destination: {"input": list(links)}}
    return workflow


def test_param_links_of_the_documented_shapes_are_valid() -> None:
    src, dst = jobs("src", "dst")
    workflow = linked(
        src,
        dst,
        (src, "output"),
        (src, "output", "list_to_sequence"),  # the form soma-workflow 6.0.13 runs
        (src, "output", "soma_workflow.param_link_functions.append_to_list"),
        (src, "output", ("swf_domain.link_functions.list_cv_train_fold", 3, 1)),
    )
    assert find_problems(workflow) == []


def test_param_link_to_a_job_outside_the_workflow() -> None:
    src, dst, stranger = jobs("src", "dst", "stranger")
    workflow = linked(src, dst)
    workflow.param_links = {stranger: {"input": [(src, "output")]}}
    (problem,) = find_problems(workflow)
    assert problem.error is WorkflowError
    assert problem.culprit == "param link to job 'stranger'"
    assert problem.message == (
        "param link to job 'stranger': destination job 'stranger' is not in workflow.jobs"
    )


def test_param_link_from_a_job_outside_the_workflow() -> None:
    src, dst, stranger = jobs("src", "dst", "stranger")
    workflow = linked(src, dst, (stranger, "output"))
    assert messages(workflow) == [
        "param link to job 'dst' (param 'input'), link #1: source job 'stranger' "
        "is not in workflow.jobs"
    ]


@pytest.mark.parametrize(
    ("link_tail", "expected"),
    [
        ((), r"link #1: \(<Job 'src'>,\) is not a \(job, param\[, function\]\) tuple"),
        (("output", "f", "extra"), r"is not a \(job, param\[, function\]\) tuple"),
        ((3,), r"link #1: the source parameter must be a str, not int"),
        (("output", "nodot"), r"unknown link function 'nodot' \(known: append_to_list, "),
        (("output", "os.system"), r"unknown link function 'os.system'"),  # never imported
        (("output", ()), r"empty link function spec"),
        (("output", (12, "x")), r"link function name must be a string, not 12"),
        (("output", 42), r"link function name must be a string, not 42"),
    ],
)
def test_malformed_param_links_are_named(link_tail: tuple[Any, ...], expected: str) -> None:
    src, dst = jobs("src", "dst")
    workflow = linked(src, dst, (src, *link_tail))
    (problem,) = find_problems(workflow)
    assert problem.error is WorkflowError
    assert problem.culprit == "param link to job 'dst' (param 'input')"
    assert problem.message.startswith("param link to job 'dst' (param 'input'), link #1: ")
    assert re.search(expected, problem.message), problem.message


def test_param_links_of_the_wrong_container_types() -> None:
    src, dst = jobs("src", "dst")
    workflow = linked(src, dst)
    workflow.param_links = {dst: {"input": "src.output"}}  # type: ignore[dict-item]
    assert messages(workflow) == [
        "param link to job 'dst' (param 'input'): expected a list of "
        "(job, param[, function]) links, got a str"
    ]
    workflow.param_links = {dst: ["input"]}  # type: ignore[dict-item]
    assert messages(workflow) == [
        "param link to job 'dst': expected a dict {param: [links]}, got a list"
    ]
    workflow.param_links = [dst]  # type: ignore[assignment]
    assert messages(workflow) == ["param_links must be a dict, not list"]


def test_a_param_link_fills_a_placeholder_of_its_destination() -> None:
    src = Job(["produce"], name="src")
    dst = Job(["consume", "%(input)s"], name="dst")
    with pytest.warns(UnfilledPlaceholderWarning, match=r"job 'dst': .*%\(input\)s"):
        assert messages(Workflow([src, dst])) == []
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # linked: the placeholder will be filled, no warning
        assert find_problems(linked(src, dst, (src, "output"))) == []


# -- per-job rules --------------------------------------------------------------------


def test_job_rules_become_job_errors_naming_the_job() -> None:
    good = Job(["true"], name="good")
    empty = Job([], name="empty")
    bad = Job(["run"], name="bad", parallel_job_info={"nodes_number": 0})
    problems = find_problems(Workflow([good, empty, bad]))
    assert [problem.culprit for problem in problems[:2]] == ["job 'empty'", "job 'bad'"]
    assert all(problem.error is JobError for problem in problems)
    assert problems[0].message == "job 'empty': empty command"
    assert all(problem.message.startswith("job 'bad': ") for problem in problems[1:])


def test_structure_problems_come_before_job_problems() -> None:
    empty = Job([], name="empty")
    (a,) = jobs("a")
    problems = find_problems(Workflow([empty, a, a]))
    assert [problem.error for problem in problems] == [WorkflowError, JobError]


def test_jobs_listed_twice_are_checked_once() -> None:
    empty = Job([], name="empty")
    problems = find_problems(Workflow([empty, empty]))
    assert [problem.error for problem in problems] == [WorkflowError, JobError]


# -- validate() -----------------------------------------------------------------------


def test_validate_raises_the_first_problem_and_counts_the_others() -> None:
    a, b, x, y = jobs("a", "b", "x", "y")
    workflow = Workflow([a, b], [(a, x), (y, b), (a, b), (b, a)])
    with pytest.raises(WorkflowError) as error:
        validate(workflow)
    assert isinstance(error.value, WorkflowValidationError)
    assert str(error.value) == (
        "dependency #1 (job 'a' -> job 'x'): job 'x' is not in workflow.jobs "
        "(and 2 more problem(s))"
    )
    assert error.value.problems == messages(workflow)
    assert len(error.value.problems) == 3


def test_validate_raises_a_job_error_for_a_bad_job() -> None:
    workflow = Workflow([Job([], name="empty")])
    with pytest.raises(JobError) as error:
        validate(workflow)
    assert isinstance(error.value, JobValidationError)
    assert isinstance(error.value, JobValidationIssue)
    assert str(error.value) == "job 'empty': empty command"
    assert error.value.problems == ["job 'empty': empty command"]


def test_validate_summarizes_many_bad_jobs_in_one_line() -> None:
    workflow = Workflow([Job([], name=f"empty{i}") for i in range(1000)])
    with pytest.raises(JobError) as error:
        validate(workflow)
    assert str(error.value) == "job 'empty0': empty command (and 999 more problem(s))"
    assert len(error.value.problems) == 1000  # type: ignore[attr-defined]


# -- never raising on garbage ---------------------------------------------------------


def test_find_problems_never_raises_on_garbage() -> None:
    a, b = jobs("a", "b")
    workflow = Workflow([a, b], [(a, b)])
    workflow.jobs.append(["not", "a", "job"])  # type: ignore[arg-type]
    workflow.dependencies = [
        (a, b),
        ([1], {2: 3}),  # type: ignore[list-item]  # unhashable ends
        None,  # type: ignore[list-item]
        (a, b, a),  # type: ignore[list-item]
        (b, "a"),  # type: ignore[list-item]
    ]
    workflow.param_links = {a: {"p": [([1], "out", None)]}}
    culprits = [problem.culprit for problem in find_problems(workflow)]
    assert culprits == [
        "workflow.jobs[2]",
        "dependency #2",
        "dependency #3",
        "dependency #4",
        "dependency #5",
        "param link to job 'a' (param 'p')",
        "param link to job 'a' (param 'p')",
    ]


def test_find_problems_on_something_else_than_a_workflow() -> None:
    (problem,) = find_problems("workflow.json")  # type: ignore[arg-type]
    assert problem.message == "expected a Workflow, got a str"


def test_jobs_and_dependencies_of_the_wrong_type_are_named() -> None:
    (a,) = jobs("a")
    workflow = Workflow([a])
    workflow.jobs = None  # type: ignore[assignment]
    workflow.dependencies = {a: a}  # type: ignore[assignment]
    workflow.root_group = []
    assert messages(workflow) == [
        "workflow.jobs must be a list, not NoneType",
        "workflow.dependencies must be a list, not dict",
    ]
