"""Shared machinery of the batch schedulers (SLURM; PBS Pro and Grid Engine next): the job
wrapper and its end files, the job directory as journal, array batching, the poller."""

from .adapter import BatchScheduler, BatchSettings
from .commands import CommandRunner
from .system import BatchSystem, Shape

__all__ = ["BatchScheduler", "BatchSettings", "BatchSystem", "CommandRunner", "Shape"]
