"""Fuzzing what users hand swf: soma JSON files, ``swf validate``, the model constructors.

Every input is either accepted or refused with one of swf's typed errors
(``SomaWorkflowError``): never a raw TypeError / ValueError / KeyError / RecursionError
/ UnicodeError, never a hang (each example runs under ``no_hang``). Inputs start from the
soma-workflow 6.0.13 files of tests/fixtures/soma-json and are damaged the ways careless
and hostile users damage them: values of the wrong type at any depth, keys removed or
added, bytes flipped, text cut short, invalid UTF-8, NULs and lone surrogates, huge
numbers. A workflow that reads and validates must also be writable and submittable in
shape (``workflow_to_dict``) without a raw error.

Profiles (tests/fuzz_profiles.py): ``ci`` by default, ``HYPOTHESIS_PROFILE=long`` for
nightly runs.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from swf_domain import serialization
from swf_domain.errors import SomaWorkflowError
from swf_domain.model import (
    BarrierJob,
    FileTransfer,
    Group,
    Job,
    OptionPath,
    SharedResourcePath,
    TemporaryPath,
    Workflow,
)
from swf_domain.validation import check_document, find_problems, validate
from swf_entry.cli.app import app
from tests.fuzz_profiles import fuzz_settings, no_hang

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "soma-json"
#: The small fixtures (the 1000-job fan-out is read whole by other tests).
DOCUMENTS = {
    path.name: json.loads(path.read_text())
    for path in sorted(FIXTURES.glob("*.json"))
    if path.stat().st_size < 100_000
}
TEXTS = {name: json.dumps(doc, indent=1).encode() for name, doc in DOCUMENTS.items()}

#: Keys that mean something to the reader, so added keys often hit real code paths.
KEYS = [
    "jobs",
    "dependencies",
    "groups",
    "root_group",
    "param_links",
    "serialized_jobs",
    "serialized_groups",
    "serialized_file_transfers",
    "serialized_temporary_paths",
    "serialized_shared_resource_paths",
    "serialized_option_paths",
    "serialized_barriers",
    "command",
    "name",
    "priority",
    "class",
    "elements",
    "stdin",
    "stdout_file",
    "working_directory",
    "parallel_job_info",
    "env",
    "param_dict",
    "referenced_input_files",
    "swf_referent",
    "pattern",
    "parent_path",
    "0",
    "1",
    "-1",
    "99999999999999999999",
]

#: Strings that mean something somewhere: markers, placeholders, paths, bad text.
SPECIAL_TEXT = st.sampled_from(
    ["<tuple>", "<id>", "<set>", "%(x)s", "../../x", "", "\x00", "\udc80", "é", "a" * 300]
)
text = st.one_of(st.text(max_size=12), SPECIAL_TEXT, st.sampled_from(KEYS))
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([2**63, -(2**63) - 1, 10**40, -1, 0]),
    st.floats(),
    text,
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(text, inner, max_size=4),
        st.tuples(st.just("<tuple>"), inner, inner).map(list),
        st.tuples(st.just("<tuple>"), st.just("<id>"), st.integers(-2, 40)).map(list),
    ),
    max_leaves=12,
)


def _containers(node: Any, depth: int = 0) -> Iterator[Any]:
    """Every dict and list in ``node`` (itself first), to pick one to damage."""
    if isinstance(node, dict | list):
        yield node
        if depth < 12:
            children = node.values() if isinstance(node, dict) else node
            for child in children:
                yield from _containers(child, depth + 1)


@st.composite
def damaged_documents(draw: st.DrawFn) -> dict[str, Any]:
    """A fixture document with one to four damages at random places."""
    doc = json.loads(json.dumps(DOCUMENTS[draw(st.sampled_from(sorted(DOCUMENTS)))]))
    for _ in range(draw(st.integers(1, 4))):
        places = list(_containers(doc))
        place = places[draw(st.integers(0, len(places) - 1))]
        _damage(draw, place)
    return doc


def _damage(draw: st.DrawFn, place: dict[str, Any] | list[Any]) -> None:
    action = draw(st.sampled_from(["replace", "remove", "add"]))
    if isinstance(place, dict):
        if action == "add" or not place:
            place[draw(text)] = draw(json_values)
            return
        key = draw(st.sampled_from(sorted(place)))
        if action == "remove":
            del place[key]
        else:
            place[key] = draw(json_values)
        return
    if action == "add" or not place:
        place.insert(draw(st.integers(0, len(place))), draw(json_values))
        return
    index = draw(st.integers(0, len(place) - 1))
    if action == "remove":
        del place[index]
    else:
        place[index] = draw(json_values)


@st.composite
def damaged_bytes(draw: st.DrawFn) -> bytes:
    """A fixture file's bytes, cut, flipped or spliced (invalid UTF-8 and JSON included)."""
    data = bytearray(TEXTS[draw(st.sampled_from(sorted(TEXTS)))])
    for _ in range(draw(st.integers(1, 3))):
        action = draw(st.sampled_from(["cut", "flip", "splice"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if action == "cut":
            del data[at:]
        elif action == "flip" and data:
            data[at] = draw(st.integers(0, 255))
        else:
            data[at:at] = draw(
                st.one_of(
                    st.binary(max_size=8),
                    st.sampled_from([b"\xff", b"\xc3", b"9" * 5000, b"[" * 3000, b'"\\ud800"']),
                )
            )
        if not data:
            break
    return bytes(data)


def _accepted_or_typed(action: Any) -> Any:
    """Run ``action``: its result, or None when it raised a typed swf error."""
    try:
        with no_hang():
            return action()
    except SomaWorkflowError:
        return None


def _check_workflow(workflow: Workflow) -> None:
    """A read workflow: validation and writing it back give results or typed errors."""
    _accepted_or_typed(lambda: find_problems(workflow))
    if _accepted_or_typed(lambda: validate(workflow)) is not None:
        _accepted_or_typed(lambda: serialization.workflow_to_dict(workflow))


# -- the soma JSON reader -----------------------------------------------------------------


@fuzz_settings()
@given(damaged_documents())
def test_damaged_documents_are_read_or_refused_with_a_typed_error(doc: dict[str, Any]) -> None:
    workflow = _accepted_or_typed(lambda: serialization.workflow_from_dict(doc, "fuzz.json"))
    if workflow is not None:
        _check_workflow(workflow)
    report = _accepted_or_typed(lambda: check_document(doc, "fuzz.json"))
    if report is not None and workflow is not None:
        assert report[1] == [] or _accepted_or_typed(lambda: validate(workflow)) is None


@fuzz_settings()
@given(damaged_bytes())
def test_damaged_files_are_read_or_refused_with_a_typed_error(data: bytes) -> None:
    workflow = _accepted_or_typed(lambda: serialization.loads(data, "fuzz.json"))
    if workflow is not None:
        _check_workflow(workflow)


# -- swf validate ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    return CliRunner()


@fuzz_settings(max_examples=min(150, fuzz_settings().max_examples))
@given(data=st.one_of(damaged_bytes(), damaged_documents().map(lambda d: json.dumps(d).encode())))
def test_swf_validate_answers_every_file_with_a_report(
    data: bytes, runner: CliRunner, tmp_path_factory: pytest.TempPathFactory
) -> None:
    file = tmp_path_factory.mktemp("fuzz") / "workflow.json"
    file.write_bytes(data)
    with no_hang():
        result = runner.invoke(app, ["validate", "--json", str(file)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert result.exit_code in (0, 1, 4), result.output
    report = json.loads(result.stdout)  # a report whatever the file held
    assert report["valid"] is (result.exit_code == 0)
    assert "Traceback" not in result.output


# -- the model constructors -----------------------------------------------------------------

jobs = st.builds(lambda name: Job(["true"], name=name), st.text(max_size=4))
python_values = st.one_of(
    json_values,
    st.sampled_from([math.inf, math.nan, object(), b"bytes", {1, 2}, (), frozenset()]),
    # too long to print (JSON files get theirs from damaged_bytes' 5000-digit splice)
    st.sampled_from([10**5000, -(10**5000)]),
    jobs,
    st.lists(st.one_of(jobs, scalars), max_size=3),
    st.lists(st.tuples(jobs, jobs), max_size=3),
    st.dictionaries(jobs, st.dictionaries(text, json_values, max_size=2), max_size=2),
)
JOB_ARGUMENTS = [
    "command",
    "referenced_input_files",
    "referenced_output_files",
    "stdin",
    "join_stderrout",
    "disposal_timeout",
    "name",
    "stdout_file",
    "stderr_file",
    "working_directory",
    "parallel_job_info",
    "priority",
    "native_specification",
    "env",
    "param_dict",
    "use_input_params_file",
    "has_outputs",
    "input_params_file",
    "output_params_file",
    "configuration",
]
WORKFLOW_ARGUMENTS = [
    "jobs",
    "dependencies",
    "root_group",
    "disposal_timeout",
    "name",
    "env",
    "env_builder_code",
    "param_links",
    "native_specification",
]
PATH_MAKERS = [FileTransfer, SharedResourcePath, TemporaryPath, OptionPath]


@fuzz_settings()
@given(
    st.dictionaries(st.sampled_from(JOB_ARGUMENTS), python_values, max_size=4),
    st.dictionaries(st.sampled_from(WORKFLOW_ARGUMENTS), python_values, max_size=4),
)
def test_constructors_accept_or_name_the_argument(
    job_arguments: dict[str, Any], workflow_arguments: dict[str, Any]
) -> None:
    job_arguments.setdefault("command", ["true"])
    job = _accepted_or_typed(lambda: Job(**job_arguments))
    extra = [job] if job is not None else []
    workflow_arguments.setdefault("jobs", extra)
    workflow = _accepted_or_typed(lambda: Workflow(**workflow_arguments))
    if workflow is not None:
        _check_workflow(workflow)


@fuzz_settings()
@given(
    st.sampled_from([BarrierJob, Group, *PATH_MAKERS]),
    st.lists(python_values, max_size=4),
)
def test_other_constructors_accept_or_refuse_with_a_typed_error(
    maker: Any, arguments: list[Any]
) -> None:
    if maker is Group:
        arguments = [*arguments[:1], "g"]
    element = _accepted_or_typed(lambda: _call_or_arity(maker, arguments))
    if isinstance(element, Group | Job):
        workflow = _accepted_or_typed(lambda: Workflow([], root_group=[element]))
        if workflow is not None:
            _check_workflow(workflow)
    elif element is not None:
        job = Job(["cat", element], referenced_input_files=[element], stdin=element)
        _check_workflow(Workflow([job]))


def _call_or_arity(maker: Any, arguments: list[Any]) -> Any:
    """``maker(*arguments)``; a wrong number of arguments is Python's, not a value's."""
    try:
        return maker(*arguments)
    except TypeError as error:
        if "positional argument" in str(error) or "required" in str(error):
            return None
        raise


WORKFLOW_ATTRIBUTES = [*WORKFLOW_ARGUMENTS, "groups", "user_storage"]


@fuzz_settings()
@given(
    st.dictionaries(st.sampled_from(WORKFLOW_ATTRIBUTES), python_values, max_size=3),
    st.dictionaries(st.sampled_from(JOB_ARGUMENTS), python_values, max_size=3),
)
def test_attributes_set_to_garbage_after_construction_are_named(
    workflow_garbage: dict[str, Any], job_garbage: dict[str, Any]
) -> None:
    """``wf.dependencies = object()``, ``job.referenced_input_files = nan``...: what the
    facade's submit_workflow meets (it writes the workflow, then validates it)."""
    a, b = Job(["true"], name="a"), Job(["true"], name="b")
    workflow = Workflow([a, b], dependencies=[(a, b)], root_group=[a, Group([b], name="g")])
    for name, value in workflow_garbage.items():
        setattr(workflow, name, value)
    for name, value in job_garbage.items():
        setattr(a, name, value)
    _accepted_or_typed(lambda: find_problems(workflow))
    _accepted_or_typed(lambda: serialization.workflow_to_dict(workflow))
    if _accepted_or_typed(lambda: validate(workflow)) is not None:
        _accepted_or_typed(lambda: serialization.workflow_to_dict(workflow))


# -- through the engine: what validation lets through must not break it --------------------


@pytest.fixture(scope="module")
def harness() -> Iterator[Any]:
    from tests.app_fakes import EngineHarness

    with EngineHarness() as started:
        yield started


@fuzz_settings(max_examples=min(150, fuzz_settings().max_examples))
@given(doc=damaged_documents())
def test_what_validation_accepts_the_engine_runs_to_the_end(
    doc: dict[str, Any], harness: Any
) -> None:
    """A document the service accepts runs until every job is terminal (a job that cannot
    start fails alone); one it refuses is refused with a typed error. The engine lives on."""
    with no_hang():
        try:
            workflow_id = harness.service.submit_workflow(doc)
        except SomaWorkflowError:
            return
        harness.wait(workflow_id)
    assert harness.engine.alive
    assert set(harness.statuses(workflow_id)) <= {"done", "failed"}
