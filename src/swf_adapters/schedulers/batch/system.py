"""What the shared batch machinery needs from one batch system (SLURM, PBS, Grid Engine).

A batch system is only a translator: it builds command lines and reads their output. It
runs nothing itself, so it is tested on recorded outputs; the ``BatchScheduler`` runs the
commands (with timeouts and retries) and keeps the state.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Protocol

from swf_app.ports import LaunchRequest


@dataclass(frozen=True, slots=True)
class Shape:
    """The resources a job asks for; jobs of one shape can share one array job."""

    queue: str | None = None
    #: CPUs per node (parallel_job_info's cpu_per_node).
    cpus: int = 1
    #: Scheduler options, already split into arguments (native specification).
    options: tuple[str, ...] = ()
    #: Nodes (parallel_job_info's nodes_number).
    nodes: int = 1


class TaskState(Enum):
    PENDING = "pending"
    RUNNING = "running"
    #: Left the running state; ``TaskView.reason`` says how (COMPLETED, CANCELLED, TIMEOUT...).
    FINISHED = "finished"


@dataclass(frozen=True, slots=True)
class TaskView:
    state: TaskState
    #: The cluster's own word for the state (``PENDING``, ``TIMEOUT``...).
    reason: str


@dataclass(slots=True)
class ArrayView:
    """What one status call said about one array job."""

    #: Index ranges still pending, as the cluster collapses them (``[31-2000]``).
    pending: list[range] = field(default_factory=list)
    pending_reason: str = "PENDING"
    #: Indices listed one by one (running, or finished and still remembered).
    tasks: dict[int, TaskView] = field(default_factory=dict)
    #: The batch script the job runs (how a batch is found again after a crash): as
    #: the cluster shows it, with its arguments after it (SLURM's command) or qsub's
    #: before it (PBS joins them with spaces).
    script: str = ""
    #: The job's name when the status call lists other engines' jobs too (PBS), else "".
    name: str = ""

    def is_pending(self, index: int) -> bool:
        return any(index in span for span in self.pending)

    def runs(self, script: str, tag: str) -> bool:
        """True when this is the batch ``script`` of the engine whose jobs are named
        ``tag``. A script path may hold spaces, so it is not one word of the shown
        command line: it is matched at its start or end, and the name rules out another
        engine whose job directory would end the same way."""
        if self.name and self.name != tag:
            return False
        shown = self.script
        return shown == script or shown.endswith(f" {script}") or shown.startswith(f"{script} ")


#: One status call's answer: cluster job id -> what it said about that array.
QueueView = dict[str, ArrayView]


class RefusedError(Exception):
    """The cluster refused a submission (bad option, unknown partition...)."""


class BatchSystem(Protocol):
    """Command lines and output parsing of one batch system."""

    #: Name used in messages (``SLURM``).
    name: str
    #: The environment variable holding the task's array index on the compute node.
    index_variable: str

    def shape_of(self, request: LaunchRequest, default_options: Sequence[str]) -> Shape:
        """The resource shape of a job (options given by the job, else the resource's)."""
        ...

    def submit_command(self, script: Path, count: int, shape: Shape, tag: str) -> list[str]:
        """Submit ``count`` tasks (indices 0..count-1) of ``script`` as ONE array job."""
        ...

    def parse_submitted(self, stdout: str) -> str:
        """The cluster id of the array job just submitted."""
        ...

    def status_command(self, tag: str, cluster_ids: Sequence[str] | None) -> list[str]:
        """ONE call listing every job named ``tag`` (pending, running, recently ended).
        ``cluster_ids`` are this engine's array jobs, for a system that asks by id (PBS);
        None when a batch must be found by its script (its id was lost in a crash)."""
        ...

    def parse_status(self, stdout: str) -> QueueView: ...

    def partial_status(self, returncode: int, stderr: str) -> bool:
        """True when a failed status call still answered for the jobs it knows (PBS's
        qstat fails for an id it has forgotten, and lists the others)."""
        ...

    def task_id(self, cluster_id: str, index: int) -> str:
        """The cluster's name for task ``index`` of array job ``cluster_id``, as users
        see it (``123_4`` on SLURM, ``123[4].server`` on PBS, ``123.5`` on Grid Engine)."""
        ...

    def cancel_command(self, task_ids: Sequence[str]) -> list[str]:
        """ONE call cancelling these jobs (``123`` = whole array, ``123_4`` = one task)."""
        ...

    def unavailable(self, returncode: int, stderr: str) -> bool:
        """True when a failed call means the controller did not answer (retry later),
        False when it refused the request (do not retry)."""
        ...
