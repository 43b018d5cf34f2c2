"""EngineService: what the WorkflowController facade needs, in-process.

Plain data in and out (ints, str, float epoch dates, lists, tuples, dicts) so the same
object can be served over Pyro5. Queries (``QueryService``) read the store and never wait for
the engine thread; commands go through the engine's inbox and return once the tick
that ran them is committed. Semantics and return shapes are soma-workflow's
``WorkflowController``'s (seeds/004), checked against soma-workflow 6.0.13:

- ``stop_workflow``: running jobs are killed (FAILED, ``killed_by_user``), jobs not
  started are FAILED ``aborted_before_running``; the workflow ends DONE and may be
  restarted. Returns False when the kills were not confirmed in time.
- ``restart_workflow``: runs again the FAILED jobs and those aborted below them, and only
  those; allowed while the workflow still runs. True when some job was restarted.
- ``restart_jobs``: the given jobs and the descendants that can run with them are
  stopped if needed and run again (DONE ones included, as in soma-workflow).
- a job that ends with a non-zero exit value is FAILED (soma-workflow's local scheduler
  says DONE with the exit value: both satisfy ``Helper.list_failed_jobs``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from swf_domain.errors import UnknownObjectError, WorkflowError
from swf_domain.gc_pause import freeze_survivors, gc_paused
from swf_domain.graph import CompiledWorkflow
from swf_domain.model import Workflow
from swf_domain.serialization import declares_special_paths, parse, workflow_from_dict
from swf_domain.status import TERMINAL_JOB_STATUSES, WorkflowStatus
from swf_domain.validation import validate

from .engine import Engine
from .overlap import write_while_checking
from .ports import (
    Clock,
    JobOutputReader,
    JobRow,
    NewJob,
    NewWorkflow,
    TransferArea,
    WorkflowRow,
    WorkflowStore,
)
from .queries import QueryService, ServesQueries
from .read_models import JobChangeBatch
from .transfer_commands import TransferCommands

#: Submissions of at least this many jobs freeze their model (``freeze_kept_models``).
FREEZE_FROM_JOBS = 20_000
#: How long stop_workflow / stop_jobs / restart_jobs wait for kills to be confirmed.
DEFAULT_CONTROL_TIMEOUT = 60.0
#: A workflow submitted without an expiration date expires after this (soma-workflow's
#: 7 days); then the engine deletes it, its files with it.
DEFAULT_LIFETIME = 7 * 24 * 3600.0


class EngineService(TransferCommands, ServesQueries):
    """The engine's client-facing operations (the EngineLink port, in-process).

    Queries are the QueryService's (``ServesQueries`` forwards every query of the link
    table); commands and waits are written here.
    """

    def __init__(
        self,
        store: WorkflowStore,
        engine: Engine,
        clock: Clock,
        user: str | None = None,
        control_timeout: float = DEFAULT_CONTROL_TIMEOUT,
        default_lifetime: float | None = DEFAULT_LIFETIME,
        output: JobOutputReader | None = None,
        transfers: TransferArea | None = None,
    ) -> None:
        self._store = store
        #: The read-only operations (shared with clients that read the store themselves).
        self.queries = QueryService(store, user, output=output, transfers=transfers)
        self._transfers = transfers
        self._engine = engine
        self._clock = clock
        self._user = self.queries.user
        self._control_timeout = control_timeout
        self._default_lifetime = default_lifetime
        #: Set by the engine daemon (never in a user's process, whose objects it would
        #: freeze too): the model of a big submission without reference cycles is left
        #: out of the collector's future passes (``freeze_survivors``).
        self.freeze_kept_models = False

    # -- submission ---------------------------------------------------------------------

    def submit_workflow(
        self,
        document: dict[str, Any] | str,
        name: str | None = None,
        queue: str | None = None,
        expiration_date: float | None = None,
        working_directory: str | None = None,
    ) -> int:
        """Validate, persist, start; invalid -> WorkflowError/JobError, nothing stored.

        Without an expiration date, the workflow expires ``default_lifetime`` seconds
        from now (None: never). ``working_directory`` is the client's directory: jobs
        without one run there. A job file or working directory that would reach the
        engine's own files is refused (EngineFilesError), before anything is stored.

        ``document`` may come as its JSON text (what a remote client sends): it is parsed
        once here and that text is what the store keeps, so a million-job document is
        never encoded again on this side.
        """
        stored, content = _stored_and_content(document)
        now = self._clock.now()
        if expiration_date is None and self._default_lifetime is not None:
            expiration_date = now + self._default_lifetime
        elif expiration_date is not None and not expiration_date > now:
            raise WorkflowError(_past_expiration(expiration_date, now))
        transfer_count = _transfer_count(content)
        acyclic = not declares_special_paths(content)
        with gc_paused():
            workflow = workflow_from_dict(content)
            del content  # its decoded form (~1.4 KB per job) is not kept: its model is
            new = NewWorkflow(
                user=self._user,
                name=name if name is not None else workflow.name,
                document=stored,
                jobs=_new_jobs(workflow),
                queue=queue,
                expiration_date=expiration_date,
                submission_date=now,
                working_directory=working_directory,
                transfer_count=transfer_count,
            )

            def check() -> CompiledWorkflow:
                compiled = validate(workflow)
                self._engine.execution.launcher.check_files(workflow, working_directory)
                return compiled

            # Rows written beside the checks, committed only once they pass.
            submitted, compiled = write_while_checking(
                lambda approve: self._store.add_workflow(new, approve), check
            )
            workflow.wf_id = submitted.workflow_id
            self._engine.add_workflow(
                submitted.workflow_id,
                workflow,
                compiled,
                submitted.job_ids,
                queue,
                working_directory=working_directory,
            )
            if self.freeze_kept_models and acyclic and len(compiled.jobs) >= FREEZE_FROM_JOBS:
                freeze_survivors()
        return submitted.workflow_id

    # -- queries: ServesQueries, from the QueryService (both processes answer alike) ----

    def query_service(self) -> QueryService:
        return self.queries

    # -- control ------------------------------------------------------------------------

    def stop_workflow(self, workflow_id: int) -> bool:
        self._workflow_row(workflow_id)
        self._engine.call(lambda tx: self._engine.execution.stop_workflow(workflow_id, tx))
        return self._engine.notifier.wait_for(
            lambda: self._finished_or_gone(workflow_id), self._control_timeout, [workflow_id]
        )

    def restart_workflow(self, workflow_id: int, queue: str | None = None) -> bool:
        self._workflow_row(workflow_id)
        restarted: bool = self._engine.call(
            lambda tx: self._engine.execution.restart_workflow(workflow_id, queue, tx)
        )
        return restarted

    def delete_workflow(self, workflow_id: int, force: bool = True) -> bool:
        """Kill its jobs, remove its files and rows (``force`` kept for compatibility)."""
        self._workflow_row(workflow_id)
        self._engine.call(lambda tx: self._engine.execution.delete_workflow(workflow_id, tx))
        return True

    def stop_jobs(self, workflow_id: int, job_ids: Sequence[int]) -> bool:
        ids = self._jobs_of_workflow(workflow_id, job_ids)
        self._engine.call(lambda tx: self._engine.execution.stop_jobs(workflow_id, ids, tx))
        return self._wait_not_active(workflow_id, ids)

    def restart_jobs(self, workflow_id: int, job_ids: Sequence[int]) -> bool:
        """Stop the jobs and their rerun set, then run them again once none is active.

        When none of them is running (the usual case: failed jobs of a finished
        workflow) it is all one engine call: two calls loaded a finished workflow from
        the store twice (it is unloaded again after the first), seconds per 100,000 jobs.
        """
        ids = self._jobs_of_workflow(workflow_id, job_ids)
        execution = self._engine.execution

        def stop_rerun_set(tx: Any) -> tuple[list[int], bool]:
            chosen = execution.rerun_set(workflow_id, ids, tx)
            execution.stop_jobs(workflow_id, chosen, tx)
            if execution.active_among(workflow_id, chosen):
                return chosen, False
            execution.rerun_jobs(workflow_id, chosen, tx)
            return chosen, True

        chosen, rerun = self._engine.call(stop_rerun_set)
        if rerun:
            return True
        if not self._wait_not_active(workflow_id, chosen):
            return False
        self._engine.call(lambda tx: execution.rerun_jobs(workflow_id, chosen, tx))
        return True

    def change_workflow_expiration_date(
        self, workflow_id: int, expiration_date: float | None
    ) -> bool:
        """False when the date is already past (soma-workflow's rule)."""
        self._workflow_row(workflow_id)
        if expiration_date is not None and expiration_date < self._clock.now():
            return False
        return self._store.set_expiration(workflow_id, expiration_date)

    def delete_expired_workflows(self) -> list[int]:
        """Delete now every workflow past its expiration date (the engine also does it
        on a timer); returns their ids."""
        expired: list[int] = self._engine.call(self._engine.execution.expired)
        return expired

    # -- waiting ------------------------------------------------------------------------

    def wait_workflow(self, workflow_id: int, timeout: float = -1) -> bool:
        """True once the workflow is DONE (or deleted); False after ``timeout`` seconds
        (negative: no limit)."""
        self._workflow_row(workflow_id)
        return self._engine.notifier.wait_for(
            lambda: self._finished_or_gone(workflow_id),
            _timeout(timeout),
            [workflow_id],
            status_only=True,
        )

    def wait_job(self, job_ids: Sequence[int], timeout: float = -1) -> bool:
        """True once every job has ended (or was deleted)."""
        ids = list(job_ids)
        workflow_ids = {self._job_row(job_id).workflow_id for job_id in ids}

        def all_ended() -> bool:
            for job_id in ids:
                row = self._store.job(job_id)
                if row is not None and row.state.status not in TERMINAL_JOB_STATUSES:
                    return False
            return True

        return self._engine.notifier.wait_for(all_ended, _timeout(timeout), workflow_ids)

    def wait_changes(
        self, workflow_id: int, since: int | None, timeout: float = -1
    ) -> JobChangeBatch:
        """The jobs changed after ``since`` once there are some (or the workflow is gone:
        UnknownObjectError), else after ``timeout`` seconds an empty batch."""
        found: list[JobChangeBatch] = []

        def changed() -> bool:
            batch = self.queries.job_changes(workflow_id, since)
            found[:] = [batch]
            return bool(batch.jobs)

        self._engine.notifier.wait_for(changed, _timeout(timeout), [workflow_id])
        return found[-1]

    # -- lifetime -----------------------------------------------------------------------

    def is_idle(self) -> bool:
        """No workflow left to run (the daemon's idle timeout waits for this).

        Read from the store, so it answers without waiting for the engine thread; a
        workflow not started yet counts as work.
        """
        return not self._store.active_workflow_ids()

    def engine_stats(self) -> dict[str, Any]:
        """What the engine holds now (``swf engine status``)."""
        execution = self._engine.execution

        def read(_tx: Any) -> dict[str, int]:
            return {
                "workflows_loaded": len(execution.runtimes),
                "jobs_running": len(execution.active),
                "jobs_ready": len(execution.ready),
            }

        stats: dict[str, Any] = self._engine.call(read, timeout=self._control_timeout)
        stats["workflows_unfinished"] = len(self._store.active_workflow_ids())
        # A cluster scheduler says when it is waiting for a controller that does not answer.
        problem = getattr(self._engine.scheduler, "problem", None)
        if problem:
            stats["scheduler_problem"] = str(problem)
        return stats

    def set_slots(self, slots: int) -> None:
        """Cores the engine fills from now on (soma's ``set_proc_nb`` on a light-mode
        engine): more start at once when raised; running jobs are never stopped."""
        execution = self._engine.execution
        self._engine.call(lambda _tx: execution.budget.resize(slots), timeout=self._control_timeout)

    def close(self) -> None:
        """The client side lets go; workflows go on (nothing to release in-process)."""

    def shutdown(self) -> None:
        """Stop the engine thread and the scheduler's reporting, without killing jobs."""
        self._engine.shutdown()

    # -- helpers ------------------------------------------------------------------------

    def _workflow_row(self, workflow_id: int) -> WorkflowRow:
        return self.queries.workflow_row(workflow_id)

    def _job_row(self, job_id: int) -> JobRow:
        return self.queries.job_row(job_id)

    def _jobs_of_workflow(self, workflow_id: int, job_ids: Sequence[int]) -> list[int]:
        """``job_ids``, checked to be jobs of the workflow: by its id range when its ids
        are contiguous (no read per job: restarting a thousand jobs read a thousand rows),
        else, and for ids outside the range (to name the error), by reading the job."""
        row = self._workflow_row(workflow_id)
        ids = list(job_ids)
        first = row.first_job_id
        for job_id in ids:
            if first is not None and first <= job_id < first + row.job_count:
                continue
            if self._job_row(job_id).workflow_id != workflow_id:
                raise UnknownObjectError(f"job {job_id} is not a job of workflow {workflow_id}")
        return ids

    def _finished_or_gone(self, workflow_id: int) -> bool:
        row = self._store.workflow(workflow_id)
        return row is None or row.status is WorkflowStatus.DONE

    def _wait_not_active(self, workflow_id: int, job_ids: Sequence[int]) -> bool:
        """True once none of the jobs is held by the scheduler any more (their ends
        committed); False after the control timeout.

        Asks the engine, whose answer comes after the commit that recorded the ends, and
        only about the jobs still active at the previous look: reading each job's row
        again at every change took seconds per look for a thousand jobs."""
        execution = self._engine.execution
        remaining = list(job_ids)

        def still_active(tx: Any) -> list[int]:
            return execution.active_among(workflow_id, remaining)

        def none_active() -> bool:
            remaining[:] = self._engine.call(still_active)
            return not remaining

        return self._engine.notifier.wait_for(none_active, self._control_timeout, [workflow_id])


def _timeout(timeout: float) -> float | None:
    return None if timeout is None or timeout < 0 else float(timeout)


def _past_expiration(expiration_date: float, now: float) -> str:
    """Why a submission with this expiration date is refused (it would be deleted at
    the engine's next sweep, its jobs killed)."""
    return (
        f"expiration date {_date(expiration_date)} is not in the future (now is"
        f" {_date(now)}): the workflow would be deleted at once; give a later date, or"
        " none for the default lifetime"
    )


def _date(epoch: float) -> str:
    try:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch))
    except (ValueError, OverflowError, OSError):
        return repr(epoch)


def _new_jobs(workflow: Workflow) -> list[NewJob]:
    """The store's rows of a just-read workflow's jobs (``workflow.jobs`` is the compiled
    order; an invalid workflow's rows are rolled back, so nothing here is checked)."""
    return [
        NewJob(index, job.name or f"job_{index}", job.priority, job.is_barrier())
        for index, job in enumerate(workflow.jobs)
    ]


def _transfer_count(content: Any) -> int | None:
    """How many file transfers the (already parsed) document declares; None if it does
    not say in the usual shape (the validation that follows names what is wrong)."""
    declared = content.get("serialized_file_transfers", {}) if isinstance(content, dict) else None
    return len(declared) if isinstance(declared, dict | list) else None


def _stored_and_content(document: dict[str, Any] | str) -> tuple[dict[str, Any] | str, Any]:
    """(what the store keeps: the text as received, else the document; its content)."""
    if isinstance(document, str):
        return document, parse(document, "the submitted workflow document")
    return document, document
