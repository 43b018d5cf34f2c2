"""Per-job validation rules: each rule, each message, the fast path."""

from __future__ import annotations

import warnings
from typing import Any

import pytest

from swf_domain.job_rules import UnfilledPlaceholderWarning, job_label, job_problems
from swf_domain.model import (
    BarrierJob,
    FileTransfer,
    Job,
    OptionPath,
    SharedResourcePath,
    TemporaryPath,
)


def make_job(command: Any = None, **kwargs: Any) -> Job:
    kwargs.setdefault("name", "step2")
    return Job(["echo", "hi"] if command is None else command, **kwargs)


def test_plain_job_has_no_problem() -> None:
    assert job_problems(make_job()) == []


def test_rich_valid_job_has_no_problem() -> None:
    transfer = FileTransfer(True, "/data/in")
    temp = TemporaryPath(is_directory=True)
    job = make_job(
        ["prog", transfer, ("out" + temp, "f.txt"), ["<join>", "a", 1], 3, 2.5, "%(x)s"],
        referenced_input_files=[transfer],
        referenced_output_files=[temp],
        param_dict={"x": [1, 2]},
        parallel_job_info={"config_name": "MPI", "nodes_number": 2, "cpu_per_node": 4},
        priority=-3,
        stdout_file=TemporaryPath(),
        env={"A": "1"},
        use_input_params_file=True,
    )
    assert job_problems(job) == []


def test_empty_command() -> None:
    assert job_problems(make_job([])) == ["job 'step2': empty command"]


def test_barrier_job_may_have_an_empty_command() -> None:
    assert job_problems(BarrierJob(name="hub")) == []


def test_unnamed_job_label() -> None:
    job = Job([])
    assert job.name is None
    assert job_label(job) == "job <unnamed>"
    assert job_problems(job) == ["job <unnamed>: empty command"]


def test_command_not_a_list() -> None:
    job = make_job()
    job.command = "echo hi"  # type: ignore[assignment]
    assert job_problems(job) == ["job 'step2': command must be a list, not str"]


def _unfilled(job: Job) -> list[str]:
    """Names warned about as unfilled placeholders; the job itself must be valid (soma
    accepts such a command and passes the text on as written)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert job_problems(job) == []
    found = [w.message for w in caught if isinstance(w.message, UnfilledPlaceholderWarning)]
    assert all("param_dict has no value for it" in str(message) for message in found)
    return [message.name for message in found]


def test_missing_placeholder_value_warns_naming_the_parameter() -> None:
    job = make_job(["cp", "%(src)s", "--to=%(dst)s"], param_dict={"src": "a"})
    assert _unfilled(job) == ["dst"]


def test_two_placeholders_in_one_string_are_two_names() -> None:
    job = make_job(["cp", "%(a)s:%(b)d"], param_dict={"a": 1})
    assert _unfilled(job) == ["b"]


def test_missing_placeholder_reported_once() -> None:
    job = make_job(["x", "%(a)s", ["%(a)f"]])
    assert _unfilled(job) == ["a"]


def test_none_value_counts_as_missing() -> None:
    # soma-workflow leaves the placeholder in place when the value is None
    job = make_job(["x", "%(a)s"], param_dict={"a": None})
    assert _unfilled(job) == ["a"]


def test_placeholder_filled_by_a_param_link_is_not_missing() -> None:
    job = make_job(["x", "%(a)s"])
    assert job_problems(job, linked_params={"a"}) == []


def test_percent_without_placeholder_is_fine() -> None:
    assert job_problems(make_job(["printf", "%s %d %(", "100%"])) == []


@pytest.mark.parametrize(
    ("item", "position", "type_name"),
    [(None, "1", "NoneType"), ({"a": 1}, "1", "dict"), (b"x", "1", "bytes")],
)
def test_unsupported_command_item_names_its_position(
    item: object, position: str, type_name: str
) -> None:
    problems = job_problems(make_job(["prog", item]))
    assert len(problems) == 1
    assert problems[0].startswith(
        f"job 'step2': command item {position} has unsupported type {type_name}"
    )


def test_unsupported_nested_item_names_its_nested_position() -> None:
    problems = job_problems(make_job(["prog", "a", ["<join>", "x", {1}]]))
    assert len(problems) == 1
    assert "command item 2[2] has unsupported type set" in problems[0]


@pytest.mark.parametrize(
    "info",
    [
        {"nodes_number": 0},
        {"cpu_per_node": -1},
        {"cpu_per_node": 2.0},
        {"nodes_number": True},
        {"nodes_number": "2"},
    ],
)
def test_bad_parallel_counts(info: dict[str, Any]) -> None:
    (problem,) = job_problems(make_job(parallel_job_info=info))
    (key,) = info
    assert problem == (
        f"job 'step2': parallel_job_info[{key!r}] must be a positive int, not {info[key]!r}"
    )


def test_parallel_info_not_a_dict() -> None:
    (problem,) = job_problems(make_job(parallel_job_info=("MPI", 2)))
    assert problem.startswith("job 'step2': parallel_job_info must be a dict")
    assert problem.endswith("not tuple")


def test_parallel_info_unknown_key_and_bad_config_name() -> None:
    problems = job_problems(make_job(parallel_job_info={"nodes": 2, "config_name": ""}))
    assert problems == [
        "job 'step2': parallel_job_info has unknown key 'nodes' "
        "(known: config_name, nodes_number, cpu_per_node)",
        "job 'step2': parallel_job_info['config_name'] must be a non-empty string, not ''",
    ]


def test_empty_parallel_info_means_none() -> None:
    assert job_problems(make_job(parallel_job_info={})) == []


@pytest.mark.parametrize("priority", ["1", 1.5, True, None])
def test_priority_must_be_an_int(priority: object) -> None:
    problems = job_problems(make_job(priority=priority))
    assert problems == [f"job 'step2': priority must be an int, not {type(priority).__name__}"]


def test_undeclared_transfer_in_command() -> None:
    transfer = FileTransfer(False, "/data/out")
    problems = job_problems(make_job(["prog", transfer]))
    assert problems == [
        "job 'step2': command item 1 is a FileTransfer that is not in "
        "referenced_input_files nor referenced_output_files"
    ]


def test_transfer_declared_through_a_pattern_copy_is_declared() -> None:
    transfer = FileTransfer(True, "/data/in")
    job = make_job(["prog", "--in=" + transfer], referenced_input_files=[transfer])
    assert job_problems(job) == []


def test_transfer_used_as_stdout_counts_as_referenced() -> None:
    temp = TemporaryPath()
    assert job_problems(make_job(["prog", temp], stdout_file=temp)) == []


def test_undeclared_temporary_path_inside_option_path() -> None:
    temp = TemporaryPath()
    problems = job_problems(make_job(["prog", OptionPath(temp, "?a=1")]))
    assert len(problems) == 1
    assert "command item 1 is a TemporaryPath" in problems[0]


def test_shared_resource_path_needs_no_declaration() -> None:
    path = SharedResourcePath("a/b", "ns", "uuid")
    assert job_problems(make_job(["prog", path])) == []


def test_bad_path_field() -> None:
    problems = job_problems(make_job(stdout_file=3))
    assert problems == ["job 'step2': stdout_file must be a path (str or special path), not int"]


def test_bad_env_and_param_dict() -> None:
    job = make_job(env={"A": 1})
    job.param_dict = [1]  # type: ignore[assignment]
    assert job_problems(job) == [
        "job 'step2': param_dict must be a dict, not list",
        "job 'step2': env entry 'A' must map a string to a string, got 1",
    ]


def test_every_problem_is_reported_at_once() -> None:
    job = make_job(["prog", None, ["x"]], priority="high", parallel_job_info={"cpu_per_node": 0})
    job.env = {"A": 1}  # type: ignore[dict-item]
    problems = job_problems(job)
    assert len(problems) == 4
    assert all(problem.startswith("job 'step2': ") for problem in problems)


def test_configuration_dict_placeholder_is_filled_by_the_engine() -> None:
    job = make_job(["prog", "%(configuration_dict)s"], configuration={"a": 1})
    assert job_problems(job) == []
    job.use_input_params_file = True  # then the configuration goes to the params file,
    assert _unfilled(job) == ["configuration_dict"]  # and soma leaves the text as written
