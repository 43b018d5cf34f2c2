"""Param links and link functions (checked against soma-workflow's functions)."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import pytest

from soma_workflow import param_link_functions as soma_functions  # type: ignore[import-untyped]
from swf_domain import link_functions
from swf_domain.errors import WorkflowError
from swf_domain.link_functions import LINK_FUNCTIONS, fold_bounds, resolve_link_function
from swf_domain.model import FileTransfer, Job, SharedResourcePath, SpecialPath, TemporaryPath
from swf_domain.param_links import apply_param_links, describe_link, link_problems

# ---------------------------------------------------------------------------------------
# Link functions vs soma-workflow
# ---------------------------------------------------------------------------------------

#: (function name, positional args, value, dst_value)
FUNCTION_CASES: list[tuple[str, tuple[Any, ...], Any, Any]] = [
    ("list_to_sequence", (1,), ["a", "b", "c"], None),
    ("list_to_sequence", (-1,), ["a", "b", "c"], "old"),
    ("sequence_to_list", (2,), "v", None),
    ("sequence_to_list", (2,), "v", ["x"]),
    ("sequence_to_list", (0,), "v", ["x", "y", "z"]),
    ("append_to_list", (), "v", None),
    ("append_to_list", (), "v", ["x"]),
    ("list_all_but_one", (1,), [1, 2, 3], None),
    ("list_all_but_one", (0,), [1], None),
    ("list_cv_train_fold", (1, 3), list(range(10)), None),
    ("list_cv_test_fold", (1, 3), list(range(10)), None),
    ("list_cv_test_fold", (0, 4), list(range(10)), None),
    ("list_cv_test_fold", (2, 5), list(range(3)), None),
    ("list_cat", (None,), [1, 2], None),
    ("list_cat", (None,), [3], [1, 2]),
    ("sequence_max", (0,), 3, None),
    ("sequence_max", (1,), 3, 10),
    ("sequence_max", (1,), 3, -5),
    ("sequence_max", (0.5,), 2.0, None),
    ("sequence_min", (0,), 3, None),
    ("sequence_min", (2,), 3, 4),
    ("sequence_min", (0,), 3, 1),
    ("sequence_sum", (0,), 3, None),
    ("sequence_sum", (10,), 3, None),
    ("sequence_sum", (10,), 3, 7),
]


def call_swf(name: str, args: tuple[Any, ...], value: Any, dst_value: Any) -> Any:
    function = LINK_FUNCTIONS[name]
    return function(*args, src_param="s", value=value, dst_param="d", dst_value=dst_value)


def call_soma(name: str, args: tuple[Any, ...], value: Any, dst_value: Any) -> Any:
    function = getattr(soma_functions, name)
    return function(*args, src_param="s", value=value, dst_param="d", dst_value=dst_value)


@pytest.mark.parametrize(
    ("name", "args", "value", "dst_value"),
    FUNCTION_CASES,
    ids=[f"{case[0]}-{number}" for number, case in enumerate(FUNCTION_CASES)],
)
def test_link_function_like_soma(
    name: str, args: tuple[Any, ...], value: Any, dst_value: Any
) -> None:
    ours = call_swf(name, args, copy.deepcopy(value), copy.deepcopy(dst_value))
    theirs = call_soma(name, args, copy.deepcopy(value), copy.deepcopy(dst_value))
    assert ours == theirs
    assert type(ours) is type(theirs)


def test_every_function_is_tested_against_soma() -> None:
    assert {case[0] for case in FUNCTION_CASES} == set(LINK_FUNCTIONS)


@pytest.mark.parametrize("name", ["sequence_to_list", "append_to_list", "list_cat"])
def test_link_functions_do_not_modify_the_destination_value(name: str) -> None:
    destination = ["x"]
    args: tuple[Any, ...] = (1,) if name == "sequence_to_list" else ()
    value: Any = [1] if name == "list_cat" else "v"
    result = call_swf(name, args, value, destination)
    assert destination == ["x"]
    assert result != destination


def test_list_cat_does_not_need_its_unused_argument() -> None:
    assert link_functions.list_cat(src_param="s", value=[2], dst_param="d", dst_value=[1]) == [
        1,
        2,
    ]


@pytest.mark.parametrize("nitems", range(13))
@pytest.mark.parametrize("nfolds", range(1, 6))
def test_folds_are_contiguous_like_soma(nitems: int, nfolds: int) -> None:
    items = list(range(nitems))
    previous_end = 0
    for fold in range(nfolds):
        begin, end = fold_bounds(nitems, fold, nfolds)
        assert begin == previous_end
        previous_end = end
        assert items[begin:end] == call_soma("list_cv_test_fold", (fold, nfolds), items, None)
    if nitems >= nfolds:
        assert previous_end == nitems


def test_bad_fold_arguments() -> None:
    with pytest.raises(ValueError, match="nfolds"):
        fold_bounds(3, 0, 0)
    with pytest.raises(ValueError, match="fold must be in"):
        fold_bounds(3, 3, 3)


@pytest.mark.parametrize(
    "spec",
    [
        "list_to_sequence",
        "soma_workflow.param_link_functions.list_to_sequence",
        "swf_domain.link_functions.list_to_sequence",
        "soma_workflow.engine.list_to_sequence",
    ],
)
def test_function_names_accepted(spec: str) -> None:
    function, args = resolve_link_function((spec, 2))
    assert function is link_functions.list_to_sequence
    assert args == (2,)


def test_list_spec_from_json_is_accepted() -> None:
    assert resolve_link_function(["list_cv_test_fold", 1, 3])[1] == (1, 3)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("os.system", "unknown link function 'os.system'"),
        ("soma_workflow.param_link_functions.nope", "unknown link function"),
        ((), "empty link function spec"),
        ((3, 1), "must be a string"),
    ],
)
def test_bad_function_specs(spec: Any, message: str) -> None:
    with pytest.raises(WorkflowError, match=message):
        resolve_link_function(spec)


# ---------------------------------------------------------------------------------------
# apply_param_links
# ---------------------------------------------------------------------------------------


def outputs_from(table: dict[Job, dict[str, Any]]) -> Any:
    def outputs_of(job: Any) -> Mapping[str, Any] | None:
        return table.get(job)

    return outputs_of


def test_plain_link_copies_the_output_and_leaves_the_input_dict_alone() -> None:
    source = Job(["a"], name="a")
    params = {"x": "old", "keep": 1}
    updated = apply_param_links(
        params, {"x": [(source, "out")]}, outputs_from({source: {"out": "new"}})
    )
    assert updated == {"x": "new", "keep": 1}
    assert params == {"x": "old", "keep": 1}


def test_missing_outputs_leave_the_value() -> None:
    ran, silent = Job(["a"], name="a"), Job(["b"], name="b")
    links = {"x": [(ran, "other"), (silent, "out")], "y": [(ran, "out")]}
    updated = apply_param_links({"x": 1}, links, outputs_from({ran: {"out": 2}}))
    assert updated == {"x": 1, "y": 2}


def test_links_apply_in_order_gathering_a_list() -> None:
    sources = [Job(["s"], name=f"s{index}") for index in range(3)]
    outputs = {job: {"out": f"file{index}"} for index, job in enumerate(sources)}
    links = {
        "files": [
            (job, "out", ("soma_workflow.param_link_functions.sequence_to_list", 2 - index))
            for index, job in enumerate(sources)
        ]
    }
    updated = apply_param_links({}, links, outputs_from(outputs))
    assert updated == {"files": ["file2", "file1", "file0"]}


def test_function_with_json_list_spec() -> None:
    source = Job(["s"], name="s")
    links = {"test": [(source, "items", ["list_cv_test_fold", 0, 2])]}
    updated = apply_param_links({}, links, outputs_from({source: {"items": [1, 2, 3, 4]}}))
    assert updated == {"test": [1, 2]}


def test_unknown_function_names_the_link() -> None:
    source = Job(["s"], name="producer")
    links = {"x": [(source, "out", "mymodule.evil")]}
    with pytest.raises(
        WorkflowError,
        match=r"param link job 'consumer'\.x <- job 'producer'\.out via mymodule\.evil: "
        r"unknown link function",
    ):
        apply_param_links({}, links, outputs_from({source: {"out": 1}}), dest_name="consumer")


def test_failing_function_names_the_link_and_value() -> None:
    source = Job(["s"], name="producer")
    links = {"x": [(source, "out", ("list_to_sequence", 5))]}
    with pytest.raises(WorkflowError, match=r"via list_to_sequence failed on value \[1\]"):
        apply_param_links({}, links, outputs_from({source: {"out": [1]}}), dest_name="c")


def test_malformed_link_is_a_workflow_error() -> None:
    with pytest.raises(WorkflowError, match="is not \\(source_job, source_param"):
        apply_param_links({}, {"x": [("only-one",)]}, outputs_from({}), dest_name="c")


def test_transfer_destination_is_kept_and_retargeted() -> None:
    source = Job(["s"], name="s")
    transfer = FileTransfer(False, "/client/out.nii")
    temp = TemporaryPath()
    shared = SharedResourcePath("a", "ns", "u")
    calls: list[tuple[SpecialPath, Any]] = []
    outputs = {source: {"o": "/engine/new.nii", "t": "/tmp/x", "l": ["/e/1", "/e/2", "/e/3"]}}
    links = {"out": [(source, "o")], "tmp": [(source, "t")], "many": [(source, "l")]}
    updated = apply_param_links(
        {"out": transfer, "tmp": temp, "many": [shared, "plain"]},
        links,
        outputs_from(outputs),
        on_retarget=lambda path, value: calls.append((path, value)),
    )
    assert updated["out"] is transfer
    assert updated["tmp"] == "/tmp/x"  # temporary paths are replaced like plain values
    assert updated["many"] == [shared, "/e/2", "/e/3"]
    assert calls == [(transfer, "/engine/new.nii"), (shared, "/e/1")]


def test_without_retarget_callback_paths_are_replaced() -> None:
    source = Job(["s"], name="s")
    transfer = FileTransfer(False, "/client/out.nii")
    updated = apply_param_links(
        {"out": transfer}, {"out": [(source, "o")]}, outputs_from({source: {"o": "/e/x"}})
    )
    assert updated == {"out": "/e/x"}


def test_unchanged_path_in_gathered_list_is_not_retargeted() -> None:
    source = Job(["s"], name="s")
    transfer = FileTransfer(False, "/client/a")
    calls: list[Any] = []
    updated = apply_param_links(
        {"l": [transfer]},
        {"l": [(source, "o", ("sequence_to_list", 1))]},
        outputs_from({source: {"o": "/e/b"}}),
        on_retarget=lambda path, value: calls.append(value),
    )
    assert updated == {"l": [transfer, "/e/b"]}
    assert calls == []


# ---------------------------------------------------------------------------------------
# link_problems
# ---------------------------------------------------------------------------------------


def test_valid_links_have_no_problem() -> None:
    source, dest = Job(["s"], name="s"), Job(["d"], name="d")
    links = {"x": [(source, "o"), (source, "o", ("sequence_to_list", 0))]}
    assert link_problems(dest, links, known_jobs=lambda job: True) == []


def test_link_problems_name_each_culprit() -> None:
    source, dest, stranger = Job(["s"], name="s"), Job(["d"], name="d"), Job(["x"], name="x")
    known = {source, dest}
    links = {
        "a": [(stranger, "o")],
        "b": [(source, 3)],
        "c": [(source, "o", "os.system")],
        "d": [(source,)],
        "e": "not a list",
        4: [],
    }
    problems = link_problems(dest, links, known_jobs=lambda job: job in known)
    assert problems == [
        "param link job 'd'.a <- job 'x'.o: source job is not in the workflow",
        "param link job 'd'.b <- job 's'.3: source parameter 3 is not a name",
        "param link job 'd'.c <- job 's'.o via os.system: unknown link function 'os.system' "
        f"(known: {', '.join(sorted(LINK_FUNCTIONS))})",
        f"param link into job 'd'.d: {(source,)!r} is not (source_job, source_param) or "
        "(source_job, source_param, function)",
        "param links of job 'd'.e must be a list of links",
        "param links of job 'd': 4 is not a name",
    ]


def test_link_problems_of_bad_destination() -> None:
    assert link_problems("j", {}) == ["param links: destination 'j' is not a job"]
    dest = Job(["d"], name="d")
    assert link_problems(dest, {}, known_jobs=lambda job: False) == [
        "param links: destination job 'd' is not in the workflow"
    ]
    assert link_problems(dest, [1]) == [
        "param links of job 'd' must map parameter names to link lists"
    ]


def test_describe_link() -> None:
    source = Job(["s"], name="s")
    assert (
        describe_link("d", "x", (source, "o", ("f", 1)))
        == "param link job 'd'.x <- job 's'.o via f"
    )
