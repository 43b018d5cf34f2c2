"""Fuzz of every ``WorkflowController`` method's arguments: accepted, or one of swf's typed
errors naming the argument; never a raw exception, never a hang.

One embedded engine (isolated light mode) serves the whole module, holding a finished
workflow and a running one (a job that sleeps for minutes), so ids are sometimes real.
Waits get real targets only with a finite timeout, or the finished workflow (which
returns at once): a negative timeout means "wait forever" in soma-workflow, and waiting
forever on the running workflow is the documented behaviour, not a hang.

Profiles (tests/fuzz_profiles.py): ``ci`` by default, ``HYPOTHESIS_PROFILE=long`` for
nightly runs; every example runs under ``no_hang``.
"""

from __future__ import annotations

import contextlib
import inspect
import math
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from swf_domain.errors import InvalidArgumentError, SomaWorkflowError, UnknownObjectError
from swf_entry.client import Group, Job, Workflow, WorkflowController
from tests.fuzz_profiles import fuzz_settings, no_hang

#: Values of every kind a careless or hostile caller passes.
GARBAGE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([10**30, -1, 0, 2**63, 2**63 - 1, -(2**63)]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.sampled_from(["\udc80", "1", "", "\x00", "nan"]),
    st.binary(max_size=4),
    st.builds(object),
    st.lists(st.integers(min_value=-3, max_value=10**20), max_size=3),
    st.lists(st.one_of(st.text(max_size=3), st.floats(), st.none()), max_size=3),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
    st.sampled_from([datetime(1970, 1, 2), datetime(2100, 1, 1), datetime.max, datetime.min]),
    st.builds(lambda: Job(["true"], name="stray")),
)


class Site:
    """The controller and the real ids examples may use."""

    def __init__(self, directory: Path) -> None:
        self.wfc = WorkflowController(isolated_light_mode=str(directory))
        done = Workflow([Job(["true"], name="quick")], name="finished")
        self.done_id = self.wfc.submit_workflow(done)
        self.wfc.wait_workflow(self.done_id, timeout=60)
        self.done_jobs = [row[0] for row in self.wfc.workflow_elements_status(self.done_id)[0]]
        running = Workflow([Job(["sleep", "600"], name="sleeper")], name="running")
        self.running_id = self.wfc.submit_workflow(running)
        self.running_jobs = [
            row[0] for row in self.wfc.workflow_elements_status(self.running_id)[0]
        ]

    def ids(self) -> st.SearchStrategy[Any]:
        real = [self.done_id, self.running_id, *self.done_jobs, *self.running_jobs]
        return st.one_of(st.sampled_from(real), GARBAGE)

    def id_lists(self) -> st.SearchStrategy[Any]:
        return st.one_of(st.lists(self.ids(), max_size=3), GARBAGE)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    made = Site(tmp_path_factory.mktemp("fuzz-facade"))
    try:
        yield made
    finally:
        made.wfc.stop_workflow(made.running_id)
        made.wfc.disconnect()


def _past(value: Any) -> bool:
    """A date (or epoch) that the expiry sweep would act on."""
    if isinstance(value, datetime):
        return value < datetime(2100, 1, 1)
    return isinstance(value, int | float) and not isinstance(value, bool)


def accepted_or_typed(call: Callable[[], Any]) -> None:
    """The one property: the call returns, or raises a SomaWorkflowError."""
    with no_hang(), contextlib.suppress(SomaWorkflowError):
        call()


def finite_timeouts() -> st.SearchStrategy[Any]:
    """Timeouts that end (None and negatives wait forever, as in soma-workflow)."""
    return st.one_of(st.floats(min_value=0, max_value=0.05), st.sampled_from([0, "1", math.nan]))


#: Every public WorkflowController method -> the strategy of its arguments (a tuple).
def targets(site: Site) -> dict[str, st.SearchStrategy[tuple[Any, ...]]]:
    ids, lists, text = site.ids(), site.id_lists(), st.one_of(st.text(max_size=4), GARBAGE)
    done_or_garbage = st.one_of(st.just(site.done_id), GARBAGE)
    return {
        "workflow": st.tuples(ids),
        "workflows": st.tuples(st.one_of(st.none(), lists)),
        "jobs": st.tuples(st.one_of(st.none(), lists)),
        "transfers": st.tuples(st.one_of(st.none(), lists)),
        "workflow_status": st.tuples(ids),
        "workflow_elements_status": st.tuples(ids, GARBAGE),
        "job_status": st.tuples(ids),
        "job_termination_status": st.tuples(ids),
        "get_job_output_params": st.tuples(ids),
        "get_engine_job": st.tuples(ids),
        "get_job_command": st.tuples(ids),
        "updated_job_parameters": st.tuples(ids),
        "drms_job_id": st.tuples(ids, ids),
        "get_scheduler_type": st.tuples(),
        "restart_workflow": st.tuples(done_or_garbage, text),
        # a past date on a fixture would let the expiry sweep delete it mid-module
        "change_workflow_expiration_date": st.one_of(
            st.tuples(GARBAGE, GARBAGE),
            st.tuples(
                st.just(site.done_id),
                st.one_of(st.none(), st.datetimes(min_value=datetime(2100, 1, 1)), GARBAGE),
            ).filter(lambda args: not _past(args[1])),
        ),
        "stop_jobs": st.tuples(done_or_garbage, lists),
        "restart_jobs": st.tuples(done_or_garbage, lists),
        "wait_job": st.one_of(
            st.tuples(lists, finite_timeouts()),
            st.tuples(st.just(site.done_jobs), GARBAGE),
        ),
        "wait_workflow": st.one_of(
            st.tuples(ids, finite_timeouts()),
            st.tuples(done_or_garbage, GARBAGE),
        ),
        "register_transfer": st.tuples(GARBAGE),
        "transfer_files": st.tuples(GARBAGE),
        "transfer_status": st.tuples(GARBAGE),
        "delete_transfer": st.tuples(GARBAGE),
    }


#: Methods fuzzed elsewhere in this module, or that end the controller.
SEPARATE = {
    "submit_workflow": "test_submit_workflow_of_garbage",
    "retrieve_job_stdouterr": "test_retrieve_job_stdouterr",
    "log_failed_workflow": "test_log_failed_workflow",
    "stop_workflow": "test_stop_and_delete",
    "delete_workflow": "test_stop_and_delete",
    "disconnect": "ends the controller",
    "stop_engine": "ends the controller (tests/integration/test_soma_scripts.py)",
    "from_link": "a constructor",
}


def test_every_public_method_is_fuzzed(site: Site) -> None:
    public = {
        name
        for name, member in inspect.getmembers(WorkflowController)
        if not name.startswith("_") and callable(member)
    }
    assert sorted(public - set(targets(site)) - set(SEPARATE)) == []


METHODS = sorted(
    [
        "workflow",
        "workflows",
        "jobs",
        "transfers",
        "workflow_status",
        "workflow_elements_status",
        "job_status",
        "job_termination_status",
        "get_job_output_params",
        "get_engine_job",
        "get_job_command",
        "updated_job_parameters",
        "drms_job_id",
        "get_scheduler_type",
        "restart_workflow",
        "change_workflow_expiration_date",
        "stop_jobs",
        "restart_jobs",
        "wait_job",
        "wait_workflow",
        "register_transfer",
        "transfer_files",
        "transfer_status",
        "delete_transfer",
    ]
)


@pytest.mark.parametrize("method", METHODS)
def test_method_arguments(site: Site, method: str) -> None:
    strategy = targets(site)[method]

    @fuzz_settings(max_examples=fuzz_settings().max_examples // 3)
    @given(arguments=strategy)
    def check(arguments: tuple[Any, ...]) -> None:
        accepted_or_typed(lambda: getattr(site.wfc, method)(*arguments))

    check()


@fuzz_settings(max_examples=fuzz_settings().max_examples // 3)
@given(path=GARBAGE, other=GARBAGE, size=GARBAGE)
def test_retrieve_job_stdouterr(site: Site, path: Any, other: Any, size: Any) -> None:
    if isinstance(path, str | bytes) or isinstance(other, str | bytes):
        return  # a string is a real path: writing files where the fuzzer says is not wanted
    accepted_or_typed(lambda: site.wfc.retrieve_job_stdouterr(site.done_jobs[0], path, other, size))


@fuzz_settings(max_examples=fuzz_settings().max_examples // 3)
@given(workflow_id=GARBAGE, file=GARBAGE)
def test_log_failed_workflow(site: Site, workflow_id: Any, file: Any) -> None:
    accepted_or_typed(lambda: site.wfc.log_failed_workflow(workflow_id, file))


@fuzz_settings(max_examples=fuzz_settings().max_examples // 3)
@given(workflow_id=GARBAGE, force=GARBAGE)
def test_stop_and_delete(site: Site, workflow_id: Any, force: Any) -> None:
    if workflow_id in (site.running_id, site.done_id) and not isinstance(workflow_id, bool):
        return  # the module's fixtures stay
    accepted_or_typed(lambda: site.wfc.stop_workflow(workflow_id))
    accepted_or_typed(lambda: site.wfc.delete_workflow(workflow_id, force))


#: Attributes a script may overwrite on a built workflow (or on one of its jobs).
WORKFLOW_ATTRIBUTES = (
    "jobs",
    "dependencies",
    "root_group",
    "groups",
    "param_links",
    "env",
    "name",
    "env_builder_code",
    "native_specification",
    "user_storage",
    "disposal_timeout",
)
JOB_ATTRIBUTES = (
    "referenced_input_files",
    "referenced_output_files",
    "command",
    "priority",
    "env",
    "param_dict",
    "stdout_file",
    "working_directory",
    "parallel_job_info",
    "name",
)


@fuzz_settings(max_examples=max(20, fuzz_settings().max_examples // 6))
@given(
    on_job=st.booleans(),
    attribute=st.sampled_from(WORKFLOW_ATTRIBUTES + JOB_ATTRIBUTES),
    value=GARBAGE,
    expiration=st.one_of(st.none(), GARBAGE),
    name=st.one_of(st.none(), GARBAGE),
)
def test_submit_workflow_of_garbage(
    site: Site, on_job: bool, attribute: str, value: Any, expiration: Any, name: Any
) -> None:
    job = Job(["true"], name="j")
    workflow = Workflow([job], root_group=[Group([job], name="g")], name="fuzzed")
    target: Any = job if attribute in JOB_ATTRIBUTES and on_job else workflow
    if hasattr(target, attribute):
        setattr(target, attribute, value)
    accepted_or_typed(lambda: site.wfc.submit_workflow(workflow, expiration, name))


@fuzz_settings(max_examples=max(20, fuzz_settings().max_examples // 6))
@given(
    resource_id=st.one_of(st.none(), GARBAGE),
    config=st.one_of(st.none(), GARBAGE),
    isolated=st.one_of(st.none(), GARBAGE),
    login=st.one_of(st.none(), GARBAGE),
)
def test_constructor_arguments(
    tmp_path_factory: pytest.TempPathFactory,
    resource_id: Any,
    config: Any,
    isolated: Any,
    login: Any,
) -> None:
    if isinstance(config, str) or isinstance(isolated, str) or isolated is True:
        return  # a real file or directory: the integration tests cover those
    if isolated is None or isolated is False:  # never the user's engine: a new directory
        isolated = str(tmp_path_factory.mktemp("fuzz-ctor"))

    def construct() -> None:
        WorkflowController(resource_id, login, None, config, None, isolated).disconnect()

    accepted_or_typed(construct)


def test_the_issue_examples_are_typed_errors_naming_the_argument(site: Site) -> None:
    wfc = site.wfc
    cases: list[tuple[Callable[[], Any], type[Exception], str]] = [
        (lambda: wfc.job_status(object()), UnknownObjectError, "job_id"),
        (lambda: wfc.workflow_status(10**30), UnknownObjectError, "workflow_id"),
        (lambda: wfc.wait_workflow(site.running_id, timeout="1"), InvalidArgumentError, "timeout"),
        (
            lambda: wfc.wait_workflow(site.running_id, timeout=math.nan),
            InvalidArgumentError,
            "timeout",
        ),
        (
            lambda: wfc.change_workflow_expiration_date(site.done_id, "x"),
            InvalidArgumentError,
            "new_expiration_date",
        ),
        (
            lambda: wfc.change_workflow_expiration_date(site.done_id, datetime.max),
            InvalidArgumentError,
            "out of range",
        ),
        (lambda: wfc.stop_jobs(site.running_id, ["a"]), UnknownObjectError, r"job_ids\[0\]"),
        (lambda: wfc.restart_jobs(site.done_id, [1.5]), UnknownObjectError, r"job_ids\[0\]"),
        (lambda: wfc.submit_workflow(Job(["true"])), SomaWorkflowError, "Workflow, not Job"),
    ]
    for call, error, named in cases:
        with no_hang(), pytest.raises(error, match=named):
            call()
    broken = Workflow([Job(["true"], name="j")])
    broken.dependencies = object()  # type: ignore[assignment]
    with pytest.raises(SomaWorkflowError, match="dependencies"):
        wfc.submit_workflow(broken)
    nan_files = Workflow([Job(["true"], name="j")])
    nan_files.jobs[0].referenced_input_files = math.nan  # type: ignore[assignment]
    with pytest.raises(SomaWorkflowError, match="referenced_input_files"):
        wfc.submit_workflow(nan_files)
    assert wfc.workflow_status(site.running_id) == "workflow_in_progress"  # nothing stopped
    assert site.done_id in wfc.workflows()  # every stored date still reads back
