"""One workflow the engine is executing: its model, DAG, ready tracker and live jobs.

Per-job state is the tracker's byte and the model's Job object; only jobs handed to the
scheduler get an ``ActiveJob`` (so memory follows the running jobs, not the workflow).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from swf_domain.graph import CompiledWorkflow
from swf_domain.model import Job, Workflow
from swf_domain.ready import NodeState, ReadyTracker
from swf_domain.status import WorkflowStatus
from swf_domain.transfers import is_staged

from .job_ids import JobIds
from .ports import JobState, ParallelSpec


@dataclass(eq=False, slots=True)
class ActiveJob:
    """A job the scheduler holds (queued or running) and the capacity units it takes."""

    runtime: RunningWorkflow
    index: int
    job_id: int
    state: JobState
    slots: int
    queue: str | None
    #: Where a has_outputs job writes its output parameters.
    output_file: str | None = None
    #: Submitted and not reported started yet (counts against MAX_JOB_IN_QUEUE).
    queued: bool = True
    #: Adopted at restart while recorded as waiting for its next attempt: what the
    #: scheduler holds may be the previous attempt's unacknowledged end (see ``retries``).
    maybe_replay: bool = False


def lean_copy(workflow: Workflow, compiled: CompiledWorkflow) -> CompiledWorkflow:
    """``compiled`` as the engine keeps it while the workflow runs: packed adjacency
    (4 bytes per edge instead of a list per job and an int object per edge), and the
    job -> index map only when param links need it. Built off the engine thread."""
    return compiled.compacted(keep_index=bool(workflow.param_links))


class RunningWorkflow:
    """Engine-side state of one workflow (only the engine thread touches it)."""

    def __init__(
        self,
        serial: int,
        workflow_id: int,
        workflow: Workflow,
        compiled: CompiledWorkflow,
        tracker: ReadyTracker,
        job_ids: JobIds,
        queue: str | None,
        status: WorkflowStatus,
        working_directory: str | None = None,
    ) -> None:
        self.serial = serial
        self.workflow_id = workflow_id
        # The compiled DAG holds the edges: the model's list of them (a tuple per edge,
        # ~130 MB for a million-job fan-out) is the engine's own copy and is let go.
        workflow.dependencies = []
        self.workflow = workflow
        self.compiled = compiled
        self.tracker = tracker
        self.job_ids = job_ids
        self.queue = queue
        #: The status last written to the store.
        self.status = status
        #: Where the workflow was submitted from: its jobs without a working directory
        #: run there (None: stored before swf kept it; the Launcher picks the home).
        self.working_directory = working_directory
        #: Set by stop_workflow: nothing new starts until a restart.
        self.stopped = False
        #: Not-yet-ready jobs stopped by stop_jobs: they fail instead of starting.
        self.held: set[int] = set()
        #: Output parameters of the finished jobs that published some, by index.
        self.outputs: dict[int, dict[str, Any]] = {}
        self.active: dict[int, ActiveJob] = {}
        #: Jobs waiting to run another attempt: their NOT_SUBMITTED state (attempt number
        #: and the earlier attempts' exit info), taken over by the next submission.
        self.retrying: dict[int, JobState] = {}
        #: env_builder_code's variables then the workflow's env (None: not built yet).
        self.base_env: dict[str, str] | None = None
        #: Why env_builder_code failed (every job then fails with it).
        self.env_error: str | None = None
        #: Per-workflow cache of the path resolver (set by the launcher).
        self.resolver: Any = None
        #: Its transfers are copied to the resource: jobs wait for their inputs there.
        self.gated = is_staged(workflow)
        #: The TransferGate's bookkeeping for this workflow (made on first use).
        self.transfer_plan: Any = None

    def job(self, index: int) -> Job:
        return self.compiled.jobs[index]

    def parallel(self, index: int) -> ParallelSpec | None:
        """The job's parallel_job_info as the scheduler gets it (None: nothing special)."""
        return ParallelSpec.of(self.compiled.jobs[index].parallel_job_info)

    def derived_status(self) -> WorkflowStatus:
        """From the tracker's counters: O(1), never a scan of the jobs."""
        tracker = self.tracker
        if tracker.is_finished():
            return WorkflowStatus.DONE
        counts = tracker.counts()
        if counts[NodeState.PENDING] + counts[NodeState.READY] == len(self.compiled.jobs):
            return WorkflowStatus.NOT_STARTED
        return WorkflowStatus.IN_PROGRESS

    def is_waiting(self, index: int) -> bool:
        """True when the job was taken from the tracker but not handed to the scheduler."""
        return self.tracker.state(index) is NodeState.RUNNING and index not in self.active
