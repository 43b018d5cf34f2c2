"""soma-workflow's client API on swf: ``from swf_entry.client import Job, Workflow, ...``.

``WorkflowController`` is a thin facade over an ``EngineLink``: it converts between the
user's objects (Workflow, datetime) and the link's plain data, and nothing else, so every
mode (embedded, local daemon, remote) behaves the same.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, TextIO

from swf_app.link import EngineLink
from swf_app.read_models import STREAMS, JobProgress, soma_job_entry
from swf_domain import serialization
from swf_domain.custom_jobs import (
    CrossValidationFoldJob,
    LeaveOneOutJob,
    ListCatJob,
    MapJob,
    ReduceJob,
    StrCatJob,
)
from swf_domain.errors import (
    SerializationError,
    SomaWorkflowError,
    TransferError,
    UnknownObjectError,
    WorkflowError,
)
from swf_domain.model import (
    BarrierJob,
    FileTransfer,
    Group,
    Job,
    OptionPath,
    SharedResourcePath,
    SpecialPath,
    TemporaryPath,
    Workflow,
)
from swf_domain.status import ExitStatus, JobStatus
from swf_domain.validation import validate

__all__ = [
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
    "StrCatJob",
    "TemporaryPath",
    "TransferError",
    "UnknownObjectError",
    "Workflow",
    "WorkflowController",
    "WorkflowError",
]


def _to_epoch(date: datetime | float | None) -> float | None:
    if date is None:
        return None
    if isinstance(date, datetime):
        return date.timestamp()
    return float(date)


def _to_datetime(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch)


class WorkflowController:
    """Submission, control and monitoring of workflows on one computing resource.

    With the default configuration the engine is a detached local daemon, so workflows
    outlive this object; ``isolated_light_mode`` (True or a directory) or a configuration
    in light mode embeds the engine in this process instead, as soma-workflow does.
    """

    #: Class-wide default for ``isolated_light_mode`` (soma-workflow's switch).
    isolated_light_mode: ClassVar[bool | str | None] = None

    def __init__(
        self,
        resource_id: str | None = None,
        login: str | None = None,
        password: str | None = None,
        config: Any = None,
        rsa_key_pass: str | None = None,
        isolated_light_mode: bool | str | None = None,
    ) -> None:
        from swf_entry.composition import connect

        if isolated_light_mode is None:
            isolated_light_mode = type(self).isolated_light_mode
        self._converted_rows: dict[tuple[int, bool], _ConvertedRows] = {}
        self._link: EngineLink = connect(
            resource_id=resource_id,
            login=login,
            password=password,
            config=config,
            isolated=isolated_light_mode,
        )
        self.resource_id = resource_id

    @classmethod
    def from_link(cls, link: EngineLink) -> WorkflowController:
        """A controller over an existing link (tests, the CLI, embedding applications)."""
        controller = cls.__new__(cls)
        controller._converted_rows = {}
        controller._link = link
        controller.resource_id = None
        return controller

    @property
    def link(self) -> EngineLink:
        return self._link

    # -- submission ---------------------------------------------------------------------

    def submit_workflow(
        self,
        workflow: Workflow,
        expiration_date: datetime | None = None,
        name: str | None = None,
        queue: str | None = None,
    ) -> int:
        """Validate and submit ``workflow``; returns its id. Invalid -> WorkflowError/JobError."""
        try:
            document = serialization.workflow_to_dict(workflow)
        except SerializationError:
            # A structural mistake (a job outside the workflow, listed twice...) stops the
            # writer first; validation names it with the documented WorkflowError/JobError.
            validate(workflow)
            raise
        workflow_id = self._link.submit_workflow(
            document,
            name if name is not None else workflow.name,
            queue,
            _to_epoch(expiration_date),
            _submit_directory(),
        )
        workflow.wf_id = workflow_id
        return workflow_id

    # -- retrieval ----------------------------------------------------------------------

    def workflow(self, workflow_id: int) -> Workflow:
        """The submitted workflow, its jobs carrying their ``job_id``."""
        document = self._link.workflow_document(workflow_id)
        workflow = serialization.workflow_from_dict(document)
        for job, job_id in zip(workflow.jobs, document.get("job_ids", []), strict=False):
            job.job_id = job_id
        workflow.wf_id = workflow_id
        return workflow

    def workflows(
        self, workflow_ids: Sequence[int] | None = None
    ) -> dict[int, tuple[str | None, datetime | None]]:
        rows = self._link.workflows(list(workflow_ids) if workflow_ids is not None else None)
        return {wf_id: (name, _to_datetime(exp)) for wf_id, (name, exp) in rows.items()}

    def jobs(self, job_ids: Sequence[int] | None = None) -> dict[int, tuple[Any, ...]]:
        """soma-workflow lists here the jobs submitted outside any workflow; swf has none."""
        return {}

    def transfers(self, transfer_ids: Sequence[int] | None = None) -> dict[int, tuple[Any, ...]]:
        """soma-workflow lists here transfers registered outside any workflow; swf has none."""
        return {}

    # -- monitoring ---------------------------------------------------------------------

    def workflow_status(self, workflow_id: int) -> str | None:
        return self._link.workflow_status(workflow_id)

    def workflow_elements_status(self, workflow_id: int, with_drms_id: bool = True) -> Any:
        """soma's shape: (jobs, transfers, workflow status, queue, temporary paths)."""
        progress = self._link.workflow_elements_status(workflow_id, with_drms_id)
        key = (workflow_id, with_drms_id)
        rows = _soma_job_rows(progress.jobs, with_drms_id, self._converted_rows.pop(key, None))
        self._converted_rows[key] = (progress.jobs, rows)
        while len(self._converted_rows) > _CONVERTED_WORKFLOWS:
            del self._converted_rows[next(iter(self._converted_rows))]  # least recent
        return (rows, [], progress.status, progress.queue, [])

    def job_status(self, job_id: int) -> str:
        return self._link.job_status(job_id)

    def job_termination_status(
        self, job_id: int
    ) -> tuple[str | None, int | None, int | None, str | None] | None:
        status = self._link.job_termination_status(job_id)
        return None if status is None else tuple(status)  # type: ignore[return-value]

    def retrieve_job_stdouterr(
        self,
        job_id: int,
        stdout_file_path: str,
        stderr_file_path: str | None = None,
        buffer_size: int = 256 * 1024,
    ) -> None:
        """Copy the job's stdout (and stderr) to the given paths, read through the link (the
        job's files may be on another machine)."""
        _copy_output(self._link, job_id, "stdout", stdout_file_path)
        if stderr_file_path is not None:
            _copy_output(self._link, job_id, "stderr", stderr_file_path)

    def get_job_output_params(self, job_id: int) -> dict[str, Any] | None:
        return self._link.get_job_output_params(job_id)

    def log_failed_workflow(self, workflow_id: int, file: TextIO = sys.stderr) -> None:
        """Print every failed job of the workflow with its exit info and output files."""
        for job_id in Helper.list_failed_jobs(workflow_id, self):
            status = self.job_termination_status(job_id)
            files = self._link.job_files(job_id)
            print(f"job {job_id}: {self.job_status(job_id)} {status}", file=file)
            for stream, path in zip(STREAMS, files, strict=True):
                chunk = self._link.read_job_output(job_id, stream, -_LOGGED_TAIL)
                if chunk.size is not None:
                    text = chunk.data.decode(errors="replace")
                    print(f"--- {stream} ({path}) ---\n{text}", file=file)

    # -- control ------------------------------------------------------------------------

    def stop_workflow(self, workflow_id: int) -> bool:
        return self._link.stop_workflow(workflow_id)

    def restart_workflow(self, workflow_id: int, queue: str | None = None) -> bool:
        return self._link.restart_workflow(workflow_id, queue)

    def delete_workflow(self, workflow_id: int, force: bool = True) -> bool:
        return self._link.delete_workflow(workflow_id, force)

    def stop_jobs(self, workflow_id: int, job_ids: Sequence[int]) -> bool:
        return self._link.stop_jobs(workflow_id, list(job_ids))

    def restart_jobs(self, workflow_id: int, job_ids: Sequence[int]) -> bool:
        return self._link.restart_jobs(workflow_id, list(job_ids))

    def wait_workflow(self, workflow_id: int, timeout: float = -1) -> None:
        self._link.wait_workflow(workflow_id, timeout)

    def wait_job(self, job_ids: Sequence[int], timeout: float = -1) -> None:
        self._link.wait_job(list(job_ids), timeout)

    def change_workflow_expiration_date(
        self, workflow_id: int, new_expiration_date: datetime | None
    ) -> bool:
        return self._link.change_workflow_expiration_date(
            workflow_id, _to_epoch(new_expiration_date)
        )

    # -- file transfers outside a workflow ----------------------------------------------
    # soma-workflow moves such files between a client and a *remote* resource. swf runs on
    # the local resource only (remote resources are a later issue), where a FileTransfer
    # inside a workflow is used in place; these calls say so instead of pretending.

    def register_transfer(self, file_transfer: FileTransfer) -> Any:
        raise TransferError(_NO_STANDALONE_TRANSFERS.format(what="register_transfer"))

    def transfer_files(self, transfer_ids: Sequence[Any], buffer_size: int = 256 * 1024) -> bool:
        raise TransferError(_NO_STANDALONE_TRANSFERS.format(what="transfer_files"))

    def transfer_status(self, transfer_id: Any) -> Any:
        raise TransferError(_NO_STANDALONE_TRANSFERS.format(what="transfer_status"))

    def delete_transfer(self, transfer_id: Any) -> bool:
        raise TransferError(_NO_STANDALONE_TRANSFERS.format(what="delete_transfer"))

    def disconnect(self) -> None:
        """Close this client; the workflows go on (and, embedded, the engine stops)."""
        self._link.close()

    def __enter__(self) -> WorkflowController:
        return self

    def __exit__(self, *exc: object) -> None:
        self.disconnect()


_NO_STANDALONE_TRANSFERS = (
    "{what}: file transfers outside a workflow need a remote resource, which swf does not"
    " support yet; on the local resource a FileTransfer in a workflow is used in place"
)


#: Workflows whose converted rows a controller keeps for its next answer.
_CONVERTED_WORKFLOWS = 4
#: (read models as the link returned them, the same jobs as soma's rows)
_ConvertedRows = tuple[Sequence[JobProgress], list[tuple[Any, ...]]]
#: Bytes of each output file ``log_failed_workflow`` prints (the end of it).
_LOGGED_TAIL = 4000


def _soma_job_rows(
    jobs: Sequence[JobProgress], with_drms_id: bool, previous: _ConvertedRows | None
) -> list[tuple[Any, ...]]:
    """soma's job rows (dates as datetimes) from the link's read models.

    A local link answers from a cache that hands back the same object for a job that did
    not change, so a job seen in the previous answer reuses its row rather than being
    converted again: polling a million-job workflow converts only what changed.
    """
    old_jobs, old_rows = previous if previous is not None else ((), [])
    reuse = len(old_jobs) == len(jobs)
    result: list[tuple[Any, ...]] = []
    for index, job in enumerate(jobs):
        if reuse and old_jobs[index] is job:
            result.append(old_rows[index])
        else:
            result.append(soma_job_entry(job, with_drms_id, _to_datetime))
    return result


def _copy_output(link: EngineLink, job_id: int, stream: str, destination: str) -> None:
    """Copy a job's stream to ``destination`` chunk by chunk (empty if it wrote nothing)."""
    with open(destination, "wb") as target:
        offset = 0
        while True:
            chunk = link.read_job_output(job_id, stream, offset)
            target.write(chunk.data)
            if not chunk.data or chunk.size is None or chunk.next_offset >= chunk.size:
                return
            offset = chunk.next_offset


class Helper:
    """soma-workflow's static helpers."""

    @staticmethod
    def list_failed_jobs(
        workflow_id: int,
        wf_ctrl: WorkflowController,
        include_aborted_jobs: bool = False,
        include_user_killed_jobs: bool = False,
        include_statuses: Sequence[str] | None = None,
    ) -> list[int]:
        """Ids of the jobs that failed (or, on request, were aborted or killed)."""
        if include_statuses is not None:
            wanted = {str(status) for status in include_statuses}
        else:
            wanted = {
                ExitStatus.FINISHED_REGULARLY.value,
                ExitStatus.FINISHED_TERM_SIG.value,
                ExitStatus.FINISHED_UNCLEAR_CONDITIONS.value,
                ExitStatus.EXIT_UNDETERMINED.value,
            }
            if include_aborted_jobs:
                wanted |= {ExitStatus.EXIT_ABORTED.value, ExitStatus.EXIT_NOTRUN.value}
            if include_user_killed_jobs:
                wanted.add(ExitStatus.USER_KILLED.value)
        jobs = wf_ctrl.workflow_elements_status(workflow_id)[0]
        failed = []
        for job_id, status, _queue, exit_info, *_ in jobs:
            if exit_info is None or exit_info[0] not in wanted:
                continue
            if include_statuses is not None or status == JobStatus.FAILED.value or exit_info[1]:
                failed.append(job_id)
        return failed

    @staticmethod
    def wait_workflow(workflow_id: int, wf_ctrl: WorkflowController) -> None:
        wf_ctrl.wait_workflow(workflow_id)

    @staticmethod
    def delete_all_workflows(wf_ctrl: WorkflowController, force: bool = True) -> bool:
        ok = True
        for workflow_id in list(wf_ctrl.workflows()):
            ok = wf_ctrl.delete_workflow(workflow_id, force) and ok
        return ok

    @staticmethod
    def serialize(file_path: str | Path, workflow: Workflow) -> None:
        """Write ``workflow`` to ``file_path`` in soma-workflow's JSON format."""
        try:
            Path(file_path).write_text(serialization.dumps(workflow))
        except OSError as error:
            raise SerializationError(f"{file_path}: cannot write: {error.strerror}") from error

    @staticmethod
    def unserialize(file_path: str | Path) -> Workflow:
        """Read a workflow written by ``serialize`` (or by soma-workflow)."""
        try:
            text = Path(file_path).read_text()
        except OSError as error:
            raise SerializationError(f"{file_path}: cannot read: {error.strerror}") from error
        return serialization.loads(text, source=str(file_path))

    @staticmethod
    def transfer_input_files(
        workflow_id: int, wf_ctrl: WorkflowController, buffer_size: int = 256 * 1024
    ) -> None:
        """Local resource: the engine reads input files where they are; nothing to move."""

    @staticmethod
    def transfer_output_files(
        workflow_id: int, wf_ctrl: WorkflowController, buffer_size: int = 256 * 1024
    ) -> None:
        """Local resource: outputs are written in place; nothing to move."""

    @staticmethod
    def cpu_count() -> int:
        return os.cpu_count() or 1


def _submit_directory() -> str | None:
    """Where this client is: the workflow's jobs without a working directory run there
    (None when it was removed under our feet: the engine then uses the user's home)."""
    try:
        return os.getcwd()
    except OSError:
        return None
