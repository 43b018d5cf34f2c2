"""Retries: a failed attempt of a job that asked for several runs again before the job
counts as FAILED.

A job asks with ``Job(attempts=N)``, a workflow for its jobs with
``Workflow(attempts=N)``; the resource's ``MAX_ATTEMPTS`` option is the default for the
others (1 without it: soma-workflow's behaviour). What counts
as a failed attempt: a non-zero exit, a signal, a job the cluster killed or lost. Never a
job the user stopped (exit status USER_KILLED, ``stop_jobs``, ``stop_workflow``).

Crash safety rests on the order of things: the end of attempt n and the NOT_SUBMITTED
state of attempt n + 1 (its number, the earlier attempts' exit info) are written in the
same transaction; attempt n + 1 is queued only after that end was acknowledged to the
scheduler (``TickChanges.retries``), so the scheduler never holds two attempts of one
job and a restarted engine finds either attempt n running or ended (replayed end), or
attempt n + 1 waiting: no attempt is lost or run twice.
"""

from __future__ import annotations

from typing import Any

from swf_domain.model import Job, Workflow
from swf_domain.status import ExitStatus

from .ports import JobState

#: JobState fields kept for each earlier attempt (``JobState.past_attempts``).
_RECORDED = (
    "exit_value",
    "term_signal",
    "resource_usage",
    "scheduler_job_id",
    "submission_date",
    "execution_date",
    "ending_date",
)


def allowed_attempts(job: Job, workflow: Workflow, default: int) -> int:
    """How many times the job may run: its own ``attempts``, else its workflow's, else
    the resource's (``default``)."""
    attempts = getattr(job, "attempts", None)
    if attempts is None:
        attempts = getattr(workflow, "attempts", None)
    return default if attempts is None else attempts


def worth_retrying(state: JobState, allowed: int) -> bool:
    """A failed attempt the engine should follow with another one."""
    return state.exit_status is not ExitStatus.USER_KILLED and state.attempt < allowed


def attempt_record(state: JobState) -> dict[str, Any]:
    """What is kept of an ended attempt (exit info, scheduler id, dates)."""
    record: dict[str, Any] = {"attempt": state.attempt}
    record["exit_status"] = None if state.exit_status is None else state.exit_status.value
    for name in _RECORDED:
        record[name] = getattr(state, name)
    return record


def next_attempt(state: JobState) -> JobState:
    """The NOT_SUBMITTED state of the attempt after ``state``'s, with its history."""
    past = [*(state.past_attempts or []), attempt_record(state)]
    return JobState(queue=state.queue, attempt=state.attempt + 1, past_attempts=past)


def is_previous_attempts_end(
    state: JobState, end_time: float | None, scheduler_id: str | None
) -> bool:
    """The end the scheduler reports is the previous attempt's, reported again because the
    engine crashed after recording it and before acknowledging it: same end time and
    scheduler id as recorded. Asked only of a job adopted while waiting for its next
    attempt (``ActiveJob.maybe_replay``), the one case where the job id is ambiguous."""
    if end_time is None or not state.past_attempts:
        return False
    previous = state.past_attempts[-1]
    return bool(
        previous.get("ending_date") == end_time and previous.get("scheduler_job_id") == scheduler_id
    )
