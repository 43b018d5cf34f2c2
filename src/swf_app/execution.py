"""The engine's state machine: scheduler events in, job submissions and state changes out.

Single-threaded by design (the Engine runs it on its own thread and is its only
caller), so it holds no lock. Each method records what it changed in the tick's
``TickChanges``; the Engine writes them in one transaction. Work is proportional to
what changed: events touch their jobs and the children those release; only commands a
user issues rarely (restart, stop) may look at a whole workflow.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from swf_domain.command import decode_output_params
from swf_domain.errors import SomaWorkflowError
from swf_domain.ready import NodeState, ReadyTracker
from swf_domain.status import (
    TERMINAL_JOB_STATUSES,
    ExitInfo,
    ExitStatus,
    JobStatus,
    WorkflowStatus,
)

from .capacity_budget import CapacityBudget
from .launch import Launcher, LaunchError
from .ports import (
    Capacity,
    Clock,
    JobState,
    LaunchRequest,
    ParallelSpec,
    Scheduler,
    SchedulerEvent,
    SchedulerReport,
    WorkflowStore,
    WorkflowUpdate,
    WorkspaceError,
)
from .ready_queue import ReadyQueue
from .retries import allowed_attempts, is_previous_attempts_end, next_attempt, worth_retrying
from .running_workflow import ActiveJob, RunningWorkflow
from .tick import TickChanges
from .transfer_gate import TransferGate

_ENDED_BADLY = (NodeState.FAILED, NodeState.ABORTED)
_RERUNNABLE = (NodeState.DONE, NodeState.FAILED, NodeState.ABORTED)
#: Statuses that say a job left the scheduler's queue (MAX_JOB_IN_QUEUE stops counting it).
STARTED_STATUSES = frozenset(
    {
        JobStatus.RUNNING,
        JobStatus.SYSTEM_SUSPENDED,
        JobStatus.USER_SUSPENDED,
        JobStatus.USER_SYSTEM_SUSPENDED,
    }
)

#: Builds a workflow's runtime from the store: (workflow id, serial, tick) -> runtime.
Loader = Callable[[int, int, TickChanges], "RunningWorkflow | None"]


def succeeded(status: JobStatus, exit_info: ExitInfo | None) -> bool:
    """A job ended well: DONE, finished regularly with exit value 0."""
    return status is JobStatus.DONE and exit_info is not None and exit_info.succeeded()


def not_run_state(queue: str | None) -> JobState:
    """A job that will never run because an ancestor failed or it was stopped."""
    return JobState(status=JobStatus.FAILED, exit_status=ExitStatus.EXIT_NOTRUN, queue=queue)


class Execution:
    """Runtimes of the loaded workflows, the jobs the scheduler holds, the ready queue."""

    def __init__(
        self,
        store: WorkflowStore,
        scheduler: Scheduler,
        clock: Clock,
        launcher: Launcher,
        budget: CapacityBudget,
    ) -> None:
        self.store = store
        self.scheduler = scheduler
        self.clock = clock
        self.launcher = launcher
        self.budget = budget
        self.runtimes: dict[int, RunningWorkflow] = {}
        self.by_serial: dict[int, RunningWorkflow] = {}
        #: Jobs the scheduler holds, by job id.
        self.active: dict[int, ActiveJob] = {}
        self.ready = ReadyQueue()
        self._serials = itertools.count(1)
        #: Set by the Engine: loads a workflow that is not in memory (e.g. DONE ones).
        self.loader: Loader | None = None
        #: Attempts of a job that does not say (the resource's MAX_ATTEMPTS; soma: 1).
        self.default_attempts = 1
        #: Retries whose triggering end is committed and acknowledged: queued next tick.
        self.requeued: list[tuple[int, int]] = []
        #: Holds the jobs of staged workflows until their inputs are on the resource.
        self.gate = TransferGate(None)

    # -- workflows ----------------------------------------------------------------------

    def next_serial(self) -> int:
        return next(self._serials)

    def register(self, runtime: RunningWorkflow, tx: TickChanges) -> None:
        self.runtimes[runtime.workflow_id] = runtime
        self.by_serial[runtime.serial] = runtime
        tx.touch(runtime)

    def adopt(self, active: ActiveJob) -> None:
        """Count a job the scheduler already holds (engine restart) as ours."""
        self.active[active.job_id] = active
        active.runtime.active[active.index] = active
        self.budget.take(active.queue, active.slots, active.queued)

    def runtime(self, workflow_id: int, tx: TickChanges) -> RunningWorkflow | None:
        """The workflow's runtime, loaded from the store if it is not in memory."""
        found = self.runtimes.get(workflow_id)
        if found is None and self.loader is not None:
            found = self.loader(workflow_id, self.next_serial(), tx)
            if found is not None:
                self.register(found, tx)
        return found

    # -- scheduler events ---------------------------------------------------------------

    def apply_events(self, events: Sequence[SchedulerReport], tx: TickChanges) -> None:
        for event in events:
            if type(event) is Capacity:
                self.budget.change(event)
                continue
            assert isinstance(event, SchedulerEvent)
            active = self.active.get(event.job_id)
            if event.status in TERMINAL_JOB_STATUSES:
                if active is None:  # a repeated end, or a deleted workflow's job
                    tx.ended.append(event.job_id)
                elif active.maybe_replay and is_previous_attempts_end(
                    active.state, event.time, event.scheduler_job_id
                ):
                    self._replayed_end(active, tx)
                else:
                    self._ended(active, event, tx)
            elif active is not None:
                self._progressed(active, event, tx)

    def _progressed(self, active: ActiveJob, event: SchedulerEvent, tx: TickChanges) -> None:
        state = active.state
        state.status = event.status
        active.maybe_replay = False  # the scheduler runs this attempt
        if active.queued and event.status in STARTED_STATUSES:
            active.queued = False
            self.budget.started(active.queue)
        if event.scheduler_job_id is not None:
            state.scheduler_job_id = event.scheduler_job_id
        if event.status is JobStatus.RUNNING and state.execution_date is None:
            state.execution_date = event.time if event.time is not None else self.clock.now()
        tx.record(active.job_id, state)
        tx.touch(active.runtime)

    def _ended(self, active: ActiveJob, event: SchedulerEvent, tx: TickChanges) -> None:
        runtime, index, state = active.runtime, active.index, active.state
        self._forget(active)
        tx.ended.append(active.job_id)
        exit_info = event.exit or ExitInfo(ExitStatus.EXIT_UNDETERMINED)
        state.exit_status = exit_info.exit_status
        state.exit_value = exit_info.exit_value
        state.term_signal = exit_info.term_signal
        state.resource_usage = exit_info.resource_usage
        if event.scheduler_job_id is not None:
            state.scheduler_job_id = event.scheduler_job_id
        state.ending_date = event.time if event.time is not None else self.clock.now()
        ok = succeeded(event.status, event.exit)
        if ok and active.output_file is not None:
            ok = self._read_outputs(active)
        state.status = JobStatus.DONE if ok else JobStatus.FAILED
        if not ok and self._may_retry(runtime, index, state):
            self._retry(runtime, index, active.job_id, next_attempt(state), tx)
            return
        tx.record(active.job_id, state)
        tx.touch(runtime)
        if ok:
            runtime.tracker.succeeded(index)
        else:
            self._abort_below(runtime, index, tx)

    def _read_outputs(self, active: ActiveJob) -> bool:
        """Read a has_outputs job's output parameters; False (and a reason in its stderr)
        when the file is missing or not a JSON object."""
        runtime, state = active.runtime, active.state
        job = runtime.job(active.index)
        assert active.output_file is not None
        try:
            document = self.launcher.workspace.read_json(active.output_file)
            outputs = decode_output_params(document, job)
        except (WorkspaceError, SomaWorkflowError, TypeError, ValueError) as error:
            reason = (
                f"swf: job {job.name!r} has outputs but its output parameters file "
                f"is unusable: {error}"
            )
            self.launcher.report(state.stderr_file or state.stdout_file, reason)
            return False
        state.output_params = outputs
        runtime.outputs[active.index] = outputs
        return True

    def _forget(self, active: ActiveJob) -> None:
        del self.active[active.job_id]
        active.runtime.active.pop(active.index, None)
        self.budget.release(active.queue, active.slots, active.queued)

    # -- retries (see ``retries``) ------------------------------------------------------

    def _may_retry(self, runtime: RunningWorkflow, index: int, state: JobState) -> bool:
        if runtime.stopped or index in runtime.held:  # the user stopped it
            return False
        allowed = allowed_attempts(runtime.job(index), runtime.workflow, self.default_attempts)
        return worth_retrying(state, allowed)

    def _retry(
        self, runtime: RunningWorkflow, index: int, job_id: int, state: JobState, tx: TickChanges
    ) -> None:
        """Record the next attempt (NOT_SUBMITTED); it is queued after the commit."""
        runtime.retrying[index] = state
        tx.record(job_id, state)
        tx.touch(runtime)
        tx.retries.append((runtime.serial, index))

    def _replayed_end(self, active: ActiveJob, tx: TickChanges) -> None:
        """After a crash, the previous attempt's end came again for a job recorded as
        waiting for its next attempt: that attempt was never submitted, submit it now."""
        self._forget(active)
        tx.ended.append(active.job_id)
        state = active.state
        waiting = JobState(
            queue=state.queue, attempt=state.attempt, past_attempts=state.past_attempts
        )
        self._retry(active.runtime, active.index, active.job_id, waiting, tx)

    def _requeue(self, tx: TickChanges) -> None:
        """Queue the acknowledged retries, unless the user stopped the job meanwhile."""
        requeued, self.requeued = self.requeued, []
        for serial, index in requeued:
            runtime = self.by_serial.get(serial)
            if runtime is None or not runtime.is_waiting(index):
                continue  # deleted, or stopped by stop_jobs meanwhile
            if runtime.stopped or index in runtime.held:
                runtime.held.discard(index)
                waiting = runtime.retrying.pop(index)
                state = dataclasses.replace(not_run_state(runtime.queue), attempt=waiting.attempt)
                state.past_attempts = waiting.past_attempts
                self._fail(runtime, index, state, tx)
            else:
                priority = runtime.job(index).priority
                self.ready.push_many(runtime.queue, serial, [(priority, index)])
            tx.touch(runtime)

    # -- failures -----------------------------------------------------------------------

    def _abort_below(self, runtime: RunningWorkflow, index: int, tx: TickChanges) -> None:
        """The job failed: record every descendant that will now never run."""
        job_ids = runtime.job_ids
        for aborted in runtime.tracker.failed(index):
            tx.record(job_ids.id_of(aborted), not_run_state(runtime.queue))
        tx.touch(runtime)

    def _fail(self, runtime: RunningWorkflow, index: int, state: JobState, tx: TickChanges) -> None:
        """A job that was taken from the tracker ends without running (or in the engine)."""
        tx.record(runtime.job_ids.id_of(index), state)
        self._abort_below(runtime, index, tx)

    def _fail_to_start(
        self,
        runtime: RunningWorkflow,
        index: int,
        reason: str,
        stderr_file: str | None,
        tx: TickChanges,
    ) -> None:
        self.launcher.report(stderr_file, reason)
        now = self.clock.now()
        state = JobState(
            status=JobStatus.FAILED,
            exit_status=ExitStatus.EXIT_ABORTED,
            submission_date=now,
            ending_date=now,
            queue=runtime.queue,
            stderr_file=stderr_file,
        )
        self._fail(runtime, index, state, tx)

    # -- releasing ready jobs -----------------------------------------------------------

    def release(self, tx: TickChanges) -> None:
        """Hand every newly ready job of the touched workflows to the ready queue, running
        barriers and engine-execution jobs on the spot (which may release more)."""
        if self.requeued:
            self._requeue(tx)
        for runtime in list(tx.touched.values()):
            if self.runtimes.get(runtime.workflow_id) is not runtime:
                continue
            to_queue: list[tuple[int, int]] = []
            jobs = runtime.compiled.jobs
            taken = runtime.tracker.take_ready()
            while taken:
                special = runtime.stopped or bool(runtime.held)
                for index in taken:  # the hot loop of a fan-out: plain jobs just queue
                    job = jobs[index]
                    if special or job.is_barrier() or job.is_engine_execution():
                        self._dispatch(runtime, index, to_queue, tx)
                    else:
                        to_queue.append((job.priority, index))
                taken = runtime.tracker.take_ready()
            if to_queue:
                self.ready.push_many(runtime.queue, runtime.serial, to_queue)

    def _dispatch(
        self,
        runtime: RunningWorkflow,
        index: int,
        to_queue: list[tuple[int, int]],
        tx: TickChanges,
    ) -> None:
        job = runtime.job(index)
        if runtime.stopped or index in runtime.held:
            runtime.held.discard(index)
            self._fail(runtime, index, not_run_state(runtime.queue), tx)
        elif job.is_barrier():
            self._done_in_engine(runtime, index, None, tx)
        elif job.is_engine_execution():
            self._execute_in_engine(runtime, index, tx)
        else:
            to_queue.append((job.priority, index))

    def _done_in_engine(
        self,
        runtime: RunningWorkflow,
        index: int,
        outputs: dict[str, Any] | None,
        tx: TickChanges,
    ) -> None:
        now = self.clock.now()
        state = JobState(
            status=JobStatus.DONE,
            exit_status=ExitStatus.FINISHED_REGULARLY,
            exit_value=0,
            submission_date=now,
            execution_date=now,
            ending_date=now,
            output_params=outputs,
            queue=runtime.queue,
        )
        if outputs is not None:
            runtime.outputs[index] = outputs
        tx.record(runtime.job_ids.id_of(index), state)
        runtime.tracker.succeeded(index)

    def _execute_in_engine(self, runtime: RunningWorkflow, index: int, tx: TickChanges) -> None:
        job = runtime.job(index)
        execute: Callable[[Any], dict[str, Any]] = getattr(job, "engine_execute")  # noqa: B009
        try:
            outputs = execute(self.launcher.linked_params(runtime, index))
        except Exception as error:  # user-supplied computation: one job fails, not the engine
            job_id = runtime.job_ids.id_of(index)
            try:
                stderr: str | None = self.launcher.workspace.default_output_files(
                    runtime.workflow_id, job_id
                )[1]
            except WorkspaceError:
                stderr = None
            reason = f"swf: engine-execution job {job.name!r} failed: {error!r}"
            self._fail_to_start(runtime, index, reason, stderr, tx)
            return
        self._done_in_engine(runtime, index, dict(outputs), tx)

    # -- submitting ---------------------------------------------------------------------

    def submit(self, tx: TickChanges) -> None:
        """Start ready jobs by priority while slots last (one scheduler call per tick)."""
        requests: list[LaunchRequest] = []
        now = self.clock.now()
        with self.launcher.batch():
            for queue in self.ready.queues_by_urgency():
                self._submit_queue(queue, now, requests, tx)
        if not requests:
            return
        try:
            self.scheduler.submit(requests)
        except Exception as error:  # the port says never; a broken scheduler must not kill us
            for request in requests:
                active = self.active.get(request.job_id)
                if active is not None:
                    self._forget(active)
                    reason = f"swf: the scheduler refused the job: {error!r}"
                    self._fail_to_start(
                        active.runtime, active.index, reason, request.stderr_file, tx
                    )

    def _submit_queue(
        self, queue: str | None, now: float, requests: list[LaunchRequest], tx: TickChanges
    ) -> None:
        budget, ready = self.budget, self.ready
        while True:
            top = ready.peek(queue)
            if top is None:
                return
            runtime = self.by_serial.get(top[0])
            index = top[1]
            if runtime is None or not runtime.is_waiting(index):
                ready.pop(queue)  # stale: stopped, deleted or already submitted
                continue
            if runtime.gated and self.gate.holds(runtime, index):
                ready.pop(queue)  # parked until its input transfers arrive
                continue
            parallel = runtime.parallel(index)
            slots = budget.cost(queue, parallel)
            if not budget.fits(queue, slots):
                return  # the most urgent job waits for room; nothing overtakes it
            ready.pop(queue)
            request = self._launch(runtime, index, slots, parallel, queue, now, tx)
            if request is not None:
                requests.append(request)

    def _launch(
        self,
        runtime: RunningWorkflow,
        index: int,
        slots: int,
        parallel: ParallelSpec | None,
        queue: str | None,
        now: float,
        tx: TickChanges,
    ) -> LaunchRequest | None:
        job_id = runtime.job_ids.id_of(index)
        try:
            request, output_file = self.launcher.build(
                runtime, index, job_id, slots, queue, parallel
            )
        except LaunchError as error:
            self._fail_to_start(runtime, index, error.reason, error.stderr_file, tx)
            return None
        state = JobState(
            status=JobStatus.QUEUED_ACTIVE,
            submission_date=now,
            command=list(request.argv),
            stdout_file=request.stdout_file,
            stderr_file=request.stderr_file,
            queue=queue,
        )
        retried = runtime.retrying.pop(index, None)
        if retried is not None:
            state.attempt, state.past_attempts = retried.attempt, retried.past_attempts
            request = dataclasses.replace(request, attempt=retried.attempt)
        active = ActiveJob(runtime, index, job_id, state, slots, queue, output_file)
        self.active[job_id] = active
        runtime.active[index] = active
        self.budget.take(queue, slots)
        tx.record(job_id, state)
        tx.touch(runtime)
        return request

    def transfer_arrived(self, workflow_id: int, rank: int, tx: TickChanges) -> None:
        """Input transfer ``rank`` of the workflow is on the resource: its parked jobs
        go back to the ready queue."""
        runtime = self.runtimes.get(workflow_id)
        if runtime is None or not runtime.gated:
            return
        parked = self.gate.arrived(runtime, rank)
        if parked:
            jobs = runtime.compiled.jobs
            self.ready.push_many(
                runtime.queue, runtime.serial, [(jobs[i].priority, i) for i in parked]
            )
            tx.touch(runtime)

    # -- workflow statuses --------------------------------------------------------------

    def statuses(self, tx: TickChanges) -> list[WorkflowUpdate]:
        """Status changes of the touched workflows (from tracker counters: O(1) each)."""
        updates: list[WorkflowUpdate] = []
        for runtime in tx.touched.values():
            if self.runtimes.get(runtime.workflow_id) is not runtime:
                continue
            status = runtime.derived_status()
            if status is not runtime.status:
                runtime.status = status
                updates.append(WorkflowUpdate(runtime.workflow_id, status))
        return updates

    def unload_finished(self, tx: TickChanges) -> None:
        """Forget finished workflows: memory follows the work, not the history."""
        for runtime in tx.touched.values():
            if (
                runtime.status is WorkflowStatus.DONE
                and not runtime.active
                and self.runtimes.get(runtime.workflow_id) is runtime
            ):
                del self.runtimes[runtime.workflow_id]
                del self.by_serial[runtime.serial]

    # -- commands -----------------------------------------------------------------------

    def stop_workflow(self, workflow_id: int, tx: TickChanges) -> None:
        """Kill the running jobs; nothing else starts (FAILED, aborted_before_running)."""
        runtime = self.runtimes.get(workflow_id)
        if runtime is None:
            return  # finished already
        runtime.stopped = True
        for index in self._waiting(runtime):
            self._fail(runtime, index, not_run_state(runtime.queue), tx)
        tx.kills.extend(active.job_id for active in runtime.active.values())
        tx.touch(runtime)

    def restart_workflow(self, workflow_id: int, queue: str | None, tx: TickChanges) -> bool:
        """Run again every failed or aborted job; True when there was one."""
        runtime = self.runtime(workflow_id, tx)
        if runtime is None:
            return False
        runtime.stopped = False
        runtime.held.clear()
        runtime.queue = queue
        if runtime.env_error is not None:  # maybe fixed meanwhile: try the builder again
            runtime.env_error = None
        tracker = runtime.tracker
        failed = [
            index
            for index in range(len(runtime.compiled.jobs))
            if tracker.state(index) in _ENDED_BADLY
        ]
        tx.touch(runtime)
        if not failed:
            return False
        tracker.restart(failed)
        self._record_reset(runtime, failed, tx)
        return True

    def stop_jobs(self, workflow_id: int, job_ids: Iterable[int], tx: TickChanges) -> None:
        """Kill or cancel these jobs (their not-run descendants are aborted)."""
        runtime = self.runtimes.get(workflow_id)
        if runtime is None:
            return
        tracker = runtime.tracker
        for job_id in job_ids:
            index = runtime.job_ids.index_of(job_id)
            if index is None:
                continue
            state = tracker.state(index)
            if index in runtime.active:
                tx.kills.append(job_id)
                runtime.held.add(index)  # no retry after this kill (see ``_may_retry``)
            elif state in (NodeState.RUNNING, NodeState.READY):
                self._fail(runtime, index, not_run_state(runtime.queue), tx)
            elif state is NodeState.PENDING:
                runtime.held.add(index)
        tx.touch(runtime)

    def rerun_set(self, workflow_id: int, job_ids: Iterable[int], tx: TickChanges) -> list[int]:
        """These jobs plus every descendant that can run again with them (soma's rule:
        a descendant comes along when none of its other parents failed)."""
        runtime = self.runtime(workflow_id, tx)
        if runtime is None:
            return []
        ids = runtime.job_ids
        chosen = {index for index in map(ids.index_of, job_ids) if index is not None}
        parents, children, tracker = (
            runtime.compiled.parents,
            runtime.compiled.children,
            runtime.tracker,
        )
        stack = sorted(chosen)
        while stack:
            for child in children[stack.pop()]:
                if child in chosen:
                    continue
                if all(
                    parent in chosen or tracker.state(parent) not in _ENDED_BADLY
                    for parent in parents[child]
                ):
                    chosen.add(child)
                    stack.append(child)
        return [ids.id_of(index) for index in sorted(chosen)]

    def active_among(self, workflow_id: int, job_ids: Iterable[int]) -> list[int]:
        """Those of ``job_ids`` the scheduler still holds (submitted, end not applied)."""
        runtime = self.runtimes.get(workflow_id)
        if runtime is None:
            return []
        index_of, active = runtime.job_ids.index_of, runtime.active
        return [job_id for job_id in job_ids if index_of(job_id) in active]

    def rerun_jobs(self, workflow_id: int, job_ids: Iterable[int], tx: TickChanges) -> bool:
        """Run these ended jobs again (DONE ones too), e.g. after stop_jobs."""
        runtime = self.runtime(workflow_id, tx)
        if runtime is None:
            return False
        ids = runtime.job_ids
        chosen = {index for index in map(ids.index_of, job_ids) if index is not None}
        runtime.held -= chosen
        runtime.stopped = False
        old = runtime.tracker
        count = len(runtime.compiled.jobs)
        states = [old.state(index) for index in range(count)]
        reset = sorted(index for index in chosen if states[index] in _RERUNNABLE)
        tx.touch(runtime)
        if not reset:
            return False
        for index in reset:
            states[index] = NodeState.PENDING
        runtime.tracker = ReadyTracker(runtime.compiled.parents, runtime.compiled.children, states)
        for index in runtime.tracker.aborted:
            tx.record(ids.id_of(index), not_run_state(runtime.queue))
        self._record_reset(runtime, reset, tx)
        return True

    def delete_workflow(self, workflow_id: int, tx: TickChanges) -> None:
        """Kill its jobs and forget it; files and rows go once the tick is committed."""
        runtime = self.runtimes.pop(workflow_id, None)
        if runtime is not None:
            del self.by_serial[runtime.serial]
            tx.touched.pop(runtime.serial, None)
            for active in list(runtime.active.values()):
                self._forget(active)
                tx.kills.append(active.job_id)
        tx.deleted.append(workflow_id)

    def expired(self, tx: TickChanges) -> list[int]:
        """Delete every workflow whose expiration date has passed and that runs nothing.

        A workflow with jobs running, queued or still to run is kept until it finishes
        (the next sweep after that deletes it): expiring must never kill work.
        """
        deleted: list[int] = []
        for workflow_id in self.store.expired_workflow_ids(self.clock.now()):
            runtime = self.runtimes.get(workflow_id)
            if runtime is not None and (runtime.active or not runtime.tracker.is_finished()):
                continue
            self.delete_workflow(workflow_id, tx)
            deleted.append(workflow_id)
        return deleted

    # -- helpers ------------------------------------------------------------------------

    def _waiting(self, runtime: RunningWorkflow) -> list[int]:
        """Jobs of the workflow in the ready queue, not submitted yet (scans the queue)."""
        serial = runtime.serial
        found = {
            index
            for _, entry_serial, index in self.ready.entries()
            if entry_serial == serial and runtime.is_waiting(index)
        }
        return sorted(found)

    def _record_reset(
        self, runtime: RunningWorkflow, indices: Iterable[int], tx: TickChanges
    ) -> None:
        """Write a fresh NOT_SUBMITTED state for each job brought back to be run again."""
        tracker, ids = runtime.tracker, runtime.job_ids
        for index in indices:
            if tracker.state(index) in (NodeState.PENDING, NodeState.READY):
                runtime.outputs.pop(index, None)
                runtime.retrying.pop(index, None)
                tx.record(ids.id_of(index), JobState(queue=runtime.queue))
