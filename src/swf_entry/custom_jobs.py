"""soma-workflow's ``custom_jobs`` module: the engine-execution jobs, swf's classes."""

from __future__ import annotations

from swf_domain.custom_jobs import (
    CrossValidationFoldJob,
    EngineExecutionJob,
    LeaveOneOutJob,
    ListCatJob,
    MapJob,
    ReduceJob,
    StrCatJob,
)
from swf_domain.model import BarrierJob, Job

__all__ = [
    "BarrierJob",
    "CrossValidationFoldJob",
    "EngineExecutionJob",
    "Job",
    "LeaveOneOutJob",
    "ListCatJob",
    "MapJob",
    "ReduceJob",
    "StrCatJob",
]
