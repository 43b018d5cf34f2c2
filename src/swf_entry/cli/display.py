"""Rich rendering for the CLI: tables, the group tree, the live progress panel, summaries.

Kept apart from the commands so that the JSON shapes (``*_json``) and the human views are
built from the same snapshots and cannot drift. The snapshots themselves (``JobView``,
``WorkflowSnapshot``) are the read model shared with the facade and the monitor
(``swf_app.read_models``).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from rich.console import Group as RichGroup
from rich.console import RenderableType
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from swf_app.read_models import JobView, WorkflowSnapshot
from swf_app.read_models import iso_date as _iso
from swf_domain.model import Group, Job, Workflow

__all__ = ["JobView", "WorkflowSnapshot"]

STATUS_STYLE = {
    "done": "green",
    "failed": "red",
    "running": "cyan",
    "queued_active": "blue",
    "submission_pending": "blue",
    "not_submitted": "dim",
    "kill_pending": "yellow",
    "workflow_done": "green",
    "workflow_in_progress": "cyan",
    "worklflow_not_started": "dim",
}


def styled(status: str) -> Text:
    return Text(status, style=STATUS_STYLE.get(status, ""))


def workflows_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(title="workflows", title_justify="left")
    for column in ("id", "name", "status", "jobs", "done", "failed", "expires"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            str(row["id"]),
            row["name"] or "",
            styled(row["status"] or ""),
            str(row["total"]),
            str(row["counts"].get("done", 0)),
            str(row["counts"].get("failed", 0)),
            row["expiration"] or "",
        )
    return table


def summary_table(snapshot: WorkflowSnapshot) -> Table:
    table = Table(
        title=f"workflow {snapshot.workflow_id} {snapshot.name or ''}".rstrip(),
        title_justify="left",
    )
    table.add_column("status")
    table.add_column("jobs", justify="right")
    for status, count in sorted(snapshot.counts().items()):
        table.add_row(styled(status), str(count))
    table.add_row(Text("workflow", style="bold"), styled(snapshot.status))
    return table


def jobs_table(snapshot: WorkflowSnapshot) -> Table:
    table = Table(title="jobs", title_justify="left")
    on_cluster = any(job.scheduler_job_id for job in snapshot.jobs)
    columns = ["id", "name", "status", "exit", "value", "signal", "started", "ended"]
    for column in [*columns, "cluster id"] if on_cluster else columns:
        table.add_column(column)
    for job in snapshot.jobs:
        cells: list[str | Text] = [
            str(job.job_id),
            job.name,
            styled(job.status),
            job.exit_status or "",
            "" if job.exit_value is None else str(job.exit_value),
            "" if job.term_signal is None else str(job.term_signal),
            _iso(job.started) or "",
            _iso(job.ended) or "",
        ]
        table.add_row(*cells, *([job.scheduler_job_id or ""] if on_cluster else []))
    return table


def group_tree(workflow: Workflow, snapshot: WorkflowSnapshot) -> Tree:
    """The group hierarchy with, per group, how many of its jobs are in each status."""
    by_id = {job.job_id: job for job in snapshot.jobs}
    tree = Tree(Text(f"{snapshot.name or 'workflow'} [{snapshot.status}]", style="bold"))

    def status_of(job: Job) -> str:
        view = by_id.get(job.job_id) if job.job_id is not None else None
        return view.status if view is not None else "unknown"

    def add(node: Tree, elements: list[Job | Group]) -> None:
        for element in elements:
            if isinstance(element, Group):
                counts = Counter(status_of(job) for job in element.iter_jobs())
                label = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
                add(node.add(Text(f"{element.name} ({label})", style="bold")), element.elements)
            else:
                line = Text(f"{element.name} ")
                line.append_text(styled(status_of(element)))
                node.add(line)

    add(tree, list(workflow.root_group or []))
    return tree


def progress_panel(snapshot: WorkflowSnapshot, elapsed: float) -> RenderableType:
    """The live display of ``swf run``: counts, a bar, elapsed / ETA, running jobs."""
    total = max(len(snapshot.jobs), 1)
    finished = snapshot.finished()
    rate = finished / elapsed if elapsed > 0 else 0.0
    eta = (total - finished) / rate if rate > 0 else None
    counts = "  ".join(f"{status}: {n}" for status, n in sorted(snapshot.counts().items()))
    header = Text(
        f"workflow {snapshot.workflow_id} {snapshot.name or ''}  "
        f"{finished}/{total} finished  elapsed {elapsed:.1f}s"
        + (f"  eta {eta:.1f}s" if eta is not None else ""),
        style="bold",
    )
    running = [job.name for job in snapshot.jobs if job.status == "running"][:8]
    lines: list[RenderableType] = [
        header,
        ProgressBar(total=total, completed=finished, width=60),
        Text(counts),
    ]
    if running:
        lines.append(Text("running: " + ", ".join(running), style="cyan"))
    return RichGroup(*lines)


def failure_line(job: JobView) -> Text:
    """Why a job failed, in words: exit code, signal, killed, or never run."""
    reasons = {
        "finished_regularly": f"exit code {job.exit_value}",
        "finished_signal": f"killed by signal {job.term_signal}",
        "killed_by_user": "killed by the user",
        "aborted_before_running": "not run (a job it depends on failed, or it was stopped)",
        "aborted": "aborted (it could not be started)",
        "finished_unclear_condition": "ended in unclear conditions",
        "exit_status_undetermined": "exit undetermined",
    }
    reason = reasons.get(job.exit_status or "", job.exit_status or "no exit status")
    return Text.assemble(("failed", "red"), f" {job.name} (id {job.job_id}): {reason}")


def indented(text: str, prefix: str = "    ") -> Text:
    """A job's output tail, set apart from the summary lines."""
    return Text("\n".join(prefix + line for line in text.splitlines()))


def config_table(values: dict[str, dict[str, Any]]) -> Table:
    """``swf config show``: each option, its value, and where the value came from."""
    table = Table(title_justify="left")
    for column in ("option", "value", "from"):
        table.add_column(column)
    for key, entry in values.items():
        table.add_row(key, str(entry["value"]), str(entry["source"]))
    return table


def engine_value(key: str, value: Any) -> str:
    """An ``engine status`` value for people: epoch times as local dates."""
    if key.endswith("_at") and isinstance(value, int | float):
        return datetime.fromtimestamp(value).isoformat(timespec="seconds")
    return str(value)
