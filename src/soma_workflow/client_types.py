"""``soma_workflow.client_types``: where soma-workflow defines the workflow classes."""

from __future__ import annotations

from swf_entry.client import (
    BarrierJob,
    EngineExecutionJob,
    FileTransfer,
    Group,
    Job,
    OptionPath,
    SharedResourcePath,
    SpecialPath,
    TemporaryPath,
    Workflow,
)

__all__ = [
    "BarrierJob",
    "EngineExecutionJob",
    "FileTransfer",
    "Group",
    "Job",
    "OptionPath",
    "SharedResourcePath",
    "SpecialPath",
    "TemporaryPath",
    "Workflow",
]
