"""Serialization invariants on random workflows and on randomly damaged documents.

* Writing, reading and writing again gives the same document, and the workflow read
  back has the same structure (special paths by referent and pattern included).
* Whatever damage a document gets (keys deleted, values of the wrong type, dangling
  ids, garbage, truncated text), reading it either works or raises SerializationError:
  never KeyError, TypeError, RecursionError... And what was read can be written.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from swf_domain.errors import SerializationError
from swf_domain.model import Workflow
from swf_domain.serialization import dumps, loads, workflow_from_dict, workflow_to_dict
from swf_domain.validation import find_problems
from tests.property.workflow_strategies import (
    CyclicWorkflow,
    cyclic_workflows,
    workflow_structure,
    workflows,
)

ROUND_TRIP = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
DAMAGE = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def copy_doc(doc: dict[str, Any]) -> dict[str, Any]:
    copied: dict[str, Any] = json.loads(json.dumps(doc))
    return copied


@ROUND_TRIP
@given(workflows(max_jobs=300))
def test_write_read_write_is_exact(workflow: Workflow) -> None:
    doc = workflow_to_dict(workflow)
    assert workflow_to_dict(workflow) == doc  # writing is deterministic
    loaded = workflow_from_dict(copy_doc(doc))
    assert workflow_to_dict(loaded) == doc
    assert workflow_structure(loaded) == workflow_structure(workflow)
    assert len(loaded.dependencies or []) == len(workflow.dependencies or [])


@ROUND_TRIP
@given(workflows(max_jobs=60))
def test_json_text_round_trip(workflow: Workflow) -> None:
    text = dumps(workflow)
    loaded = loads(text, "w.json")
    assert dumps(loaded) == text
    assert workflow_structure(loaded) == workflow_structure(workflow)


@ROUND_TRIP
@given(cyclic_workflows(max_jobs=40))
def test_cycles_are_written_and_read_as_they_are(cyclic: CyclicWorkflow) -> None:
    # serialization keeps what it is given; refusing cycles is validation's job
    doc = workflow_to_dict(cyclic.workflow)
    loaded = workflow_from_dict(copy_doc(doc))
    assert workflow_to_dict(loaded) == doc
    on_cycle = {id(job) for job in cyclic.cycle}
    positions = [i for i, job in enumerate(cyclic.workflow.jobs) if id(job) in on_cycle]
    problems = [problem.message for problem in find_problems(loaded)]
    assert any("cycle" in message for message in problems)
    assert all(loaded.jobs[i].name == cyclic.workflow.jobs[i].name for i in positions)


@ROUND_TRIP
@given(workflows(max_jobs=120))
def test_generated_workflows_are_valid(workflow: Workflow) -> None:
    # what workflow_strategies promises to the other property tests
    assert [problem.message for problem in find_problems(workflow)] == []


# ---------------------------------------------------------------------------------------
# Damaged documents
# ---------------------------------------------------------------------------------------

#: Values of every JSON type, soma's markers, and values that look like ids.
GARBAGE: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    3,
    10**30,
    1.5,
    "",
    "x",
    "%s%s",
    "12",
    [],
    {},
    [1, 2],
    ["<tuple>"],
    ["<tuple>", "<id>", 10**6],
    ["<tuple>", "<id>", "3"],
    ["<tuple>", 0, 1],
    ["<set>", [1]],
    ["<undefined>"],
    {"name": 3},
    {"elements": [0, 0]},
    {"class": "soma_workflow.client_types.BarrierJob"},
]


def deep_list(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = [value]
    return value


def locations(doc: Any) -> list[tuple[Any, Any]]:
    """Every (container, key or index) of a document, without recursion."""
    found: list[tuple[Any, Any]] = []
    stack = [doc]
    while stack:
        container = stack.pop()
        keys = list(container) if isinstance(container, dict) else range(len(container))
        for key in keys:
            found.append((container, key))
            if isinstance(container[key], (dict, list)):
                stack.append(container[key])
    return found


def garbage(data: st.DataObject) -> Any:
    """A fresh copy: a damaged document is damaged again, GARBAGE must stay as it is."""
    return copy.deepcopy(data.draw(st.sampled_from(GARBAGE), label="garbage"))


def damage(doc: dict[str, Any], data: st.DataObject) -> None:
    """One random change somewhere in ``doc`` (in place)."""
    spots = locations(doc)
    if not spots:
        doc["name"] = garbage(data)
        return
    container, key = spots[data.draw(st.integers(0, len(spots) - 1), label="spot")]
    action = data.draw(
        st.sampled_from(["delete", "garbage", "nudge", "deep", "duplicate", "extra"]),
        label="action",
    )
    if action == "delete":
        del container[key]
    elif action == "garbage":
        container[key] = garbage(data)
    elif action == "nudge" and isinstance(container[key], int):
        container[key] += data.draw(st.integers(-3, 3), label="nudge")
    elif action == "deep":
        container[key] = deep_list(data.draw(st.sampled_from([5, 300, 3000]), label="depth"))
    elif action == "duplicate" and isinstance(container, list):
        container.append(container[key])
    elif isinstance(container[key], dict):
        container[key]["zz_unknown"] = garbage(data)
    elif isinstance(container[key], (str, int, float, bool)):
        container[key] = str(container[key])  # "3" for 3, "True" for true...
    else:
        container[key] = "garbage"


def read_or_refuse(doc: Any) -> None:
    """Reading works (and what is read round-trips) or it is a SerializationError."""
    try:
        workflow = workflow_from_dict(doc, "damaged.json")
    except SerializationError as error:
        assert str(error).startswith("damaged.json: ")
        return
    doc = workflow_to_dict(workflow)  # what was read can always be written
    assert workflow_to_dict(workflow_from_dict(json.loads(json.dumps(doc)))) == doc


@DAMAGE
@given(workflows(max_jobs=25), st.data())
def test_damaged_document_is_read_or_refused(workflow: Workflow, data: st.DataObject) -> None:
    doc = copy_doc(workflow_to_dict(workflow))
    for _ in range(data.draw(st.integers(1, 3), label="changes")):
        damage(doc, data)
    read_or_refuse(doc)


@DAMAGE
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(
                st.sampled_from(
                    ["name", "jobs", "serialized_jobs", "command", "0", "1", "elements", "<id>"]
                )
                | st.text(max_size=3),
                children,
                max_size=4,
            )
        ),
        max_leaves=30,
    )
)
def test_any_json_value_is_read_or_refused(value: Any) -> None:
    read_or_refuse(value)


@DAMAGE
@given(workflows(max_jobs=15), st.data())
def test_dangling_dependency_is_refused(workflow: Workflow, data: st.DataObject) -> None:
    doc = copy_doc(workflow_to_dict(workflow))
    if not doc["dependencies"]:
        doc["dependencies"].append(["<tuple>", 0, 0])
    index = data.draw(st.integers(0, len(doc["dependencies"]) - 1))
    unknown = len(doc["jobs"]) + len(doc["groups"]) + data.draw(st.integers(0, 5))
    doc["dependencies"][index][data.draw(st.sampled_from([1, 2]))] = unknown
    try:
        workflow_from_dict(doc, "d.json")
    except SerializationError as error:
        message = str(error)  # numbered from 1, as validation numbers Python dependencies
        assert message.startswith(f"d.json: dependency #{index + 1} (")
        assert message.endswith(f") refers to unknown job id {unknown}")
    else:
        raise AssertionError("a dependency on an unknown job was accepted")


@DAMAGE
@given(workflows(max_jobs=15), st.data())
def test_truncated_text_is_refused_with_its_position(
    workflow: Workflow, data: st.DataObject
) -> None:
    text = dumps(workflow, indent=data.draw(st.sampled_from([None, 4])))
    cut = data.draw(st.integers(0, len(text) - 1))
    try:
        loads(text[:cut], "cut.json")
    except SerializationError as error:
        assert str(error).startswith("cut.json: invalid JSON at line ")
    else:
        raise AssertionError("truncated JSON was accepted")


@DAMAGE
@given(workflows(max_jobs=15), st.data())
def test_ill_typed_job_field_names_the_job_and_field(
    workflow: Workflow, data: st.DataObject
) -> None:
    doc = copy_doc(workflow_to_dict(workflow))
    ident = data.draw(st.sampled_from(sorted(doc["serialized_jobs"])))
    job = doc["serialized_jobs"][ident]
    field, value, expected = data.draw(
        st.sampled_from(
            [
                ("priority", "high", "must be an int, got 'high'"),
                ("disposal_timeout", 1.5, "must be an int, got 1.5"),
                ("join_stderrout", "yes", "must be true or false, got 'yes'"),
                ("name", 3, "must be a string or null, got 3"),
                ("command", {"a": 1}, "must be a list, got {'a': 1}"),
                ("env", [1], "must be an object of strings or null, got [1]"),
                ("stdout_file", 4, "must be a string, a special path or null, got 4"),
                ("param_dict", "p", "must be an object, got 'p'"),
            ]
        )
    )
    job[field] = value
    try:
        workflow_from_dict(doc, "t.json")
    except SerializationError as error:
        name = job.get("name")
        label = f"job {ident} ({name!r})" if isinstance(name, str) else f"job {ident}"
        assert str(error) == f"t.json: {label}: field '{field}' {expected}"
    else:
        raise AssertionError(f"{field} = {value!r} was accepted")
