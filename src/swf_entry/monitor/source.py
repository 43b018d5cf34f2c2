"""MonitorSource: everything the monitor and the report read or do, through the EngineLink.

The one place that knows the link's shapes: the rest of the monitor works on ``JobFacts``
and plain dicts, so a change of the link's read models touches this module only.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from swf_app.link import EngineLink
from swf_domain import serialization
from swf_domain.model import Workflow


class JobFacts(NamedTuple):
    """The changing state of one job, as the monitor shows it (epoch dates)."""

    job_id: int
    status: str
    queue: str | None = None
    exit_status: str | None = None
    exit_value: int | None = None
    term_signal: int | None = None
    resource_usage: str | None = None
    submitted: float | None = None
    started: float | None = None
    ended: float | None = None
    scheduler_job_id: str | None = None


@dataclass(frozen=True, slots=True)
class FactsBatch:
    """Job states changed after a feed position, and the position to ask from next."""

    since: Any
    facts: list[JobFacts]
    workflow_status: str | None
    queue: str | None


@dataclass(frozen=True, slots=True)
class WorkflowItem:
    """One row of the workflows page."""

    workflow_id: int
    name: str | None
    status: str | None
    expiration: float | None
    counts: dict[str, int]

    def as_json(self) -> dict[str, Any]:
        total = sum(self.counts.values())
        finished = self.counts.get("done", 0) + self.counts.get("failed", 0)
        return {
            "id": self.workflow_id,
            "name": self.name,
            "status": self.status,
            "expiration": self.expiration,
            "counts": self.counts,
            "total": total,
            "finished": finished,
        }


#: Cap of one output read: a live tail asks again from where it stopped.
OUTPUT_CHUNK = 256 * 1024


class MonitorSource:
    """The monitor's reads and actions, each one call (or a few) on the link."""

    def __init__(self, link: EngineLink) -> None:
        self.link = link
        #: Fallback change feed (see ``changes``): the last entry seen per job.
        self._seen: dict[int, dict[int, tuple[Any, ...]]] = {}

    # -- workflows ------------------------------------------------------------------------
    def workflow_items(
        self, counted: dict[int, dict[str, int]] | None = None
    ) -> list[WorkflowItem]:
        """Every workflow of the user; ``counted`` gives counts already known (finished
        workflows do not change, so their counts are not read again)."""
        known = counted or {}
        items = []
        for workflow_id, (name, expiration) in sorted(self.link.workflows().items()):
            try:
                status = self.link.workflow_status(workflow_id)
                counts = known.get(workflow_id) if status == "workflow_done" else None
                counts = counts or self.link.status_summary(workflow_id)
            except Exception:  # deleted between the two reads
                continue
            items.append(WorkflowItem(workflow_id, name, status, expiration, counts))
        return items

    def workflow(self, workflow_id: int) -> Workflow:
        """The submitted workflow, its jobs carrying their ids."""
        document = self.link.workflow_document(workflow_id)
        workflow = serialization.workflow_from_dict(document)
        for job, job_id in zip(workflow.jobs, document.get("job_ids", []), strict=False):
            job.job_id = job_id
        workflow.wf_id = workflow_id
        return workflow

    def changes(self, workflow_id: int, since: Any) -> FactsBatch:
        """The jobs changed after ``since`` (None: every job).

        Uses the link's change feed when it has one (``job_changes``); otherwise the
        elements status (refreshed incrementally by the link) compared with what was
        seen, so that only changed jobs leave this method either way.
        """
        jobs, _transfers, status, queue, _temps = self.link.workflow_elements_status(workflow_id)
        seen = self._seen.setdefault(workflow_id, {}) if since is not None else {}
        if since is None:
            self._seen[workflow_id] = seen
        changed = [entry for entry in jobs if seen.get(entry[0]) is not entry]
        for entry in changed:
            seen[entry[0]] = entry
        return FactsBatch((since or 0) + 1, [_facts(entry) for entry in changed], status, queue)

    def wait_changes(self, workflow_id: int, since: Any, timeout: float) -> FactsBatch:
        """Like ``changes``, but waits up to ``timeout`` seconds for one to happen."""
        deadline = time.monotonic() + timeout
        while True:
            batch = self.changes(workflow_id, since)
            if batch.facts or time.monotonic() >= deadline:
                return batch
            time.sleep(min(0.25, max(0.0, deadline - time.monotonic())))

    def forget(self, workflow_id: int) -> None:
        self._seen.pop(workflow_id, None)

    # -- one job ----------------------------------------------------------------------
    def job_output(self, job_id: int, stream: str, offset: int) -> dict[str, Any]:
        """A job's stdout or stderr from ``offset``: ``text``, the next ``offset``,
        whether the file ``exists``, and ``restarted`` when it is now shorter than
        ``offset`` (the job ran again: read from 0)."""
        stdout, stderr = self.link.job_files(job_id)
        path = stdout if stream == "stdout" else stderr
        answer: dict[str, Any] = {"text": "", "offset": offset, "exists": False, "restarted": False}
        if not path:
            return answer
        try:
            with Path(path).open("rb") as handle:
                size = handle.seek(0, 2)
                if size < offset:
                    offset, answer["restarted"] = 0, True
                handle.seek(offset)
                data = handle.read(OUTPUT_CHUNK)
        except FileNotFoundError:
            return answer
        answer.update(text=data.decode(errors="replace"), offset=offset + len(data), exists=True)
        return answer

    def output_tail(self, job_id: int, stream: str, limit: int) -> str:
        """The last ``limit`` bytes of a job's output (the report's stderr tails)."""
        stdout, stderr = self.link.job_files(job_id)
        path = stdout if stream == "stdout" else stderr
        if not path:
            return ""
        try:
            with Path(path).open("rb") as handle:
                handle.seek(0, 2)
                handle.seek(max(0, handle.tell() - limit))
                return handle.read().decode(errors="replace")
        except OSError:
            return ""

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


def _facts(entry: tuple[Any, ...]) -> JobFacts:
    """JobFacts from one soma-shaped elements-status entry (with the drms id)."""
    exit_info = entry[3] or (None, None, None, None)
    dates = entry[4] or (None, None, None, None)
    return JobFacts(
        entry[0],
        entry[1],
        entry[2],
        exit_info[0],
        exit_info[1],
        exit_info[2],
        exit_info[3],
        dates[0],
        dates[1],
        dates[2],
        entry[5] if len(entry) > 5 else None,
    )
