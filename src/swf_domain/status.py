"""Job, workflow, exit and transfer statuses, and the legal job transitions.

The string values are soma-workflow's exactly (its ``constants.py``), typos included
(``"worklflow_not_started"``), because users compare against those strings and soma JSON
files and databases carry them.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class JobStatus(StrEnum):
    NOT_SUBMITTED = "not_submitted"
    UNDETERMINED = "undetermined"
    QUEUED_ACTIVE = "queued_active"
    SYSTEM_ON_HOLD = "system_on_hold"
    USER_ON_HOLD = "user_on_hold"
    USER_SYSTEM_ON_HOLD = "user_system_on_hold"
    RUNNING = "running"
    SYSTEM_SUSPENDED = "system_suspended"
    USER_SUSPENDED = "user_suspended"
    USER_SYSTEM_SUSPENDED = "user_system_suspended"
    DONE = "done"
    FAILED = "failed"
    DELETE_PENDING = "delete_pending"
    KILL_PENDING = "kill_pending"
    SUBMISSION_PENDING = "submission_pending"
    WARNING = "warning"

    def __str__(self) -> str:
        return self.value


class ExitStatus(StrEnum):
    EXIT_UNDETERMINED = "exit_status_undetermined"
    EXIT_ABORTED = "aborted"
    EXIT_NOTRUN = "aborted_before_running"
    FINISHED_REGULARLY = "finished_regularly"
    FINISHED_TERM_SIG = "finished_signal"
    FINISHED_UNCLEAR_CONDITIONS = "finished_unclear_condition"
    USER_KILLED = "killed_by_user"

    def __str__(self) -> str:
        return self.value


class WorkflowStatus(StrEnum):
    NOT_STARTED = "worklflow_not_started"
    IN_PROGRESS = "workflow_in_progress"
    DONE = "workflow_done"
    DELETE_PENDING = "delete_pending"
    WARNING = "warning"

    def __str__(self) -> str:
        return self.value


class TransferStatus(StrEnum):
    FILES_DO_NOT_EXIST = "do not exist"
    FILES_ON_CLIENT = "on client side"
    FILES_ON_CR = "on computing resource side"
    FILES_ON_CLIENT_AND_CR = "on both sides"
    TRANSFERING_FROM_CLIENT_TO_CR = "transfering client->cr"
    TRANSFERING_FROM_CR_TO_CLIENT = "transfering cr->client"
    FILES_UNDER_EDITION = "under edition"

    def __str__(self) -> str:
        return self.value


#: Statuses a job never leaves on its own: the engine is done with it.
TERMINAL_JOB_STATUSES = frozenset({JobStatus.DONE, JobStatus.FAILED})

#: Statuses of a job the scheduler holds (queued or running) and could end.
ACTIVE_JOB_STATUSES = frozenset(
    {
        JobStatus.UNDETERMINED,
        JobStatus.QUEUED_ACTIVE,
        JobStatus.SYSTEM_ON_HOLD,
        JobStatus.USER_ON_HOLD,
        JobStatus.USER_SYSTEM_ON_HOLD,
        JobStatus.RUNNING,
        JobStatus.SYSTEM_SUSPENDED,
        JobStatus.USER_SUSPENDED,
        JobStatus.USER_SYSTEM_SUSPENDED,
        JobStatus.SUBMISSION_PENDING,
        JobStatus.KILL_PENDING,
    }
)

_QUEUED_OR_HELD = frozenset(
    {
        JobStatus.UNDETERMINED,
        JobStatus.QUEUED_ACTIVE,
        JobStatus.SYSTEM_ON_HOLD,
        JobStatus.USER_ON_HOLD,
        JobStatus.USER_SYSTEM_ON_HOLD,
        JobStatus.SYSTEM_SUSPENDED,
        JobStatus.USER_SUSPENDED,
        JobStatus.USER_SYSTEM_SUSPENDED,
        JobStatus.WARNING,
    }
)


def _transitions() -> dict[JobStatus, frozenset[JobStatus]]:
    """The one table of legal job transitions (source -> allowed targets).

    A job is born NOT_SUBMITTED; the engine submits it (SUBMISSION_PENDING), the scheduler
    queues and runs it, and it ends DONE or FAILED. FAILED and DONE go back to
    NOT_SUBMITTED only through a restart; DELETE_PENDING is the end of the line.
    """
    ended = {JobStatus.DONE, JobStatus.FAILED}
    scheduler_side = set(_QUEUED_OR_HELD) | {JobStatus.RUNNING}
    table: dict[JobStatus, set[JobStatus]] = {
        JobStatus.NOT_SUBMITTED: {
            JobStatus.SUBMISSION_PENDING,
            JobStatus.FAILED,  # aborted before running, or stopped
            JobStatus.DONE,  # barrier jobs end without a process
            JobStatus.DELETE_PENDING,
            *scheduler_side,
        },
        JobStatus.SUBMISSION_PENDING: {
            *scheduler_side,
            *ended,
            JobStatus.KILL_PENDING,
            JobStatus.NOT_SUBMITTED,
            JobStatus.DELETE_PENDING,
        },
        JobStatus.KILL_PENDING: {*ended, JobStatus.DELETE_PENDING},
        JobStatus.DONE: {JobStatus.NOT_SUBMITTED, JobStatus.DELETE_PENDING},
        JobStatus.FAILED: {JobStatus.NOT_SUBMITTED, JobStatus.DELETE_PENDING},
        JobStatus.DELETE_PENDING: set(),
    }
    for status in scheduler_side:
        table[status] = (
            (scheduler_side - {status})
            | ended
            | {
                JobStatus.KILL_PENDING,
                JobStatus.DELETE_PENDING,
            }
        )
    return {source: frozenset(targets) for source, targets in table.items()}


JOB_TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = _transitions()


def is_legal_transition(source: JobStatus, target: JobStatus) -> bool:
    """True when a job may go from ``source`` to ``target`` (same status is a no-op)."""
    return source == target or target in JOB_TRANSITIONS[source]


def derive_workflow_status(job_statuses: Iterable[JobStatus]) -> WorkflowStatus:
    """A workflow's status as soma-workflow reports it, from its jobs' statuses.

    NOT_STARTED while no job has left NOT_SUBMITTED, DONE once every job is terminal
    (DONE or FAILED, whatever the exit status), IN_PROGRESS otherwise; DELETE_PENDING
    as soon as one job is being deleted.
    """
    seen_started = False
    seen_pending = False
    for status in job_statuses:
        if status is JobStatus.DELETE_PENDING:
            return WorkflowStatus.DELETE_PENDING
        if status in TERMINAL_JOB_STATUSES:
            seen_started = True
        elif status is JobStatus.NOT_SUBMITTED:
            seen_pending = True
        else:
            return WorkflowStatus.IN_PROGRESS
    if not seen_started:
        return WorkflowStatus.NOT_STARTED if seen_pending else WorkflowStatus.DONE
    return WorkflowStatus.IN_PROGRESS if seen_pending else WorkflowStatus.DONE


class ExitInfo:
    """How a job ended: soma-workflow's (exit_status, exit_value, term_signal, resource_usage).

    ``resource_usage`` is soma's ``"name=value name=value"`` string (``cput=0.01
    mem=1234kb walltime=0.5``) so it reads the same whatever the scheduler.
    """

    __slots__ = ("exit_status", "exit_value", "resource_usage", "term_signal")

    def __init__(
        self,
        exit_status: ExitStatus,
        exit_value: int | None = None,
        term_signal: int | None = None,
        resource_usage: str | None = None,
    ) -> None:
        self.exit_status = exit_status
        self.exit_value = exit_value
        self.term_signal = term_signal
        self.resource_usage = resource_usage

    def as_tuple(self) -> tuple[str, int | None, int | None, str | None]:
        return (self.exit_status.value, self.exit_value, self.term_signal, self.resource_usage)

    def succeeded(self) -> bool:
        return self.exit_status is ExitStatus.FINISHED_REGULARLY and self.exit_value == 0

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ExitInfo) and self.as_tuple() == other.as_tuple()

    def __hash__(self) -> int:
        return hash(self.as_tuple())

    def __repr__(self) -> str:
        return f"ExitInfo{self.as_tuple()!r}"


#: The exit info of a job that never ran because an ancestor failed.
ABORTED_BEFORE_RUNNING = ExitInfo(ExitStatus.EXIT_NOTRUN)
