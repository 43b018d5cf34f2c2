"""Engine-execution jobs: constructors and outputs compared with soma-workflow's."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from soma_workflow import custom_jobs as soma_custom  # type: ignore[import-untyped]
from swf_domain import custom_jobs
from swf_domain.custom_jobs import (
    CUSTOM_JOB_CLASSES,
    CrossValidationFoldJob,
    EngineExecutionJob,
    LeaveOneOutJob,
    ListCatJob,
    MapJob,
    ReduceJob,
    StrCatJob,
)
from swf_domain.errors import JobError
from swf_domain.job_rules import job_problems
from swf_domain.model import Job

#: (class name, param_dict given to the constructor)
CASES: list[tuple[str, dict[str, Any] | None]] = [
    ("MapJob", None),
    ("MapJob", {"inputs": ["a", "b", "c"], "other": 1}),
    ("MapJob", {"input_names": ["x", "y"], "output_names": ["xo_%d", "yo_%d"], "x": [1, 2],
                "y": [3], "z": 5}),
    ("ReduceJob", None),
    ("ReduceJob", {"lengths": [3], "input_0": "a", "input_1": "b", "input_2": "c", "keep": 9}),
    ("ReduceJob", {"lengths": [2, 1], "input_names": ["a_%d", "b_%d"], "output_names": ["A", "B"],
                   "a_0": 1, "a_1": 2, "b_0": 3, "a_5": 7}),
    ("ReduceJob", {"lengths": [1], "input_0": "a", "input_1": "dropped", "input_2": "dropped"}),
    ("LeaveOneOutJob", {"inputs": [1, 2, 3], "index": 1, "other": 3}),
    ("LeaveOneOutJob", {"inputs": ["only"]}),
    ("CrossValidationFoldJob", None),
    ("CrossValidationFoldJob", {"inputs": list(range(7)), "nfolds": 3, "fold": 2}),
    ("CrossValidationFoldJob", {"inputs": list(range(10)), "nfolds": 4, "fold": 0}),
    ("ListCatJob", None),
    ("ListCatJob", {"inputs": [[1, 2], [3], []]}),
    ("StrCatJob", None),
    ("StrCatJob", {"input_names": ["a", "b"], "a": "x", "b": ["y", "z"], "output_name": "o"}),
    ("StrCatJob", {"inputs": ["p", "q"]}),
]  # fmt: skip


def build_both(class_name: str, params: dict[str, Any] | None) -> tuple[Any, Any]:
    ours = getattr(custom_jobs, class_name)(param_dict=copy.deepcopy(params))
    theirs = getattr(soma_custom, class_name)(param_dict=copy.deepcopy(params))
    return ours, theirs


@pytest.mark.parametrize(("class_name", "params"), CASES)
def test_constructor_like_soma(class_name: str, params: dict[str, Any] | None) -> None:
    ours, theirs = build_both(class_name, params)
    assert ours.name == theirs.name
    assert ours.param_dict == theirs.param_dict
    assert ours.command == theirs.command == []
    assert ours.has_outputs is theirs.has_outputs is True


@pytest.mark.parametrize(("class_name", "params"), CASES)
def test_engine_execute_like_soma(class_name: str, params: dict[str, Any] | None) -> None:
    ours, theirs = build_both(class_name, params)
    expected = type(theirs).engine_execution(theirs)
    assert ours.engine_execute(ours.param_dict) == expected


def test_constructor_does_not_modify_the_callers_dict() -> None:
    params: dict[str, Any] = {"inputs": [1]}
    MapJob(param_dict=params)
    assert params == {"inputs": [1]}


def test_constructor_arguments_like_soma() -> None:
    job = StrCatJob(["ignored"], None, None, "cat", {"inputs": ["a"]}, priority=3)
    assert job.command == []
    assert job.name == "cat"
    assert job.priority == 0  # ignored, as soma-workflow does


def test_engine_execution_jobs_are_marked_and_valid() -> None:
    for cls in (MapJob, ReduceJob, LeaveOneOutJob, CrossValidationFoldJob, ListCatJob, StrCatJob):
        job = cls()
        assert job.is_engine_execution()
        assert not job.is_barrier()
        assert isinstance(job, Job)
        assert job_problems(job) == []
    assert not Job(["x"]).is_engine_execution()


def test_base_class_passes_parameters_through() -> None:
    job = EngineExecutionJob(param_dict={"a": 1})
    assert job.name == "engine_execution"
    assert job.engine_execute({"a": 2, "b": 3}) == {"a": 2, "b": 3}


def test_slots_kept() -> None:
    assert not hasattr(MapJob(), "__dict__")


def test_class_names_for_serialization() -> None:
    assert CUSTOM_JOB_CLASSES["soma_workflow.custom_jobs.MapJob"] is MapJob
    assert CUSTOM_JOB_CLASSES["soma_workflow.custom_jobs.StrCatJob"] is StrCatJob
    assert len(CUSTOM_JOB_CLASSES) == 7


def test_map_then_reduce_round_trip() -> None:
    mapped = MapJob(param_dict={"inputs": ["a", "b", "c"]})
    outputs = mapped.engine_execute(mapped.param_dict or {})
    reducer = ReduceJob(param_dict={"lengths": outputs["lengths"]})
    params = dict(reducer.param_dict or {})
    params.update({f"input_{index}": outputs[f"output_{index}"] for index in range(3)})
    assert reducer.engine_execute(params)["outputs"] == ["a", "b", "c"]


def test_negative_index_counts_from_the_end() -> None:
    job = LeaveOneOutJob(param_dict={"inputs": [1, 2, 3], "index": -1})
    assert job.engine_execute(job.param_dict or {}) == {"train": [1, 2], "test": 3}


@pytest.mark.parametrize(
    ("job", "params", "message"),
    [
        (LeaveOneOutJob(), {"inputs": [], "index": 0}, "index 0 is out of range for 0 inputs"),
        (LeaveOneOutJob(), {"inputs": [1], "index": "0"}, "parameter 'index' must be an int"),
        (LeaveOneOutJob(), {"index": 0}, "parameter 'inputs' is missing"),
        (CrossValidationFoldJob(), {"inputs": [1], "nfolds": 2, "fold": 2}, "fold must be in"),
        (CrossValidationFoldJob(), {"inputs": [1], "nfolds": 0, "fold": 0}, "nfolds must be"),
        (ListCatJob(), {"inputs": [[1], 2]}, r"inputs\[1\] must be a list, not int"),
        (ListCatJob(), {"inputs": "abc"}, "parameter 'inputs' must be a list, not str"),
        (StrCatJob(), {"input_names": ["a"], "a": 1, "output_name": "o"}, "'a' must be a string"),
        (StrCatJob(), {"input_names": ["a"], "a": "", "output_name": 3}, "'output_name' must"),
        (MapJob(), {"inputs": 3}, "parameter 'inputs' must be a list"),
        (MapJob(), {"input_names": ["i"], "output_names": []}, "same length"),
        (MapJob(), {"input_names": "i"}, "'input_names' must be a list of strings"),
        (MapJob(), {"inputs": [1], "output_names": ["out"]}, "'out' needs one %d"),
        (ReduceJob(), {"lengths": [2], "input_0": 1}, "parameter 'input_1' is missing"),
        (ReduceJob(), {"lengths": [-1]}, "lengths must hold ints >= 0"),
        (ReduceJob(), {"lengths": [1, 2]}, "must have the same length"),
    ],
)
def test_bad_parameters_raise_job_errors_naming_the_job(
    job: EngineExecutionJob, params: dict[str, Any], message: str
) -> None:
    with pytest.raises(JobError, match=message) as caught:
        job.engine_execute(params)
    assert str(caught.value).startswith(f"job {job.name!r}: ")


def test_bad_constructor_parameters() -> None:
    with pytest.raises(JobError, match="job 'r': invalid param_dict"):
        ReduceJob(name="r", param_dict={"lengths": [1], "input_names": ["no_pattern"]})
