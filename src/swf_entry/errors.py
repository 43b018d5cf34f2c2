"""soma-workflow's ``errors`` module: its exception names, all swf's own classes.

Unlike soma-workflow's (each a direct ``Exception`` subclass), they share one base,
``SomaWorkflowError``, so one ``except`` clause catches every error swf raises on purpose.
"""

from __future__ import annotations

from swf_domain.errors import (
    ConfigurationError,
    ConnectionError,
    DatabaseError,
    DRMError,
    EngineError,
    ExitTimeoutException,
    JobError,
    NoDrmaaLibError,
    SerializationError,
    SomaWorkflowError,
    TransferError,
    UnknownObjectError,
    WorkflowError,
)

__all__ = [
    "ConfigurationError",
    "ConnectionError",
    "DRMError",
    "DatabaseError",
    "EngineError",
    "ExitTimeoutException",
    "JobError",
    "NoDrmaaLibError",
    "SerializationError",
    "SomaWorkflowError",
    "TransferError",
    "UnknownObjectError",
    "WorkflowError",
]
