"""The engine: one thread that owns every job's state, fed through an inbox.

Other threads never touch the state: they put scheduler event batches and commands in
the inbox. The engine thread blocks on it (no polling: an event wakes it at once; a
timer only for expiration sweeps), drains everything available, then runs ONE tick:

1. apply the commands and scheduler events, in arrival order;
2. release newly ready jobs (barriers and engine-execution jobs run on the spot);
3. submit ready jobs by priority within the slot limits (one scheduler call);
4. write every job and workflow change in ONE store transaction;
5. acknowledge the ends it recorded, kill what commands asked to kill, delete files;
6. answer the commands and wake the waiters.

A crash between 3 and 4 is safe: on restart, jobs the scheduler holds but the store
had NOT_SUBMITTED are adopted as running (see ``recovery``). The store is the
scheduler's journal: at start the engine hands the scheduler the jobs the store believes
active, with their scheduler ids, and the scheduler says which it still holds.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any, TypeVar

from swf_domain.errors import EngineError, SomaWorkflowError
from swf_domain.graph import CompiledWorkflow
from swf_domain.model import Workflow
from swf_domain.ready import ReadyTracker
from swf_domain.status import WorkflowStatus
from swf_domain.translation import TranslationTable

from .capacity_budget import CapacityBudget, QueueLimits
from .execution import Execution
from .inbox import Command, Inbox
from .job_ids import JobIds
from .launch import Launcher
from .notifier import ChangeNotifier
from .ports import (
    Capacity,
    CapacityUnit,
    Clock,
    JobUpdate,
    Scheduler,
    TransferArea,
    WorkflowStore,
    Workspace,
)
from .recovery import StoredWorkflow, load, recover
from .running_workflow import RunningWorkflow, lean_copy
from .tick import TickChanges
from .transfer_commands import expire_standalone
from .transfer_gate import TransferGate

T = TypeVar("T")

_log = logging.getLogger("swf.engine")

#: Real seconds between two looks for expired workflows (when nothing else happens).
DEFAULT_SWEEP_INTERVAL = 60.0
#: Seconds changes may wait to be written together (readers see them that much later;
#: a batch that finishes a workflow is written at once).
DEFAULT_COMMIT_WINDOW = 0.1
#: Job changes above which a batch is written without waiting for the window.
MAX_COMMIT_BATCH = 20_000
#: How often a caller waiting for a command's answer checks that the engine still runs.
_ANSWER_CHECK = 0.5


@dataclass(slots=True)
class _PendingCommit:
    """Changes applied but not yet written: a group commit.

    With tiny jobs a tick holds one or two job ends, and a store transaction per tick
    would cost more than the jobs. So the engine keeps applying events and submitting
    ready jobs (children still start at once) and writes everything in one transaction
    when a command waits for its answer, when the window has passed, when the batch is
    large, or when nothing else arrived. Crash-safe because ends are acknowledged to the
    scheduler only after their commit: ends lost with an uncommitted batch are replayed,
    and submitted jobs are adopted at restart.
    """

    deadline: float
    tx: TickChanges = field(default_factory=TickChanges)
    answers: list[tuple[Future[Any], Any, BaseException | None]] = field(default_factory=list)

    def due(self, now: float, last_items: Sequence[Any]) -> bool:
        return (
            bool(self.answers)
            or not last_items
            or now >= self.deadline
            or len(self.tx.jobs) >= MAX_COMMIT_BATCH
        )


def _finishes_a_workflow(tx: TickChanges) -> bool:
    """A workflow ran its last job in this batch: write it now, someone may be waiting."""
    return any(runtime.tracker.is_finished() for runtime in tx.touched.values())


class Engine:
    """The single writer of job state (see the module docstring)."""

    def __init__(
        self,
        store: WorkflowStore,
        scheduler: Scheduler,
        clock: Clock,
        workspace: Workspace,
        *,
        max_running_jobs: QueueLimits | None = None,
        max_queued_jobs: QueueLimits | None = None,
        translations: TranslationTable | None = None,
        transfers: TransferArea | None = None,
        sweep_interval: float = DEFAULT_SWEEP_INTERVAL,
        commit_window: float = DEFAULT_COMMIT_WINDOW,
        default_attempts: int = 1,
    ) -> None:
        self.store = store
        self.scheduler = scheduler
        self.clock = clock
        self.notifier = ChangeNotifier()
        self._inbox = Inbox()
        self._sweep_interval = sweep_interval
        self._commit_window = commit_window
        self._next_sweep = 0.0
        self._job_limits = (max_running_jobs, max_queued_jobs)
        gate = TransferGate(transfers)
        self._transfers = transfers
        launcher = Launcher(workspace, translations, gate.locator)
        self._launcher = launcher
        nothing_yet = CapacityBudget(Capacity(CapacityUnit.JOBS, 0))  # until start()
        self.execution = Execution(store, scheduler, clock, launcher, nothing_yet)
        self.execution.gate = gate
        self.execution.loader = self._load
        self.execution.default_attempts = default_attempts
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._broken = False
        #: Ticks committed so far (tests and benchmarks read it).
        self.ticks = 0

    # -- lifetime -----------------------------------------------------------------------

    def start(self) -> None:
        """Reload unfinished workflows, reconcile with the scheduler, start the thread."""
        if self._thread is not None:
            raise RuntimeError("the engine is already started")
        if self._stopping:
            raise EngineError("the engine is being stopped: it starts nothing new")
        stored = [
            found
            for found in map(self._stored, self.store.active_workflow_ids())
            if found is not None
        ]
        known = [job for workflow in stored for job in workflow.known_jobs()]
        held = self.scheduler.start(self._inbox.put_events, known)
        max_running, max_queued = self._job_limits
        self.execution.budget = CapacityBudget(self.scheduler.capacity(), max_running, max_queued)
        tx = TickChanges()
        now = self.clock.now()
        for workflow in stored:
            try:
                self._reload(workflow, held, now, tx)
            except SomaWorkflowError:  # e.g. a document this version cannot read
                _log.exception(
                    "swf engine cannot reload workflow %s: left aside", workflow.row.workflow_id
                )
        self._next_sweep = self.clock.monotonic()
        self.execution.release(tx)
        self.execution.submit(tx)
        self._commit(tx, [])
        self._thread = threading.Thread(target=self._run, name="swf-engine", daemon=True)
        self._thread.start()

    def shutdown(self, timeout: float | None = 30.0) -> None:
        """Stop the thread and the scheduler's reporting; running jobs go on."""
        self._stopping = True
        self._inbox.wake()
        if self._thread is not None:
            self._thread.join(timeout)
        self.notifier.fail("the engine was shut down")
        self.scheduler.close()

    @property
    def alive(self) -> bool:
        return not self._broken and self._thread is not None and self._thread.is_alive()

    # -- commands -----------------------------------------------------------------------

    def call(self, run: Callable[[TickChanges], T], timeout: float | None = None) -> T:
        """Run ``run(tick)`` on the engine thread; its result once the tick is committed.

        Raises EngineError if the engine stops before answering, TimeoutError after
        ``timeout`` seconds (None: no limit).
        """
        if not self.alive:
            raise EngineError("the engine is not running")
        command = Command(run)
        self._inbox.put_command(command)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            wait = (
                _ANSWER_CHECK
                if deadline is None
                else min(_ANSWER_CHECK, deadline - time.monotonic())
            )
            try:
                result: T = command.future.result(max(wait, 0.0))
                return result
            except FutureTimeout:
                if not self.alive and not command.future.done():
                    raise EngineError("the engine stopped before answering") from None
                if deadline is not None and time.monotonic() >= deadline:
                    raise

    def add_workflow(
        self,
        workflow_id: int,
        workflow: Workflow,
        compiled: CompiledWorkflow,
        job_ids: Sequence[int],
        queue: str | None,
        working_directory: str | None = None,
    ) -> None:
        """Start executing a workflow the store has just persisted (``working_directory``:
        where its jobs without one run, see RunningWorkflow)."""
        ids = JobIds(job_ids)  # built here, off the engine thread
        compiled = lean_copy(workflow, compiled)

        def add(tx: TickChanges) -> None:
            execution = self.execution
            tracker = ReadyTracker(compiled.parents, compiled.children)
            runtime = RunningWorkflow(
                execution.next_serial(),
                workflow_id,
                workflow,
                compiled,
                tracker,
                ids,
                queue,
                WorkflowStatus.NOT_STARTED,
                working_directory,
            )
            execution.register(runtime, tx)

        self.call(add)

    def sync(self) -> None:
        """Return once everything put in the inbox before this call was processed."""
        self.call(lambda tx: None)

    def wait_idle(self, rounds: int = 3, timeout: float = 10.0) -> None:
        """Tests: return once a few ticks in a row found nothing to do."""
        quiet = 0
        while quiet < rounds:
            before = self.ticks
            self.call(lambda tx: None, timeout)
            quiet = quiet + 1 if self.ticks == before + 1 else 0

    # -- the loop -----------------------------------------------------------------------

    def _run(self) -> None:
        pending: _PendingCommit | None = None
        try:
            while not self._stopping:
                items = self._inbox.take_all(self._wait_time(pending))
                if self._stopping:
                    self._refuse([item for item in items if isinstance(item, Command)])
                    break
                if pending is None:
                    pending = _PendingCommit(self.clock.monotonic() + self._commit_window)
                self._tick(items, pending)
                if pending.due(self.clock.monotonic(), items) or _finishes_a_workflow(pending.tx):
                    self._commit_pending(pending)
                    pending = None
            if pending is not None:
                self._commit_pending(pending)
        except Exception as error:  # a broken store or scheduler: stop, tell everyone
            _log.exception("swf engine stopped by an unexpected error")
            self.notifier.fail(f"{type(error).__name__}: {error}")
            self._refuse([item for item in self._inbox.take_all(0) if isinstance(item, Command)])

    def _wait_time(self, pending: _PendingCommit | None) -> float:
        if pending is None:
            return self._sweep_interval
        return max(0.0, pending.deadline - self.clock.monotonic())

    def _tick(self, items: Sequence[Any], pending: _PendingCommit) -> None:
        """Apply what arrived and start what became ready; the store write waits for
        ``_commit_pending`` (group commit: see ``_PendingCommit``)."""
        tx = pending.tx
        execution = self.execution
        for item in items:
            if isinstance(item, Command):
                pending.answers.append(self._run_command(item, tx))
            else:
                execution.apply_events(item, tx)
        if self.clock.monotonic() >= self._next_sweep:
            self._next_sweep = self.clock.monotonic() + self._sweep_interval
            execution.expired(tx)
            if self._transfers is not None:
                expire_standalone(self._transfers, self.clock.now())
        execution.release(tx)
        execution.submit(tx)

    def _commit_pending(self, pending: _PendingCommit) -> None:
        try:
            self._commit(pending.tx, pending.answers)
        except BaseException as error:
            self._broken = True  # before anyone hears of it: ``alive`` is False from now
            for future, _, _ in pending.answers:
                future.set_exception(error)
            raise

    def _run_command(
        self, command: Command, tx: TickChanges
    ) -> tuple[Future[Any], Any, BaseException | None]:
        try:
            return command.future, command.run(tx), None
        except Exception as error:  # the caller gets it; the engine goes on
            return command.future, None, error

    def _commit(
        self, tx: TickChanges, answers: list[tuple[Future[Any], Any, BaseException | None]]
    ) -> None:
        execution = self.execution
        workflow_updates = execution.statuses(tx)
        if tx.jobs or workflow_updates:
            self.store.apply(
                [JobUpdate(job_id, state) for job_id, state in tx.jobs.items()], workflow_updates
            )
        if tx.kills:
            self.scheduler.kill(tx.kills)
        for workflow_id in tx.deleted:
            self._launcher.workspace.remove_workflow(workflow_id)
            if self._transfers is not None:
                self._transfers.remove_workflow(workflow_id)
            self.store.delete_workflow(workflow_id)
        if tx.ended:
            self.scheduler.acknowledge(tx.ended)
        if tx.retries:  # their ends are acknowledged: the next tick queues them
            self.execution.requeued.extend(tx.retries)
            self._inbox.put_command(Command(lambda _: None))
        touched = [runtime.workflow_id for runtime in tx.touched.values()]
        execution.unload_finished(tx)
        self.ticks += 1
        for future, result, error in answers:
            if error is None:
                future.set_result(result)
            else:
                future.set_exception(error)
        self.notifier.changed(
            [*touched, *tx.deleted],
            tx.deleted,
            [update.workflow_id for update in workflow_updates],
        )

    def _refuse(self, commands: list[Command]) -> None:
        for command in commands:
            if not command.future.done():
                command.future.set_exception(EngineError("the engine stopped"))

    # -- loading ------------------------------------------------------------------------

    def _stored(self, workflow_id: int) -> StoredWorkflow | None:
        try:
            return load(self.store, workflow_id)
        except SomaWorkflowError:
            _log.exception("swf engine cannot read workflow %s: left aside", workflow_id)
            return None

    def _reload(
        self, stored: StoredWorkflow, held: frozenset[int], now: float, tx: TickChanges
    ) -> None:
        execution = self.execution
        recovered = recover(
            stored, execution.next_serial(), held, now, self._launcher, execution.budget
        )
        execution.register(recovered.runtime, tx)
        for active in recovered.adopted:
            execution.adopt(active)
        tx.jobs.update(recovered.changes)

    def _load(self, workflow_id: int, serial: int, tx: TickChanges) -> RunningWorkflow | None:
        """Load a workflow that is not in memory (a finished one being restarted)."""
        stored = load(self.store, workflow_id)
        if stored is None:
            return None
        recovered = recover(
            stored, serial, frozenset(), self.clock.now(), self._launcher, self.execution.budget
        )
        tx.jobs.update(recovered.changes)
        return recovered.runtime
