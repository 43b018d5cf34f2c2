"""What ``WorkflowController.workflow()`` maps each client object to: its engine view.

soma-workflow returns an ``EngineWorkflow`` whose ``job_mapping`` maps each client Job to
an ``EngineJob`` (the job plus ``job_id``, ``workflow_id``, ``plain_command()``...), and
whose ``transfer_mapping`` maps each FileTransfer to its engine side. Scripts iterate
them (``for ej in wf.job_mapping.values(): ej.job_id``); these classes give the same
attributes without copying every job: anything not set here is read from the client job.
"""

from __future__ import annotations

from typing import Any

from swf_app.read_models import JobProgress
from swf_domain.command import render_command
from swf_domain.errors import SomaWorkflowError
from swf_domain.model import FileTransfer, Job, SharedResourcePath, SpecialPath, TemporaryPath


class EngineJob:
    """One submitted job as the engine knows it (soma-workflow's EngineJob attributes)."""

    def __init__(self, job: Job, job_id: int, workflow_id: int, argv: list[str]) -> None:
        self.job = job
        self.job_id = job_id
        self.workflow_id = workflow_id
        self._argv = argv

    def set_progress(self, progress: JobProgress | None) -> None:
        """soma's EngineJob state fields, as the engine last recorded them."""
        self.status = progress.status if progress is not None else None
        self.exit_status = progress.exit_status if progress is not None else None
        self.exit_value = progress.exit_value if progress is not None else None
        self.terminating_signal = progress.term_signal if progress is not None else None
        self.drmaa_id = progress.scheduler_job_id if progress is not None else None
        self.queue = progress.queue if progress is not None else None

    def plain_command(self) -> list[str]:
        """argv as run (or as it will be run, special paths by their client-side value);
        ``command`` is the job's own, as in soma-workflow."""
        return list(self._argv)

    def __getattr__(self, name: str) -> Any:
        # Only called for attributes not set above: the client job's own (name, priority...).
        if name in ("job", "_argv"):
            raise AttributeError(name)
        return getattr(self.job, name)

    def __repr__(self) -> str:
        return f"<EngineJob {self.job_id} {self.job.name!r}>"


class EngineTransfer:
    """A FileTransfer's engine side (soma-workflow's): its id, where it is on the
    resource (on a local resource, its client path: used in place) and its status."""

    def __init__(
        self,
        transfer: FileTransfer,
        transfer_id: int | None = None,
        engine_path: str | None = None,
        status: str | None = None,
    ) -> None:
        self.client_transfer = transfer
        self.client_path = transfer.client_path
        self.client_paths = transfer.client_paths
        self.engine_path = engine_path if engine_path is not None else transfer.client_path
        self.transfer_id = transfer_id
        self.status = status if status is not None else transfer.initial_status
        self.is_input = transfer.is_input
        self.name = transfer.name
        self.disposal_timeout = transfer.disposal_timeout

    def __repr__(self) -> str:
        return f"<EngineTransfer {self.engine_path!r}>"


class _ClientSideResolver:
    """Shows special paths by what the client knows of them (the engine's paths of
    temporary files and translations are known only where the job runs)."""

    def resolve(self, path: SpecialPath) -> str:
        if isinstance(path, FileTransfer):
            return path.client_path or ""
        if isinstance(path, TemporaryPath):
            return f"<temporary {path.name or 'path'}>"
        if isinstance(path, SharedResourcePath):
            return f"<{path.namespace}:{path.uuid}>/{path.relative_path}"
        return f"<{type(path).__name__}>"


def preview_command(job: Job) -> list[str]:
    """``job``'s argv before it runs (placeholders filled from its param_dict)."""
    try:
        return render_command(job, _ClientSideResolver())
    except (SomaWorkflowError, TypeError, ValueError):
        return [str(item) for item in job.command]


def command_text(argv: list[str]) -> str:
    """soma-workflow's stored form of a command: each argument's repr, space-separated."""
    return " ".join(repr(item) for item in argv)
