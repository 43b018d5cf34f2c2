"""The monitor's shape of a workflow read from the document's dicts is the full reader's."""

from __future__ import annotations

from typing import Any

from swf_domain import serialization
from swf_domain.model import Group, Job, Workflow
from swf_entry.monitor.shape import shape_from_document, shape_from_workflow


def odd_workflow() -> Workflow:
    """Nested groups, an unnamed job, a parallel job, a repeated dependency, a job
    outside the root group."""
    a = Job(["echo", "a"], name="a")
    unnamed = Job(["sleep", "1"])
    wide = Job(["true"], name="<wide>", parallel_job_info={"nodes_number": 2, "cpu_per_node": 3})
    loose = Job(["true"], name="loose")
    inner = Group([wide], name="inner")
    outer = Group([unnamed, inner], name="outer")
    return Workflow(
        jobs=[a, unnamed, wide, loose],
        dependencies=[(a, unnamed), (a, wide), (unnamed, wide), (a, unnamed)],
        root_group=[a, outer],
        name="odd",
    )


def both(workflow: Workflow) -> tuple[Any, Any]:
    document = serialization.workflow_to_dict(workflow)
    ids = [10 + i for i in range(len(workflow.jobs))]
    full = serialization.workflow_from_dict(document)
    for job, job_id in zip(full.jobs, ids, strict=True):
        job.job_id = job_id
    return shape_from_document(document, ids), shape_from_workflow(full)


def test_plain_document_gives_the_full_readers_shape() -> None:
    fast, full = both(odd_workflow())
    assert fast is not None
    assert fast == full
    assert fast.names[1] == "sleep"
    assert fast.slots == [1, 1, 6, 1]
    assert fast.parents[2] == [0, 1]


def test_without_root_group_every_job_is_at_the_root() -> None:
    jobs = [Job(["true"], name=f"j{i}") for i in range(3)]
    fast, full = both(Workflow(jobs=jobs, name="flat"))
    assert fast == full


def test_document_outside_the_plain_form_is_left_to_the_full_reader() -> None:
    document = serialization.workflow_to_dict(odd_workflow())
    document["dependencies"].append([0, 1])  # an untagged pair: valid, not plain
    assert shape_from_document(document, [1, 2, 3, 4]) is None
    document = serialization.workflow_to_dict(odd_workflow())
    document["root_group"].append(99)  # an unknown element
    assert shape_from_document(document, [1, 2, 3, 4]) is None
