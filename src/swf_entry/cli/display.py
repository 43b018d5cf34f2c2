"""Rich rendering for the CLI: tables, the group tree, the live progress panel, summaries.

Kept apart from the commands so that the JSON shapes (``*_json``) and the human views are
built from the same snapshots and cannot drift. The snapshots themselves (``JobView``,
``WorkflowSnapshot``) are the read model shared with the facade and the monitor
(``swf_app.read_models``).
"""

from __future__ import annotations

import shlex
from collections import Counter
from datetime import date, datetime
from typing import Any

from rich.console import Group as RichGroup
from rich.console import RenderableType
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from swf_app.read_models import JobView, WorkflowSnapshot
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


def restarted_jobs(before: WorkflowSnapshot, after: WorkflowSnapshot) -> list[int]:
    """Jobs whose run changed between two snapshots taken around a restart: one that had
    started or ended and now has another (or no) start or end. A job that merely went on
    (started, or ended after starting) meanwhile is not counted."""
    now = {job.job_id: job for job in after.jobs}
    again = []
    for job in before.jobs:
        later = now.get(job.job_id)
        if later is None:
            continue
        if (job.started is not None and later.started != job.started) or (
            job.ended is not None and later.ended != job.ended
        ):
            again.append(job.job_id)
    return again


#: Words the CLI says for soma's statuses where soma's string misleads a person (the API
#: and ``--json`` keep soma's strings).
STATUS_WORDS = {"not_submitted": "queued", "worklflow_not_started": "not started"}


def status_word(status: str) -> str:
    return STATUS_WORDS.get(status, status)


def styled(status: str) -> Text:
    """A status in the CLI's words (``queued`` for soma's ``not_submitted``), coloured."""
    return Text(status_word(status), style=STATUS_STYLE.get(status, ""))


def short_date(epoch: float | None, today: date | None = None) -> str:
    """``16:21:50`` today, ``12-05 16:21`` another day of this year, else the ISO date:
    a table of dates fits 80 columns (``--json`` keeps full ISO dates)."""
    if epoch is None:
        return ""
    moment = datetime.fromtimestamp(epoch)
    today = today or date.today()
    if moment.date() == today:
        return moment.strftime("%H:%M:%S")
    if moment.year == today.year:
        return moment.strftime("%m-%d %H:%M")
    return moment.strftime("%Y-%m-%d")


def workflow_summary(snapshot: WorkflowSnapshot) -> str:
    """What a person wants to know of a workflow in a few words: ``done``, ``done, 3
    failed``, ``stopped: 2 done, 1 killed, 4 not run``, ``running: 3 of 10 done, ...``."""
    counts = Counter(_fate(job) for job in snapshot.jobs)
    parts = [f"{counts[fate]} {fate}" for fate in _FATES if counts[fate]]
    if snapshot.status == "worklflow_not_started":
        return "not started"
    if snapshot.status != "workflow_done":
        done = f"{counts['done']} of {len(snapshot.jobs)} done"
        others = [part for part in parts if not part.endswith(" done")]
        return ", ".join([f"running: {done}", *others])
    if counts["killed"] or (counts["not run"] and not counts["failed"]):
        return "stopped: " + ", ".join(parts)
    if counts["failed"] or counts["not run"]:
        return ", ".join(["done", *(part for part in parts if not part.endswith(" done"))])
    return "done"


#: A job's fate in a summary, in the order summaries list them.
_FATES = ("done", "failed", "killed", "not run", "running", "queued", "waiting")


def _fate(job: JobView) -> str:
    if job.status == "done":
        return "done"
    if job.status == "failed":
        return {"killed_by_user": "killed", "aborted_before_running": "not run"}.get(
            job.exit_status or "", "failed"
        )
    if job.status == "running":
        return "running"
    return "queued" if job.status in ("not_submitted", "queued_active") else "waiting"


def workflows_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(title="workflows", title_justify="left")
    for column in ("id", "name", "status", "jobs", "done", "failed", "started", "ended", "expires"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            str(row["id"]),
            row["name"] or "",
            styled(row["status"] or ""),
            str(row["total"]),
            str(row["counts"].get("done", 0)),
            str(row["counts"].get("failed", 0)),
            _short_iso(row.get("started")),
            _short_iso(row.get("ended")),
            _short_iso(row["expiration"]),
        )
    return table


def _short_iso(text: str | None) -> str:
    return short_date(datetime.fromisoformat(text).timestamp()) if text else ""


def summary_table(snapshot: WorkflowSnapshot) -> RenderableType:
    """The workflow's name, its job counts per status, and a summary line in words (the
    workflow's own status is not a job count: it goes under the table, not in it)."""
    table = Table(show_edge=True)
    table.add_column("job status")
    table.add_column("jobs", justify="right")
    for status, count in sorted(snapshot.counts().items(), key=lambda item: status_word(item[0])):
        table.add_row(styled(status), str(count))
    title = Text(f"workflow {snapshot.workflow_id} {snapshot.name or ''}".rstrip(), style="italic")
    summary = Text(
        f"{workflow_summary(snapshot)}  ({snapshot.status})",
        style=STATUS_STYLE.get(snapshot.status, ""),
    )
    return RichGroup(title, table, summary)


def jobs_table(snapshot: WorkflowSnapshot) -> Table:
    table = Table(title="jobs", title_justify="left")
    on_cluster = any(job.scheduler_job_id for job in snapshot.jobs)
    retried = any(job.attempt > 1 for job in snapshot.jobs)
    table.add_column("id", no_wrap=True)
    table.add_column("name", overflow="fold")
    for column in ("status", "exit", "started", "ended", *(["attempt"] if retried else [])):
        table.add_column(column, no_wrap=True)
    if on_cluster:
        table.add_column("cluster id", no_wrap=True)
    for job in snapshot.jobs:
        cells: list[str | Text] = [
            str(job.job_id),
            job.name,
            styled(job.status),
            exit_text(job),
            short_date(job.started),
            short_date(job.ended),
            *([str(job.attempt)] if retried else []),
        ]
        table.add_row(*cells, *([job.scheduler_job_id or ""] if on_cluster else []))
    return table


def exit_text(job: JobView) -> str:
    """How a job ended, in one short cell: its exit code, ``signal 15``, ``killed``,
    ``not run`` (soma's exit status strings stay in ``--json``)."""
    if job.exit_status == "finished_regularly":
        return "" if job.exit_value is None else str(job.exit_value)
    if job.exit_status == "finished_signal":
        return f"signal {job.term_signal}"
    short = {"killed_by_user": "killed", "aborted_before_running": "not run"}
    return short.get(job.exit_status or "", job.exit_status or "")


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
                counts = Counter(status_word(status_of(job)) for job in element.iter_jobs())
                label = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
                add(node.add(Text(f"{element.name} ({label})", style="bold")), element.elements)
            else:
                line = Text(f"{element.name} ")
                line.append_text(styled(status_of(element)))
                node.add(line)

    add(tree, list(workflow.root_group or []))
    return tree


def tree_json(workflow: Workflow, snapshot: WorkflowSnapshot) -> list[dict[str, Any]]:
    """``status --tree --json``: the root group's elements, each group with its job counts
    (soma's status strings) and its elements, each job as ``{"job": id, "name", "status"}``."""
    by_id = {job.job_id: job.status for job in snapshot.jobs}

    def status_of(job: Job) -> str:
        return by_id.get(job.job_id, "unknown") if job.job_id is not None else "unknown"

    def node(element: Job | Group) -> dict[str, Any]:
        if isinstance(element, Group):
            counts = Counter(status_of(job) for job in element.iter_jobs())
            return {
                "group": element.name,
                "counts": dict(sorted(counts.items())),
                "elements": [node(child) for child in element.elements],
            }
        return {"job": element.job_id, "name": element.name, "status": status_of(element)}

    return [node(element) for element in workflow.root_group or []]


def progress_panel(snapshot: WorkflowSnapshot, elapsed: float) -> RenderableType:
    """The live display of ``swf run``: counts, a bar, elapsed / ETA, running jobs."""
    total = max(len(snapshot.jobs), 1)
    finished = snapshot.finished()
    rate = finished / elapsed if elapsed > 0 else 0.0
    eta = (total - finished) / rate if rate > 0 else None
    counts = "  ".join(
        f"{status_word(status)}: {n}" for status, n in sorted(snapshot.counts().items())
    )
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


def duration(seconds: float) -> str:
    """``3h 02m``, ``4m 05s``, ``2.5s``: a span of time for people."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days}d {hours:02d}h"
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {secs:02d}s"


def local_date(epoch: float) -> str:
    return datetime.fromtimestamp(epoch).strftime("%Y-%m-%d %H:%M:%S")


#: ``engine status`` rows: (label, how to say it from the daemon's answer).
_ENGINE_ROWS: list[tuple[str, Any]] = [
    ("pid", lambda i: str(i["pid"])),
    ("since", lambda i: f"{local_date(i['started_at'])} (up {duration(i['uptime'])})"),
    ("resource", lambda i: str(i["resource"] or "this machine")),
    ("version", lambda i: f"swf {i['version']}, link protocol {_protocol_text(i)}"),
    ("incompatible", lambda i: str(i["incompatible"])),
    ("state dir", lambda i: str(i["state_dir"])),
    ("log", lambda i: str(i["log_file"])),
    ("socket", lambda i: str(i["socket"])),
    ("config file", lambda i: str(i["config_file"] or "(none: defaults)")),
    ("idle exit", lambda i: _idle_text(i["idle_timeout"], i.get("idle_seconds"))),
    ("calls", lambda i: f"{i['calls_total']} served, {i['active_calls']} in progress"),
    ("holds", lambda i: _holds_text(i["engine"])),
]


def _protocol_text(info: dict[str, Any]) -> str:
    protocol = info.get("protocol")
    return str(protocol) if protocol is not None else "none (an swf older than the number)"


def _idle_text(timeout: float | None, idle: float | None) -> str:
    limit = "never" if not timeout else f"after {duration(timeout)} with nothing to do"
    return limit + (f" (idle for {duration(idle)})" if idle is not None else "")


def _holds_text(engine: dict[str, Any]) -> str:
    return (
        f"{engine.get('workflows_loaded', 0)} workflow(s) loaded, "
        f"{engine.get('workflows_unfinished', 0)} unfinished; "
        f"{engine.get('jobs_running', 0)} job(s) running, {engine.get('jobs_ready', 0)} ready"
    )


def engine_table(info: dict[str, Any]) -> Table:
    """``swf engine status`` for people: dates as local dates, durations in words."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    for label, say in _ENGINE_ROWS:
        try:
            table.add_row(label, say(info))
        except (KeyError, TypeError, ValueError, OSError):
            continue  # an older or other engine's answer: show what it has
    return table


JOBLOG_COLUMNS = (
    "Seq",
    "Host",
    "Starttime",
    "JobRuntime",
    "Send",
    "Receive",
    "Exitval",
    "Signal",
    "Command",
)


def joblog(workflow: Workflow, snapshot: WorkflowSnapshot) -> str:
    """GNU Parallel's ``--joblog`` table of every job (``:`` is its name for this host)."""
    by_id = {job.job_id: job for job in snapshot.jobs}
    lines = ["\t".join(JOBLOG_COLUMNS)]
    for seq, job in enumerate(workflow.jobs, start=1):
        view = by_id.get(job.job_id) if job.job_id is not None else None
        lines.append("\t".join([str(seq), ":", *_joblog_run(view), _command_line(job)]))
    return "\n".join(lines) + "\n"


def _joblog_run(view: JobView | None) -> list[str]:
    """Starttime, JobRuntime, Send, Receive, Exitval, Signal of one job."""
    started = view.started if view is not None else None
    ended = view.ended if view is not None and view.status in ("done", "failed") else None
    start = started or ended
    epoch = f"{start:.3f}" if start is not None else "0.000"
    if view is None or ended is None or start is None:
        return [epoch, "0.000", "0", "0", "-1", "0"]
    runtime = f"{ended - start:.3f}"
    value = str(view.exit_value if view.exit_value is not None else -1)
    return [epoch, runtime, "0", "0", value, str(view.term_signal or 0)]


def _command_line(job: Job) -> str:
    """The command as a shell would read it back (tabs and newlines escaped by quoting)."""
    return shlex.join(str(item) for item in job.command).replace("\t", "\\t").replace("\n", "\\n")
