"""The names ``swf_entry.client`` exports: users port ``from soma_workflow.client import
...`` by changing the module name, so this list changes only on purpose.

Each exported model class, custom job and error must be the domain's own class (not a
copy or a subclass), so objects built through the facade and through ``swf_domain`` are
interchangeable and ``except`` clauses catch what the engine raises.
"""

from __future__ import annotations

import inspect

import pytest

import swf_entry.client as client
from swf_domain import custom_jobs, errors, model

#: name -> the object it must be (None: defined by the facade module itself).
EXPORTED: dict[str, object | None] = {
    "BarrierJob": model.BarrierJob,
    "CrossValidationFoldJob": custom_jobs.CrossValidationFoldJob,
    "EngineExecutionJob": custom_jobs.EngineExecutionJob,
    "FileTransfer": model.FileTransfer,
    "Group": model.Group,
    "Helper": None,
    "Job": model.Job,
    "LeaveOneOutJob": custom_jobs.LeaveOneOutJob,
    "ListCatJob": custom_jobs.ListCatJob,
    "MapJob": custom_jobs.MapJob,
    "OptionPath": model.OptionPath,
    "ReduceJob": custom_jobs.ReduceJob,
    "SerializationError": errors.SerializationError,
    "SharedResourcePath": model.SharedResourcePath,
    "SomaWorkflowError": errors.SomaWorkflowError,
    "SpecialPath": model.SpecialPath,
    "StrCatJob": custom_jobs.StrCatJob,
    "TemporaryPath": model.TemporaryPath,
    "TransferError": errors.TransferError,
    "UnknownObjectError": errors.UnknownObjectError,
    "Workflow": model.Workflow,
    "WorkflowController": None,
    "WorkflowError": errors.WorkflowError,
}

#: soma_workflow.client's public classes (6.0.13) that swf provides under the same name.
#: Not provided: the Transfer* / PortableRemoteTransfer helpers of soma's remote file
#: transfers, and EngineExecutionJob (the base class of the custom jobs).
SOMA_CLIENT_NAMES = (
    "BarrierJob",
    "CrossValidationFoldJob",
    "FileTransfer",
    "Group",
    "Helper",
    "Job",
    "LeaveOneOutJob",
    "ListCatJob",
    "MapJob",
    "OptionPath",
    "ReduceJob",
    "SerializationError",
    "SharedResourcePath",
    "SomaWorkflowError",
    "SpecialPath",
    "TemporaryPath",
    "TransferError",
    "Workflow",
    "WorkflowController",
)


def test_all_lists_exactly_the_pinned_names() -> None:
    assert sorted(client.__all__) == sorted(EXPORTED)
    assert len(set(client.__all__)) == len(client.__all__)


@pytest.mark.parametrize("name", sorted(EXPORTED))
def test_each_name_is_the_domain_object(name: str) -> None:
    exported = getattr(client, name)
    expected = EXPORTED[name]
    if expected is None:
        assert inspect.isclass(exported)
        assert exported.__module__ == "swf_entry.client"
    else:
        assert exported is expected


def test_star_import_gives_exactly_all() -> None:
    namespace: dict[str, object] = {}
    exec("from swf_entry.client import *", namespace)
    namespace.pop("__builtins__")
    assert sorted(namespace) == sorted(EXPORTED)


def test_soma_workflow_client_names_are_there() -> None:
    missing = [name for name in SOMA_CLIENT_NAMES if name not in client.__all__]
    assert missing == []


def test_errors_share_one_base() -> None:
    for name in ("SerializationError", "TransferError", "UnknownObjectError", "WorkflowError"):
        assert issubclass(getattr(client, name), client.SomaWorkflowError)


def test_custom_jobs_are_jobs() -> None:
    for name in ("MapJob", "ReduceJob", "LeaveOneOutJob", "CrossValidationFoldJob"):
        job_class = getattr(client, name)
        assert issubclass(job_class, client.Job)
        assert job_class().is_engine_execution()
    assert issubclass(client.BarrierJob, client.Job)
    for name in ("FileTransfer", "SharedResourcePath", "TemporaryPath", "OptionPath"):
        assert issubclass(getattr(client, name), client.SpecialPath)


def test_controller_has_soma_workflow_methods() -> None:
    """The WorkflowController methods soma-workflow's users call (seeds/004)."""
    methods = (
        "submit_workflow",
        "workflow",
        "workflows",
        "jobs",
        "transfers",
        "workflow_status",
        "workflow_elements_status",
        "job_status",
        "job_termination_status",
        "retrieve_job_stdouterr",
        "get_job_output_params",
        "log_failed_workflow",
        "stop_workflow",
        "restart_workflow",
        "delete_workflow",
        "stop_jobs",
        "restart_jobs",
        "wait_workflow",
        "wait_job",
        "change_workflow_expiration_date",
        "disconnect",
    )
    controller = client.WorkflowController
    missing = [name for name in methods if not callable(getattr(controller, name, None))]
    assert missing == []
    helpers = ("list_failed_jobs", "wait_workflow", "delete_all_workflows", "serialize")
    assert all(callable(getattr(client.Helper, name)) for name in helpers)
    assert callable(client.Helper.unserialize)


def test_controller_has_the_documented_transfer_methods() -> None:
    """soma-workflow's client API lists them (their behaviour: tests/integration/
    test_transfers_local.py and test_transfers_sftp.py)."""
    for name in ("register_transfer", "transfer_files", "transfer_status", "delete_transfer"):
        assert callable(getattr(client.WorkflowController, name))
    assert callable(client.Helper.transfer_input_files)
    assert callable(client.Helper.transfer_output_files)
