"""soma-workflow's client API on swf: ``from swf_entry.client import Job, Workflow, ...``.

``WorkflowController`` is a thin facade over an ``EngineLink``: it converts between the
user's objects (Workflow, datetime) and the link's plain data, and nothing else, so every
mode (embedded, local daemon, remote) behaves the same.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from collections.abc import Sequence
from datetime import datetime
from itertools import chain
from operator import attrgetter
from pathlib import Path
from typing import Any, ClassVar, TextIO

from swf_app.link import EngineLink
from swf_app.read_models import STREAMS, JobProgress, soma_job_entry
from swf_domain import serialization
from swf_domain.custom_jobs import (
    CrossValidationFoldJob,
    EngineExecutionJob,
    LeaveOneOutJob,
    ListCatJob,
    MapJob,
    ReduceJob,
    StrCatJob,
)
from swf_domain.errors import (
    InvalidArgumentError,
    SerializationError,
    SomaWorkflowError,
    TransferError,
    UnknownObjectError,
    WorkflowError,
)
from swf_domain.gc_pause import gc_paused
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
from swf_entry import arguments
from swf_entry.configuration import Configuration, LocalSchedulerCfg
from swf_entry.engine_view import EngineJob, command_text, preview_command
from swf_entry.transfers import FacadeTransfers

__all__ = [
    "BarrierJob",
    "CrossValidationFoldJob",
    "EngineExecutionJob",
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


def _to_datetime(epoch: float | None) -> datetime | None:
    if epoch is None:
        return None
    try:
        return datetime.fromtimestamp(epoch)
    except (OverflowError, OSError, ValueError):  # stored by an older client: shown clamped
        return datetime.max if epoch > 0 else datetime.min


class WorkflowController:
    """Submission, control and monitoring of workflows on one computing resource.

    With the default configuration the engine is a detached local daemon, so workflows
    outlive this object; ``isolated_light_mode`` (True or a directory) or a configuration
    in light mode embeds the engine in this process instead, as soma-workflow does.
    """

    #: Class-wide default for ``isolated_light_mode`` (soma-workflow's switch).
    isolated_light_mode: ClassVar[bool | str | None] = None
    logger: ClassVar[logging.Logger] = logging.getLogger("swf.client")
    #: soma-workflow's ``config``: this resource's Configuration (None: built from a link).
    config: Configuration | None
    #: soma-workflow's ``scheduler_config``: the local scheduler's settings.
    scheduler_config: LocalSchedulerCfg | None

    def __init__(
        self,
        resource_id: str | None = None,
        login: str | None = None,
        password: str | None = None,
        config: Any = None,
        rsa_key_pass: str | None = None,
        isolated_light_mode: bool | str | None = None,
    ) -> None:
        from swf_entry.composition import (
            Credentials,
            client_config,
            connect_config,
            facade_transfers,
        )

        if isolated_light_mode is None:
            isolated_light_mode = type(self).isolated_light_mode
        resource_id = arguments.optional_text(resource_id, "resource_id")
        credentials = Credentials(
            arguments.optional_text(login, "login"),
            arguments.secret_text(password, "password"),
            arguments.secret_text(rsa_key_pass, "rsa_key_pass"),
        )
        isolated_light_mode = arguments.isolation(isolated_light_mode)
        self._converted_rows: dict[tuple[int, bool], _ConvertedRows] = {}
        resolved, embedded = client_config(resource_id, None, None, config, isolated_light_mode)
        self._link: EngineLink = connect_config(
            resolved,
            embedded=embedded,
            temporary=isolated_light_mode is True,
            credentials=credentials,
        )
        self.resource_id = resource_id
        self.config = (
            config
            if isinstance(config, Configuration)
            else Configuration.from_resource_config(resolved)
        )
        self.scheduler_config = None  # soma's: only the local scheduler has one
        if resolved.scheduler_type in ("local_basic", "local"):
            self.scheduler_config = LocalSchedulerCfg(proc_nb=resolved.cpu_nb)
            self.scheduler_config.on_proc_nb_change = self._apply_proc_nb
        self.config.set_scheduler_config(self.scheduler_config)
        self._state_dir: Path | None = resolved.state_dir
        #: soma's file-transfer calls (see ``file_transfers``).
        self._transfers = facade_transfers(self._link)

    @classmethod
    def from_link(cls, link: EngineLink) -> WorkflowController:
        """A controller over an existing link (tests, the CLI, embedding applications)."""
        from swf_entry.composition import facade_transfers

        controller = cls.__new__(cls)
        controller._converted_rows = {}
        controller._link = link
        controller.resource_id = None
        controller.config = None
        controller.scheduler_config = None
        controller._state_dir = None
        controller._transfers = facade_transfers(link)
        return controller

    @property
    def link(self) -> EngineLink:
        return self._link

    @property
    def file_transfers(self) -> FacadeTransfers:
        """swf's transfer object behind soma's calls: ``staged`` (the resource does not
        share this client's files), progress callbacks for the copies."""
        return self._transfers

    # -- submission ---------------------------------------------------------------------

    def submit_workflow(
        self,
        workflow: Workflow,
        expiration_date: datetime | None = None,
        name: str | None = None,
        queue: str | None = None,
    ) -> int:
        """Validate and submit ``workflow``; returns its id. Invalid -> WorkflowError/JobError."""
        if not isinstance(workflow, Workflow):
            raise WorkflowError(
                f"submit_workflow: workflow must be a Workflow, not {type(workflow).__name__}"
                + (" (wrap the job: Workflow(jobs=[job]))" if isinstance(workflow, Job) else "")
            )
        expiration = arguments.date(expiration_date, "expiration_date")
        name = arguments.optional_text(name, "name")
        queue = arguments.optional_text(queue, "queue")
        document = _document_of(workflow)
        self._transfers.mark(document)
        workflow_id = self._link.submit_workflow(
            document,
            name if name is not None else _workflow_name(workflow),
            queue,
            expiration,
            _submit_directory(),
        )
        workflow.wf_id = workflow_id
        return workflow_id

    # -- retrieval ----------------------------------------------------------------------

    def workflow(self, workflow_id: int) -> Workflow:
        """The submitted workflow, as soma-workflow gives it: its jobs carry their
        ``job_id``, and ``job_mapping`` maps each job to its engine view (``job_id``,
        ``plain_command()`` as run...), ``transfer_mapping`` each FileTransfer to its
        engine path."""
        workflow_id = arguments.object_id(workflow_id, "workflow_id")
        document = self._link.workflow_document(workflow_id)
        workflow = serialization.workflow_from_dict(document)
        job_ids = document.get("job_ids", [])
        infos = self._link.jobs_info(job_ids) if job_ids else {}
        progress = {p.job_id: p for p in self._link.workflow_elements_status(workflow_id).jobs}
        for job, job_id in zip(workflow.jobs, job_ids, strict=False):
            job.job_id = job_id
            info = infos.get(job_id)
            argv = info.command if info is not None else None
            engine_job = EngineJob(
                job, job_id, workflow_id, argv if argv is not None else preview_command(job)
            )
            engine_job.set_progress(progress.get(job_id))
            workflow.job_mapping[job] = engine_job
        workflow.transfer_mapping = self._transfers.mapping(workflow_id, workflow)
        workflow.wf_id = workflow_id
        return workflow

    def workflows(
        self, workflow_ids: Sequence[int] | None = None
    ) -> dict[int, tuple[str | None, datetime | None]]:
        ids = arguments.optional_ids(workflow_ids, "workflow_ids")
        rows = self._link.workflows(ids)
        return {wf_id: (name, _to_datetime(exp)) for wf_id, (name, exp) in rows.items()}

    def jobs(self, job_ids: Sequence[int] | None = None) -> dict[int, tuple[Any, ...]]:
        """``{job_id: (name, command, submission date)}`` for the given ids, workflow jobs
        included; unknown ids are left out. Without ids: the jobs submitted outside any
        workflow, which swf does not have (``{}``), as soma-workflow answers for them.

        The command is soma's text (each argument quoted): as run once the job ran,
        before that as it will be run, special paths shown by their client-side value.
        """
        ids = arguments.optional_ids(job_ids, "job_ids")
        if not ids:
            return {}
        infos = self._link.jobs_info(ids)
        previews = _Previews(self)
        return {
            job_id: (
                name,
                command_text(argv if argv is not None else previews.command(wf_id, index)),
                _to_datetime(submitted),
            )
            for job_id, (name, argv, submitted, wf_id, index) in infos.items()
        }

    def transfers(self, transfer_ids: Sequence[int] | None = None) -> dict[int, tuple[Any, ...]]:
        """``{id: (engine_path, client_path, expiration_date, client_paths)}`` of the given
        transfers, or of every one registered outside a workflow."""
        return self._transfers.transfers(transfer_ids)

    # -- monitoring ---------------------------------------------------------------------

    def workflow_status(self, workflow_id: int) -> str | None:
        return self._link.workflow_status(arguments.object_id(workflow_id, "workflow_id"))

    def workflow_elements_status(self, workflow_id: int, with_drms_id: bool = True) -> Any:
        """soma's shape: (jobs, transfers, workflow status, queue, temporary paths)."""
        workflow_id = arguments.object_id(workflow_id, "workflow_id")
        with_drms_id = arguments.flag(with_drms_id, "with_drms_id")
        progress = self._link.workflow_elements_status(workflow_id, with_drms_id)
        key = (workflow_id, with_drms_id)
        rows = _soma_job_rows(progress.jobs, with_drms_id, self._converted_rows.pop(key, None))
        self._converted_rows[key] = (progress.jobs, rows)
        while len(self._converted_rows) > _CONVERTED_WORKFLOWS:
            del self._converted_rows[next(iter(self._converted_rows))]  # least recent
        transfers = self._transfers.rows(workflow_id)
        return (rows, transfers, progress.status, progress.queue, [])

    def job_status(self, job_id: int) -> str:
        return self._link.job_status(arguments.object_id(job_id, "job_id"))

    def job_termination_status(
        self, job_id: int
    ) -> tuple[str | None, int | None, int | None, str | None] | None:
        status = self._link.job_termination_status(arguments.object_id(job_id, "job_id"))
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
        job_id = arguments.object_id(job_id, "job_id")
        stdout_file_path = arguments.path(stdout_file_path, "stdout_file_path")
        if stderr_file_path is not None:
            stderr_file_path = arguments.path(stderr_file_path, "stderr_file_path")
        arguments.positive_int(buffer_size, "buffer_size")
        _copy_output(self._link, job_id, "stdout", stdout_file_path)
        if stderr_file_path is not None:
            _copy_output(self._link, job_id, "stderr", stderr_file_path)

    def get_job_output_params(self, job_id: int) -> dict[str, Any] | None:
        return self._link.get_job_output_params(arguments.object_id(job_id, "job_id"))

    def get_engine_job(self, job_id: int) -> EngineJob:
        """The engine's view of one job (soma-workflow's EngineJob): ``job_id``,
        ``workflow_id``, ``status``, ``command``..., and the job's own attributes."""
        job_id = arguments.object_id(job_id, "job_id")
        info = self._link.jobs_info([job_id]).get(job_id)
        if info is None:
            raise UnknownObjectError(f"job {job_id} does not exist (or was deleted)")
        _name, _argv, _date, workflow_id, index = info
        workflow = self.workflow(workflow_id)
        engine_job: EngineJob = workflow.job_mapping[workflow.jobs[index]]
        return engine_job

    def get_job_command(self, job_id: int) -> str:
        """The job's command line as soma-workflow's database holds it (quoted words)."""
        job_id = arguments.object_id(job_id, "job_id")
        found = self.jobs([job_id]).get(job_id)
        if found is None:
            raise UnknownObjectError(f"job {job_id} does not exist (or was deleted)")
        return str(found[1])

    def updated_job_parameters(self, job_id: int) -> dict[str, Any]:
        """The job's output parameters (what its param links give downstream jobs)."""
        return self.get_job_output_params(job_id) or {}

    def drms_job_id(self, wf_id: int, job_id: int) -> str | None:
        """The scheduler's id of the job's current or last run (None before it ran)."""
        wf_id = arguments.object_id(wf_id, "wf_id")
        job_id = arguments.object_id(job_id, "job_id")
        for entry in self.workflow_elements_status(wf_id, with_drms_id=True)[0]:
            if entry[0] == job_id:
                return entry[5] if len(entry) > 5 else None
        raise UnknownObjectError(f"job {job_id} is not a job of workflow {wf_id}")

    def get_scheduler_type(self) -> str:
        """The scheduler type running jobs ('local_basic')."""
        return self.config.get_scheduler_type() if self.config is not None else "local_basic"

    def log_failed_workflow(self, workflow_id: int, file: TextIO = sys.stderr) -> None:
        """Print every failed job of the workflow with its exit info and output files."""
        workflow_id = arguments.object_id(workflow_id, "workflow_id")
        if not callable(getattr(file, "write", None)):
            raise InvalidArgumentError("file must be a writable text file")
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
        return self._link.stop_workflow(arguments.object_id(workflow_id, "workflow_id"))

    def restart_workflow(self, workflow_id: int, queue: str | None = None) -> bool:
        return self._link.restart_workflow(
            arguments.object_id(workflow_id, "workflow_id"),
            arguments.optional_text(queue, "queue"),
        )

    def delete_workflow(self, workflow_id: int, force: bool = True) -> bool:
        return self._link.delete_workflow(
            arguments.object_id(workflow_id, "workflow_id"), arguments.flag(force, "force")
        )

    def stop_jobs(self, workflow_id: int, job_ids: Sequence[int]) -> bool:
        return self._link.stop_jobs(
            arguments.object_id(workflow_id, "workflow_id"),
            arguments.object_ids(job_ids, "job_ids"),
        )

    def restart_jobs(self, workflow_id: int, job_ids: Sequence[int]) -> bool:
        return self._link.restart_jobs(
            arguments.object_id(workflow_id, "workflow_id"),
            arguments.object_ids(job_ids, "job_ids"),
        )

    def wait_workflow(self, workflow_id: int, timeout: float = -1) -> None:
        workflow_id = arguments.object_id(workflow_id, "workflow_id")
        self._link.wait_workflow(workflow_id, arguments.timeout(timeout))

    def wait_job(self, job_ids: Sequence[int], timeout: float = -1) -> None:
        ids = arguments.object_ids(job_ids, "job_ids")
        self._link.wait_job(ids, arguments.timeout(timeout))

    def change_workflow_expiration_date(
        self, workflow_id: int, new_expiration_date: datetime | None
    ) -> bool:
        return self._link.change_workflow_expiration_date(
            arguments.object_id(workflow_id, "workflow_id"),
            arguments.date(new_expiration_date, "new_expiration_date"),
        )

    # -- file transfers (soma-workflow's calls; see swf_entry.transfers) -----------------

    def register_transfer(self, file_transfer: FileTransfer) -> Any:
        """A transfer outside any workflow; its EngineTransfer (``transfer_id``...)."""
        return self._transfers.register(file_transfer)

    def transfer_files(self, transfer_ids: Sequence[Any], buffer_size: int = 256 * 1024) -> bool:
        """Send (on the client) or fetch (on the resource) each transfer's files."""
        return self._transfers.transfer_files(transfer_ids)

    def transfer_status(self, transfer_id: Any) -> Any:
        """``(status, progression)``: ``(size, transferred)`` while moving, else (100, 100)."""
        return self._transfers.status(transfer_id)

    def delete_transfer(self, transfer_id: Any) -> bool:
        return self._transfers.delete(transfer_id)

    def disconnect(self) -> None:
        """Close this client; the workflows go on (and, embedded, the engine stops)."""
        self._link.close()

    def stop_engine(self) -> None:
        """Stop the engine this controller uses, then disconnect (soma-workflow's call).

        Embedded, the engine thread stops; with the local daemon, the daemon stops (the
        next client starts it again). Running jobs go on in the job host either way and
        the next engine picks up their ends. The controller is unusable afterwards.
        """
        from swf_entry.daemon import stop_engine

        embedded = hasattr(self._link, "shutdown")
        self.disconnect()
        if not embedded and self._state_dir is not None:
            stop_engine(self._state_dir)
        self.scheduler_config = None

    def _apply_proc_nb(self, slots: int) -> None:
        """``scheduler_config.set_proc_nb``: the live engine's cores, when it is ours."""
        set_slots = getattr(self._link, "set_slots", None)
        if set_slots is None:
            warnings.warn(
                "set_proc_nb: the engine runs in a daemon, which keeps its CPU_NB; set CPU_NB"
                " in the configuration and restart it (`swf engine stop`) to change it",
                stacklevel=3,
            )
            return
        set_slots(slots)

    def __enter__(self) -> WorkflowController:
        return self

    def __exit__(self, *exc: object) -> None:
        self.disconnect()


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
    with gc_paused():  # many new tuples and datetimes, none of them a cycle
        for index, job in enumerate(jobs):
            if reuse and old_jobs[index] is job:
                result.append(old_rows[index])
            else:
                result.append(soma_job_entry(job, with_drms_id, _to_datetime))
    return result


def _document_of(workflow: Workflow) -> dict[str, Any]:
    """The workflow as a document, or the typed error naming what is wrong with it.

    Validation names structural mistakes (a job outside the workflow, listed twice...)
    with the documented WorkflowError/JobError; an attribute set to something that is
    not even of the right kind (``wf.dependencies = object()``) is a WorkflowError naming
    the attribute, not a raw TypeError from the writer.
    """
    _check_attribute_kinds(workflow)
    try:
        return serialization.workflow_to_dict(workflow)
    except SerializationError:
        validate(workflow)
        raise
    except (TypeError, ValueError, AttributeError, KeyError, IndexError, OverflowError) as error:
        validate(workflow)
        raise WorkflowError(f"workflow {workflow.name!r} cannot be submitted: {error}") from error


#: Workflow attributes and the kinds they must be (soma-workflow's documented types).
_WORKFLOW_KINDS: dict[str, tuple[type, ...]] = {
    "jobs": (list, tuple),
    "dependencies": (list, tuple),
    "root_group": (list, tuple),
    "groups": (list, tuple),
    "param_links": (dict,),
    "env": (dict,),
    "name": (str, type(None)),
    "env_builder_code": (str, type(None)),
    "native_specification": (str, list, type(None)),
}
_JOB_LIST_KINDS: dict[str, tuple[type, ...]] = {
    "referenced_input_files": (list, tuple, type(None)),
    "referenced_output_files": (list, tuple, type(None)),
}


#: Job classes accepted without a per-job isinstance test (subclasses take the long way).
_JOB_CLASSES = frozenset({Job, BarrierJob})


def _check_attribute_kinds(workflow: Workflow) -> None:
    problems = [
        f"workflow attribute {name} must be a {' or '.join(k.__name__ for k in kinds)},"
        f" not {type(getattr(workflow, name, None)).__name__}"
        for name, kinds in _WORKFLOW_KINDS.items()
        if not isinstance(getattr(workflow, name, None), kinds)
    ]
    if problems:
        raise WorkflowError("; ".join(problems))
    if _jobs_of_right_kinds(workflow.jobs):
        return
    for job in workflow.jobs:
        if not isinstance(job, Job):
            raise WorkflowError(f"workflow jobs must be Jobs, not {type(job).__name__}")
        for name, kinds in _JOB_LIST_KINDS.items():
            if not isinstance(getattr(job, name, None), kinds):
                raise WorkflowError(
                    f"job {job.name!r}: {name} must be a list of paths, not"
                    f" {type(getattr(job, name, None)).__name__}"
                )


def _jobs_of_right_kinds(jobs: Sequence[Any]) -> bool:
    """True when every job and its file lists are of the right kinds, told by loops that
    run in C (a million jobs); else the loop above names the first culprit."""
    if not set(map(type, jobs)) <= _JOB_CLASSES:
        return False
    lists = map(attrgetter(*_JOB_LIST_KINDS), jobs)
    try:
        return set(map(type, chain.from_iterable(lists))) <= {list, tuple, type(None)}
    except AttributeError:  # an attribute deleted: the long way names it
        return False


def _workflow_name(workflow: Workflow) -> str | None:
    return arguments.optional_text(workflow.name, "workflow.name")


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
            data = Path(file_path).read_bytes()  # decoded by loads, naming a bad byte
        except OSError as error:
            raise SerializationError(f"{file_path}: cannot read: {error.strerror}") from error
        return serialization.loads(data, source=str(file_path))

    @staticmethod
    def transfer_input_files(
        workflow_id: int, wf_ctrl: WorkflowController, buffer_size: int = 256 * 1024
    ) -> None:
        """Send the workflow's input files still on the client (its jobs wait for them);
        nothing to move where the resource shares the client's files."""
        wf_ctrl.file_transfers.move_workflow(workflow_id, inputs=True)

    @staticmethod
    def transfer_output_files(
        workflow_id: int, wf_ctrl: WorkflowController, buffer_size: int = 256 * 1024
    ) -> None:
        """Fetch the workflow's output files its jobs have written on the resource."""
        wf_ctrl.file_transfers.move_workflow(workflow_id, inputs=False)

    @staticmethod
    def cpu_count() -> int:
        return os.cpu_count() or 1


class _Previews:
    """Commands of jobs not run yet, from their workflow (read once per workflow)."""

    def __init__(self, controller: WorkflowController) -> None:
        self._controller = controller
        self._workflows: dict[int, Workflow] = {}

    def command(self, workflow_id: int, index: int) -> list[str]:
        workflow = self._workflows.get(workflow_id)
        if workflow is None:
            document = self._controller.link.workflow_document(workflow_id)
            workflow = self._workflows[workflow_id] = serialization.workflow_from_dict(document)
        return preview_command(workflow.jobs[index])


def _submit_directory() -> str | None:
    """Where this client is: the workflow's jobs without a working directory run there
    (None when it was removed under our feet: the engine then uses the user's home)."""
    try:
        return os.getcwd()
    except OSError:
        return None
