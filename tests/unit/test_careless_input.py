"""The reproduced classes of issue 9 (and issue 8 bug 4/7): each a typed swf error that
names its culprit, raised before anything is stored, or accepted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from swf_domain import serialization
from swf_domain.errors import (
    JobArgumentError,
    JobError,
    SerializationError,
    WorkflowArgumentError,
    WorkflowError,
)
from swf_domain.model import Group, Job, Workflow
from swf_domain.validation import check_document, find_problems, validate
from swf_entry.cli.app import app
from swf_entry.client import Helper


def test_constructors_name_the_argument_of_the_wrong_type() -> None:
    with pytest.raises(WorkflowArgumentError, match=r"Workflow\(jobs=\.\.\.\)") as raised:
        Workflow(jobs=float("inf"))  # type: ignore[arg-type]
    assert isinstance(raised.value, WorkflowError) and isinstance(raised.value, TypeError)
    with pytest.raises(JobArgumentError, match=r"Job\(command=\.\.\.\) must be a list, not str"):
        Job(command="echo hi")  # type: ignore[arg-type]
    with pytest.raises(WorkflowArgumentError, match="param_links"):
        Workflow([], param_links=[1])  # type: ignore[arg-type]
    with pytest.raises(WorkflowArgumentError, match="dependencies"):
        Workflow([], dependencies=object())  # type: ignore[arg-type]
    with pytest.raises(WorkflowArgumentError, match=r"Group\(elements=\.\.\.\)"):
        Group(5, name="g")  # type: ignore[arg-type]


def test_malformed_contents_are_left_for_validation_to_list() -> None:
    a = Job(["true"], name="a")
    workflow = Workflow([a], dependencies=[(a,)], param_links={a: 5})  # type: ignore[list-item,dict-item]
    messages = [problem.message for problem in find_problems(workflow)]
    assert any("dependency #1" in message for message in messages)
    assert any("param link to job 'a'" in message for message in messages)
    with pytest.raises(WorkflowError):
        validate(workflow)


@pytest.mark.parametrize(
    ("job", "mention"),
    [
        (Job(["true"], name="p", priority=2**63), "priority 9223372036854775808 is out of range"),
        (Job(["true"], name="p", priority=-(2**63) - 1), "out of range"),
        (Job(["true"], name="p", priority=10**5000), "priority an integer of 16610 bits"),
        (Job(["echo", 10**5000], name="i"), "command item 1 is an integer of 16610 bits"),
        (Job(["true"], name="\udc80"), "name contains a lone surrogate"),
        (Job(["echo", "a\udc80"], name="s"), "command item 1 contains a lone surrogate"),
        (Job(["echo", "a\x00"], name="n"), "command item 1 contains a NUL"),
        (Job(["true"], name="o", stdout_file="o\udc80"), "stdout_file contains a lone surrogate"),
        (Job(["true"], name="e", env={"A": "\x00"}), "env entry 'A' contains a NUL"),
    ],
)
def test_values_the_engine_cannot_take_are_refused_by_validation(job: Job, mention: str) -> None:
    with pytest.raises(JobError) as raised:
        validate(Workflow([job]))
    assert mention in str(raised.value)


def test_extreme_but_valid_values_are_accepted() -> None:
    validate(Workflow([Job(["true"], priority=2**63 - 1), Job(["true"], priority=-(2**63))]))
    validate(Workflow([Job(["echo", "é ü 漢字"], name="unicode ✓")], name="ok ✓"))


def test_a_workflow_name_that_is_not_text_is_refused() -> None:
    with pytest.raises(WorkflowError, match="workflow name"):
        validate(Workflow([Job(["true"])], name="w\udc80"))


def test_invalid_utf8_is_a_serialization_error_naming_file_and_line(tmp_path: Path) -> None:
    file = tmp_path / "bad.json"
    file.write_bytes(b'{"jobs": [],\n "name": "\xff"}')
    with pytest.raises(SerializationError, match=r"bad\.json: not UTF-8 text: byte 0xff at line 2"):
        Helper.unserialize(str(file))


def test_a_json_integer_of_5000_digits_is_a_serialization_error() -> None:
    with pytest.raises(SerializationError, match="more than 4300 digits"):
        serialization.loads('{"jobs": [], "disposal_timeout": ' + "9" * 5000 + "}", "big.json")


@pytest.mark.parametrize("text", ["{}", '{"foo": 1}', '{"name": "x"}'])
def test_an_object_without_workflow_keys_is_not_a_workflow(text: str) -> None:
    with pytest.raises(SerializationError, match="not a workflow document"):
        serialization.loads(text, "x.json")


def test_an_explicitly_empty_workflow_is_fine() -> None:
    assert serialization.loads('{"jobs": []}').jobs == []


def test_one_report_lists_every_problem_of_a_json_document() -> None:
    doc = {
        "jobs": [0, 1, 2, 7],
        "serialized_jobs": {
            "0": {"command": ["true"], "name": "a"},
            "1": {"command": "not a list", "name": "b"},
            "2": {"command": [], "name": "c"},
        },
        "dependencies": [["<tuple>", 0, 2], ["<tuple>", 0, 9], ["<tuple>", 1, 2]],
    }
    workflow, problems = check_document(doc, "w.json")
    assert [job.name for job in workflow.jobs] == ["a", "c"]
    assert [(problem.error.__name__, problem.culprit) for problem in problems] == [
        ("SerializationError", "job 1 ('b')"),
        ("SerializationError", "jobs[3]"),
        ("SerializationError", "dependency #2"),
        ("JobError", "job 'c'"),
    ]
    assert "dependency #2 (job 0 ('a') -> unknown job id 9)" in problems[2].message
    strict = {**doc, "serialized_jobs": {"0": doc["serialized_jobs"]["0"]}, "jobs": [0]}
    with pytest.raises(SerializationError, match=r"dependency #1 \(job 0 \('a'\) -> unknown"):
        serialization.workflow_from_dict(strict)  # strict reading: the first problem


def test_validate_on_invalid_utf8_exits_4_with_a_json_report(tmp_path: Path) -> None:
    file = tmp_path / "bad.json"
    file.write_bytes(b"\xff\xfe{}")
    runner = CliRunner()
    plain = runner.invoke(app, ["validate", str(file)])
    assert plain.exit_code == 4 and "Traceback" not in plain.output
    assert "not UTF-8 text" in plain.output
    with_json = runner.invoke(app, ["validate", "--json", str(file)])
    assert with_json.exit_code == 4
    report = json.loads(with_json.stdout)
    assert report["valid"] is False
    assert report["problems"][0]["error"] == "SerializationError"
