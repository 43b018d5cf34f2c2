"""Rebuilding a workflow's runtime from the store, and reconciling it with the scheduler.

Used when the engine starts (every unfinished workflow) and when a command needs a
finished workflow again (restart). The store is the source of truth, the scheduler
knows what still runs:

- a job the store has active (submitted, running) that the scheduler holds is adopted:
  its end will come as an event;
- a job the store has NOT_SUBMITTED that the scheduler holds was submitted just before
  a crash, before its state was committed: adopted as RUNNING;
- a job the store has active that the scheduler does not hold is lost: FAILED with
  exit status ``exit_status_undetermined`` (never RUNNING forever), and its descendants
  will not run;
- ended jobs stay ended: nothing finished runs again.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

from swf_domain.errors import SomaWorkflowError
from swf_domain.graph import compile_workflow
from swf_domain.ready import NodeState, ReadyTracker
from swf_domain.serialization import workflow_from_dict
from swf_domain.status import ExitStatus, JobStatus, WorkflowStatus

from .capacity_budget import CapacityBudget
from .execution import STARTED_STATUSES, not_run_state, succeeded
from .job_ids import JobIds
from .launch import Launcher
from .ports import JobRow, JobState, KnownJob, ParallelSpec, WorkflowRow, WorkflowStore, launch_name
from .running_workflow import ActiveJob, RunningWorkflow, lean_copy


@dataclass(slots=True)
class StoredWorkflow:
    """A workflow and its job rows as the store has them."""

    row: WorkflowRow
    jobs: list[JobRow]

    def known_jobs(self) -> list[KnownJob]:
        """The jobs the store believes the scheduler holds (handed to it at start)."""
        workflow_id = self.row.workflow_id
        return [
            KnownJob(job.job_id, job.state.scheduler_job_id, launch_name(workflow_id, job.job_id))
            for job in self.jobs
            if node_state(job.state) is NodeState.RUNNING
        ]


def load(store: WorkflowStore, workflow_id: int) -> StoredWorkflow | None:
    """The workflow with its document and its job rows (None if unknown)."""
    row = store.workflow(workflow_id, with_document=True)
    if row is None or row.document is None:
        return None
    return StoredWorkflow(row, store.jobs_of(workflow_id))


@dataclass(slots=True)
class Recovered:
    """A rebuilt runtime, the jobs to adopt and the states to write."""

    runtime: RunningWorkflow
    adopted: list[ActiveJob] = field(default_factory=list)
    changes: dict[int, JobState] = field(default_factory=dict)


def node_state(state: JobState) -> NodeState:
    """Where a stored job stands for the tracker (active ones are decided by the caller)."""
    status = state.status
    if status is JobStatus.NOT_SUBMITTED:
        return NodeState.PENDING
    if status is JobStatus.DONE or status is JobStatus.FAILED:
        if succeeded(status, state.exit_info()):
            return NodeState.DONE
        if state.exit_status is ExitStatus.EXIT_NOTRUN:
            return NodeState.ABORTED
        return NodeState.FAILED
    return NodeState.RUNNING


def recover(
    stored: StoredWorkflow,
    serial: int,
    held: frozenset[int],
    now: float,
    launcher: Launcher,
    budget: CapacityBudget,
) -> Recovered:
    """The workflow's runtime as the store and the scheduler (``held``) see it now."""
    row, rows = stored.row, stored.jobs
    assert row.document is not None
    workflow = workflow_from_dict(row.document, source=f"workflow {row.workflow_id}")
    compiled = lean_copy(workflow, compile_workflow(workflow))
    job_ids = JobIds([job_row.job_id for job_row in rows])
    states: list[NodeState] = []
    to_adopt: list[JobRow] = []
    changes: dict[int, JobState] = {}
    for job_row in rows:
        state = job_row.state
        node = node_state(state)
        if node is NodeState.RUNNING or (node is NodeState.PENDING and job_row.job_id in held):
            if job_row.job_id in held:
                to_adopt.append(job_row)
                node = NodeState.RUNNING
            else:
                changes[job_row.job_id] = _lost(state, now)
                node = NodeState.FAILED
        states.append(node)
    tracker = ReadyTracker(compiled.parents, compiled.children, states)
    runtime = RunningWorkflow(
        serial,
        row.workflow_id,
        workflow,
        compiled,
        tracker,
        job_ids,
        row.queue,
        row.status,
        row.working_directory,
    )
    for job_row in rows:
        if job_row.state.output_params is not None and states[job_row.index] is NodeState.DONE:
            runtime.outputs[job_row.index] = job_row.state.output_params
    for index in tracker.aborted:
        changes[job_ids.id_of(index)] = not_run_state(runtime.queue)
    adopted_ids = {job_row.job_id for job_row in to_adopt}
    for job_row in rows:  # waiting for their next attempt (see ``retries``)
        state = job_row.state
        if (
            state.status is JobStatus.NOT_SUBMITTED
            and state.attempt > 1
            and job_row.job_id not in adopted_ids
        ):
            runtime.retrying[job_row.index] = state
    recovered = Recovered(runtime, changes=changes)
    for job_row in to_adopt:
        recovered.adopted.append(_adopt(runtime, job_row, now, launcher, budget, changes))
    if runtime.status is WorkflowStatus.DONE and not tracker.is_finished():
        runtime.status = WorkflowStatus.IN_PROGRESS  # so the next tick writes the truth
    return recovered


def _lost(state: JobState, now: float) -> JobState:
    state.status = JobStatus.FAILED
    state.exit_status = ExitStatus.EXIT_UNDETERMINED
    state.exit_value = None
    state.term_signal = None
    state.ending_date = now
    return state


def _adopt(
    runtime: RunningWorkflow,
    job_row: JobRow,
    now: float,
    launcher: Launcher,
    budget: CapacityBudget,
    changes: dict[int, JobState],
) -> ActiveJob:
    state = job_row.state
    job = runtime.job(job_row.index)
    # recorded as waiting for its next attempt: the scheduler may hold the previous one's end
    maybe_replay = state.status is JobStatus.NOT_SUBMITTED and state.attempt > 1
    if state.status is JobStatus.NOT_SUBMITTED:  # submitted just before a crash
        state.status = JobStatus.RUNNING
        state.submission_date = now
        state.queue = runtime.queue
        with contextlib.suppress(SomaWorkflowError, ValueError):
            state.stdout_file, state.stderr_file = launcher.output_files(
                runtime, job, job_row.job_id
            )
        changes[job_row.job_id] = state
    queue = state.queue
    slots = budget.cost(queue, ParallelSpec.of(job.parallel_job_info))
    output_file = None
    if job.has_outputs:
        try:
            output_file = launcher.output_params_file(runtime, job, job_row.job_id)
        except (SomaWorkflowError, ValueError):
            output_file = None
    queued = state.status not in STARTED_STATUSES
    return ActiveJob(
        runtime,
        job_row.index,
        job_row.job_id,
        state,
        slots,
        queue,
        output_file,
        queued,
        maybe_replay,
    )
