"""One job's page: everything known about it, as plain JSON-ready data.

The command is rendered as the engine renders it; special paths whose location only the
resource knows show as their client path (transfers) or a readable placeholder.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from swf_domain.command import render_command
from swf_domain.model import (
    FileTransfer,
    Job,
    SharedResourcePath,
    SpecialPath,
    TemporaryPath,
)

from .model import QUEUED, WorkflowModel
from .timeline import job_slots

#: Parents / children listed on a job page (a fan-in of 100,000 shows a count instead).
NEIGHBOURS_LIMIT = 100


class ShownPaths:
    """A PathResolver for display: where the client knows a path, else a placeholder."""

    def resolve(self, path: SpecialPath) -> str:
        if isinstance(path, FileTransfer):
            return path.client_path or f"<transfer {path.name or ''}>"
        if isinstance(path, TemporaryPath):
            return f"<temporary {path.name or 'path'}{path.suffix}>"
        if isinstance(path, SharedResourcePath):
            return f"<{path.namespace}:{path.uuid}>/{path.relative_path}"
        return f"<{type(path).__name__}>"


def shown_command(job: Job) -> list[str]:
    try:
        return render_command(job, ShownPaths())
    except Exception:  # a command the engine would refuse: show its items as they are
        return [str(item) for item in job.command]


def _shown(value: Any) -> Any:
    """A parameter value as JSON (special paths by their shown location)."""
    if isinstance(value, SpecialPath):
        return ShownPaths().resolve(value.referent())
    if isinstance(value, list | tuple | set):
        return [_shown(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _shown(item) for key, item in value.items()}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def parse_usage(usage: str | None) -> dict[str, str]:
    """soma's resource usage string ``"cput=0.01 mem=1234kb walltime=0.5"`` as a dict."""
    found: dict[str, str] = {}
    for item in (usage or "").split():
        key, sep, value = item.partition("=")
        if sep:
            found[key] = value
    return found


def job_detail(model: WorkflowModel, job_id: int, output_params: Any) -> dict[str, Any] | None:
    """The job page's data; None when the job is not in this workflow."""
    index = model.index_of.get(job_id)
    if index is None:
        return None
    job = model.workflow.jobs[index]
    with model.lock:
        fact = model.facts[index]
        status = model.status_of(index)
    env = dict(model.workflow.env or {})
    env.update(job.env or {})
    detail: dict[str, Any] = {
        "id": job_id,
        "workflow": model.workflow_id,
        "workflow_name": model.name,
        "name": model.names[index],
        "status": status,
        "groups": [
            {"id": node_id, "name": model.groups[node_id].name}
            for node_id in model.job_groups[index]
        ],
        "command": shown_command(job),
        "working_directory": _shown(job.working_directory),
        "env": env,
        "priority": job.priority,
        "slots": job_slots(job),
        "native_specification": job.native_specification,
        "join_stderrout": job.join_stderrout,
        "params_in": _params_in(model, job),
        "params_out": _shown(output_params),
        "parents": _neighbours(model, model.parents[index]),
        "children": _neighbours(model, model.children[index]),
    }
    detail.update(_state(fact, status))
    return detail


def _state(fact: Any, status: str) -> dict[str, Any]:
    if fact is None:
        return {"queue": None, "cluster_id": None, "exit": None, "usage": {}, "dates": {}}
    now = time.time()
    queued_until = fact.started or (now if status in QUEUED else fact.ended)
    running_until = fact.ended or (now if status == "running" else None)
    return {
        "queue": fact.queue,
        "cluster_id": fact.scheduler_job_id,
        "exit": {
            "status": fact.exit_status,
            "value": fact.exit_value,
            "signal": fact.term_signal,
        },
        "usage": parse_usage(fact.resource_usage),
        "dates": {
            "submitted": fact.submitted,
            "started": fact.started,
            "ended": fact.ended,
            "in_queue": _span(fact.submitted, queued_until),
            "running": _span(fact.started, running_until),
        },
    }


def _span(start: float | None, end: float | None) -> float | None:
    if start is None or end is None:
        return None
    return round(max(0.0, end - start), 3)


def _neighbours(model: WorkflowModel, indices: Sequence[int]) -> dict[str, Any]:
    shown = indices[:NEIGHBOURS_LIMIT]
    return {
        "total": len(indices),
        "jobs": [
            {"id": model.ids[i], "name": model.names[i], "status": model.status_of(i)}
            for i in shown
        ],
    }


def _params_in(model: WorkflowModel, job: Job) -> list[dict[str, Any]]:
    """Each input parameter, with the job (and its parameter) it is linked from."""
    links = (model.workflow.param_links or {}).get(job, {})
    params = dict(job.param_dict or {})
    entries = []
    for name in sorted(set(params) | set(links)):
        sources = []
        for link in links.get(name, []):
            source_job = link[0] if link else None
            if isinstance(source_job, Job):
                sources.append(
                    {"job": source_job.job_id, "name": str(source_job.name), "param": link[1]}
                )
        entries.append({"name": name, "value": _shown(params.get(name)), "from": sources})
    return entries
