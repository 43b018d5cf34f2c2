"""The facade's kind checks before a workflow is encoded: fast on the usual workflow,
and still naming the culprit when something is of the wrong kind."""

from __future__ import annotations

import pytest

from swf_domain.errors import WorkflowError
from swf_domain.model import BarrierJob, Group, Job, Workflow
from swf_entry.client import _check_attribute_kinds


class NamedJob(Job):
    """A user's subclass: accepted, through the long way."""


def test_plain_jobs_barriers_and_subclasses_pass() -> None:
    a, b, c = Job(["true"], name="a"), BarrierJob(name="b"), NamedJob(["true"], name="c")
    group = Group([b, c], name="g")
    _check_attribute_kinds(Workflow([a, b, c], dependencies=[(a, group)]))


def test_a_file_list_of_the_wrong_kind_names_its_job() -> None:
    bad = Job(["true"], name="bad")
    workflow = Workflow([Job(["true"], name="ok"), bad])
    bad.referenced_input_files = "in.txt"  # type: ignore[assignment]
    with pytest.raises(WorkflowError, match="job 'bad': referenced_input_files must be a list"):
        _check_attribute_kinds(workflow)


def test_an_element_that_is_not_a_job_is_named() -> None:
    workflow = Workflow([Job(["true"], name="ok")])
    workflow.jobs.append("not a job")  # type: ignore[arg-type]
    with pytest.raises(WorkflowError, match="must be Jobs, not str"):
        _check_attribute_kinds(workflow)
