"""Where a workflow's special paths are on the resource, as the engine decides.

TemporaryPaths get a file or directory in the Workspace, made on first use (the first
job needing one is being submitted). Their Workspace name must not change when the
engine restarts and rebuilds the workflow from its document, so it is the path's rank
in a fixed walk over the jobs, done once per workflow and only if it has temporary
paths at all. SharedResourcePaths go through the resource's translation table.
FileTransfers are at their client path unless a stager tells otherwise (a local
resource shares the client's filesystem).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from swf_domain.errors import JobError
from swf_domain.model import (
    FileTransfer,
    SharedResourcePath,
    SpecialPath,
    TemporaryPath,
    Workflow,
)
from swf_domain.transfers import referents_in
from swf_domain.translation import TranslationTable, translated_root_path

from .ports import Workspace

#: (workflow id, workflow) -> where each of its transfers is on the resource, or None
#: when the workflow's transfers are used in place (the client shares the files).
TransferLocator = Callable[[int, Workflow], Callable[[FileTransfer], str] | None]

_PATH_FIELDS = (
    "stdin",
    "stdout_file",
    "stderr_file",
    "working_directory",
    "input_params_file",
    "output_params_file",
)


class WorkflowPathResolver:
    """swf_domain.command.PathResolver for one workflow on this engine's resource."""

    def __init__(
        self,
        workflow_id: int,
        workflow: Workflow,
        workspace: Workspace,
        translations: TranslationTable,
        transfer_locator: TransferLocator | None = None,
    ) -> None:
        self._workflow_id = workflow_id
        self._workflow = workflow
        self._workspace = workspace
        self._translations = translations
        self._locate = transfer_locator(workflow_id, workflow) if transfer_locator else None
        self._temporary_keys: dict[int, str] | None = None
        self._made: dict[int, str] = {}

    def resolve(self, path: SpecialPath) -> str:
        if isinstance(path, TemporaryPath):
            return self._temporary(path)
        if isinstance(path, SharedResourcePath):
            return translated_root_path(path, self._translations)
        if isinstance(path, FileTransfer):
            if self._locate is not None:
                return self._locate(path)
            if path.client_path is None:
                raise JobError(f"file transfer {path.name!r} has no client path")
            return path.client_path
        raise JobError(f"no location on the resource for a {type(path).__name__}")

    def _temporary(self, path: TemporaryPath) -> str:
        made = self._made.get(id(path))
        if made is not None:
            return made
        if self._temporary_keys is None:
            self._temporary_keys = temporary_path_keys(self._workflow)
        key = self._temporary_keys.get(id(path))
        if key is None:  # not reachable from the jobs (cannot happen for a valid workflow)
            key = f"t{len(self._temporary_keys)}"
            self._temporary_keys[id(path)] = key
        location = self._workspace.temporary_path(
            self._workflow_id, key, path.is_directory, path.suffix
        )
        self._made[id(path)] = location
        return location


def temporary_path_keys(workflow: Workflow) -> dict[int, str]:
    """A stable name for each TemporaryPath of the workflow (by object id).

    The rank in a walk over the jobs in order and, in each job, over its command, its
    parameters, its referenced files and its path fields; the path's name, when it has
    one, is kept in the key for whoever looks at the files.
    """
    keys: dict[int, str] = {}
    for job in workflow.jobs:
        for item in _job_items(job):
            for path in _temporary_paths(item):
                if id(path) not in keys:
                    suffix = f"_{path.name}" if path.name else ""
                    keys[id(path)] = f"t{len(keys)}{suffix}"
    return keys


def _job_items(job: Any) -> Iterator[Any]:
    yield job.command
    yield list((job.param_dict or {}).values())
    yield job.referenced_input_files or []
    yield job.referenced_output_files or []
    for name in _PATH_FIELDS:
        yield getattr(job, name)


def _temporary_paths(item: Any) -> Iterator[TemporaryPath]:
    return (r for r in referents_in(item) if isinstance(r, TemporaryPath))
