"""MonitorSource: everything the monitor and the report read or do, through the EngineLink.

The one place that knows the link's shapes: the rest of the monitor works on ``JobFacts``
and plain dicts, so a change of the link's read models touches this module only.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from swf_app.link import EngineLink
from swf_app.read_models import JobChangeBatch, JobProgress, WorkflowSummary
from swf_domain import serialization
from swf_domain.errors import UnknownObjectError
from swf_domain.model import Workflow

from .shape import WorkflowShape, shape_from_document, shape_from_workflow

#: The changing state of one job, as the link's change feed gives it (epoch dates).
JobFacts = JobProgress


@dataclass(frozen=True, slots=True)
class FactsBatch:
    """Job states changed after a feed position, and the position to ask from next."""

    since: int | None
    facts: list[JobFacts]
    workflow_status: str | None


@dataclass(frozen=True, slots=True)
class WorkflowItem:
    """One row of the workflows page (the link's ``WorkflowSummary`` and its id)."""

    workflow_id: int
    summary: WorkflowSummary

    def as_json(self) -> dict[str, Any]:
        summary = self.summary
        counts = summary.counts
        return {
            "id": self.workflow_id,
            "name": summary.name,
            "status": summary.status,
            "queue": summary.queue,
            "expiration": summary.expiration_date,
            "submitted": summary.submitted,
            "started": summary.started,
            "ended": summary.ended,
            "counts": counts,
            "total": summary.total,
            "finished": counts.get("done", 0) + counts.get("failed", 0),
        }


@dataclass(frozen=True, slots=True)
class JobQuery:
    """What the job table asks for: a filtered, sorted page."""

    offset: int = 0
    limit: int = 50
    statuses: frozenset[str] = frozenset()
    text: str = ""
    group: int | None = None
    sort: str = "index"
    descending: bool = False


#: Cap of one output read: a live tail asks again from where it stopped.
OUTPUT_CHUNK = 256 * 1024


class MonitorSource:
    """The monitor's reads and actions, each one call (or a few) on the link.

    ``long_poll`` follows the change feed with the link's ``wait_changes`` (answers the
    moment something changed, but the engine itself runs the wait and packs the
    answers); without it, ``job_changes`` every ``period`` seconds, a query that a
    daemon's clients answer from the store themselves (``SplitLink``), costing the engine
    nothing. The default is what the bench measured cheaper for the engine
    (bench/README.md, "Monitor").
    """

    def __init__(self, link: EngineLink, long_poll: bool = False, period: float = 0.3) -> None:
        self.link = link
        self.long_poll = long_poll
        self.period = period

    # -- workflows ------------------------------------------------------------------------
    def workflow_items(self) -> list[WorkflowItem]:
        """Every workflow of the user with its counts and dates (one read of the link)."""
        listed = self.link.workflow_list()
        return [WorkflowItem(key, summary) for key, summary in sorted(listed.items())]

    def summary(self, workflow_id: int) -> dict[str, Any]:
        """What the workflow page shows first, read without loading the workflow:
        counts and dates from one aggregate read (``loading``: the monitor is still
        reading the workflow's groups and graph)."""
        found = self.link.workflow_list([workflow_id]).get(workflow_id)
        if found is None:
            raise UnknownObjectError(f"workflow {workflow_id} does not exist (or was deleted)")
        row = WorkflowItem(workflow_id, found).as_json()
        row.update(started=found.started, ended=found.ended, version=0, loading=True)
        return row

    def job_page(self, workflow_id: int, query: JobQuery) -> dict[str, Any]:
        """A page of the job table read by the store (the workflow is not loaded yet):
        the rows the loaded model gives, without their group."""
        page = self.link.job_page(
            workflow_id,
            query.offset,
            query.limit,
            sorted(query.statuses),
            query.text,
            query.sort,
            query.descending,
        )
        rows = [job_row(job, name) for job, name in zip(page.jobs, page.names, strict=True)]
        return {"total": page.total, "offset": query.offset, "rows": rows, "version": 0}

    def workflow(self, workflow_id: int) -> Workflow:
        """The submitted workflow, its jobs carrying their ids."""
        return _read_workflow(workflow_id, self.link.workflow_document(workflow_id))

    def shape(self, workflow_id: int) -> WorkflowShape:
        """What the monitor's views need of the workflow, from the document's dicts
        (the full reader only for a document outside swf's plain form)."""
        document = self.link.workflow_document(workflow_id)
        shape = shape_from_document(document, list(document.get("job_ids") or []))
        if shape is None:
            shape = shape_from_workflow(_read_workflow(workflow_id, document))
        return shape

    def changes(self, workflow_id: int, since: int | None) -> FactsBatch:
        """The jobs changed after ``since`` (None: every job), from the change feed."""
        return _batch(self.link.job_changes(workflow_id, since))

    def wait_changes(self, workflow_id: int, since: int | None, timeout: float) -> FactsBatch:
        """Like ``changes``, but waits up to ``timeout`` seconds for a change."""
        if self.long_poll:
            return _batch(self.link.wait_changes(workflow_id, since, timeout))
        deadline = time.monotonic() + timeout
        while True:
            batch = self.changes(workflow_id, since)
            left = deadline - time.monotonic()
            if batch.facts or left <= 0:
                return batch
            time.sleep(min(self.period, left))

    def forget(self, workflow_id: int) -> None:
        """Nothing kept per workflow here (the change feed's position is the model's)."""

    # -- one job ----------------------------------------------------------------------
    def job_output(self, job_id: int, stream: str, offset: int) -> dict[str, Any]:
        """A job's stdout or stderr from ``offset``, read through the link: ``text``, the
        next ``offset``, whether the file ``exists``, and ``restarted`` when it is now
        shorter than ``offset`` (the job ran again: read from 0)."""
        chunk = self.link.read_job_output(job_id, stream, offset, OUTPUT_CHUNK)
        restarted = chunk.size is not None and chunk.size < offset
        if restarted:
            chunk = self.link.read_job_output(job_id, stream, 0, OUTPUT_CHUNK)
        return {
            "text": chunk.data.decode(errors="replace"),
            "offset": chunk.next_offset,
            "exists": chunk.size is not None,
            "restarted": restarted,
            "ended": chunk.ended,
        }

    def output_tail(self, job_id: int, stream: str, limit: int) -> str:
        """The last ``limit`` bytes of a job's output (the report's stderr tails)."""
        chunk = self.link.read_job_output(job_id, stream, -limit, limit)
        return chunk.data.decode(errors="replace")

    def workflow_of_job(self, job_id: int) -> int | None:
        """The workflow the job belongs to (None: no such job)."""
        found = self.link.jobs_info([job_id]).get(job_id)
        return found.workflow_id if found is not None else None

    def command_run(self, job_id: int) -> list[str] | None:
        """The argv the job's last run was started with, as the store keeps it (parameters
        substituted, paths translated on the resource); None until it was submitted."""
        found = self.link.jobs_info([job_id]).get(job_id)
        return found.command if found is not None else None

    def output_params(self, job_id: int) -> dict[str, Any] | None:
        return self.link.get_job_output_params(job_id)

    # -- actions ----------------------------------------------------------------------
    def stop_workflow(self, workflow_id: int) -> bool:
        return self.link.stop_workflow(workflow_id)

    def restart_workflow(self, workflow_id: int) -> bool:
        return self.link.restart_workflow(workflow_id)

    def delete_workflow(self, workflow_id: int) -> bool:
        self.forget(workflow_id)
        return self.link.delete_workflow(workflow_id, True)

    def stop_jobs(self, workflow_id: int, job_ids: Sequence[int]) -> bool:
        return self.link.stop_jobs(workflow_id, list(job_ids))

    def restart_jobs(self, workflow_id: int, job_ids: Sequence[int]) -> bool:
        return self.link.restart_jobs(workflow_id, list(job_ids))

    def change_expiration(self, workflow_id: int, expiration: float | None) -> bool:
        return self.link.change_workflow_expiration_date(workflow_id, expiration)


def _read_workflow(workflow_id: int, stored: Mapping[str, Any]) -> Workflow:
    document = dict(stored)
    # Taken out first: the reader would keep it as an unknown key, a deep copy of
    # 100,000 ids (a tenth of the read).
    job_ids = document.pop("job_ids", [])
    workflow = serialization.workflow_from_dict(document)
    for job, job_id in zip(workflow.jobs, job_ids, strict=False):
        job.job_id = job_id
    workflow.wf_id = workflow_id
    return workflow


def _batch(batch: JobChangeBatch) -> FactsBatch:
    return FactsBatch(batch.since, batch.jobs, batch.status)


def job_row(fact: JobFacts, name: str, index: int | None = None, group: str = "") -> dict[str, Any]:
    """One row of the job table (the page builds its cells from these keys)."""
    return {
        "id": fact.job_id,
        "index": index,
        "name": name,
        "status": fact.status,
        "group": group,
        "exit_status": fact.exit_status,
        "exit_value": fact.exit_value,
        "term_signal": fact.term_signal,
        "submitted": fact.submitted,
        "started": fact.started,
        "ended": fact.ended,
    }
