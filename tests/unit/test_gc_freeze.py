"""The engine daemon freezes what a big submission built (``freeze_survivors``): sound only
because a workflow's model, as the engine keeps it, has no reference cycle, so reference
counting frees it when the workflow is dropped, frozen or not."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from swf_app.running_workflow import lean_copy
from swf_domain.serialization import declares_special_paths, parse, workflow_from_dict
from swf_domain.validation import validate

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "soma-json"


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.json")))
def test_a_model_holds_a_reference_cycle_only_with_special_paths(name: str) -> None:
    """What ``declares_special_paths`` says of a document is what the collector finds."""
    gc.collect()
    gc.disable()
    try:
        document = parse((FIXTURES / name).read_text(), name)
        cyclic = declares_special_paths(document)
        workflow = workflow_from_dict(document, name)
        compiled = lean_copy(workflow, validate(workflow))
        assert compiled.jobs  # something was built
        del workflow, compiled, document
        assert (gc.collect() > 0) == cyclic
    finally:
        gc.enable()


def test_special_paths_are_declared_in_the_special_paths_fixture() -> None:
    document = parse((FIXTURES / "d_special_paths.json").read_text())
    assert declares_special_paths(document)
    assert not declares_special_paths(parse((FIXTURES / "b_barrier.json").read_text()))


def test_the_check_sees_a_cycle() -> None:
    """The assertion above can fail: a model with a cycle is found by the collector."""
    gc.collect()
    gc.disable()
    try:
        workflow = workflow_from_dict(parse((FIXTURES / "b_barrier.json").read_text(), "b"))
        workflow.jobs[0].user_storage = workflow  # a cycle: job -> workflow -> job
        del workflow
        assert gc.collect() > 0
    finally:
        gc.enable()
