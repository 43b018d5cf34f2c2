"""``swf report``: one self-contained HTML file describing a workflow's run.

Everything is read through the link once (document, every job's state, the failed
jobs' stderr tails), aggregated here, and written with its data, style and drawing
code inline: the file opens anywhere, without network. Per-job views become aggregates
past a few thousand jobs (a Gantt bar per job would be unreadable): the timeline shows
how busy each slot was over time, and CPU / memory become histograms plus top lists.
"""

from __future__ import annotations

import heapq
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from swf_app.link import EngineLink

from .details import parse_usage
from .graph_view import depths
from .model import WorkflowModel, duration
from .shape import shape_from_workflow
from .source import JobFacts, MonitorSource
from .timeline import series

#: Jobs drawn one bar each in the timeline; beyond, slots' occupancy over time.
GANTT_LIMIT = 3000
#: Time columns of the aggregated timeline.
OCCUPANCY_BINS = 300
#: Jobs plotted one by one in CPU / memory; beyond, histograms.
PER_JOB_LIMIT = 2000
TOP = 20
FAILED_SHOWN = 30
TAIL_BYTES = 2000
HISTOGRAM_BINS = 30


def build_model(source: MonitorSource, workflow_id: int) -> WorkflowModel:
    workflow = source.workflow(workflow_id)
    model = WorkflowModel(workflow_id, shape_from_workflow(workflow), lambda: workflow)
    batch = source.changes(workflow_id, None)
    model.apply(batch.facts, batch.workflow_status)
    return model


def report_data(source: MonitorSource, model: WorkflowModel, now: float) -> dict[str, Any]:
    """Everything the report shows, as JSON-ready data."""
    usage = [_usage(fact) for fact in model.facts]
    slots = model.slots
    return {
        "summary": _summary(model, usage, now),
        "timeline": _timeline(model, now),
        "series": series(model.facts, slots, now),
        "resources": _resources(model, usage),
        "slowest": _slowest(model, usage),
        "failed": _failed(source, model),
        "dag": _dag(model),
        "generated": now,
    }


def write_report(link: EngineLink, workflow_id: int, output: Path) -> None:
    source = MonitorSource(link)
    model = build_model(source, workflow_id)
    data = report_data(source, model, time.time())
    output.write_text(render(data), encoding="utf-8")


def render(data: dict[str, Any]) -> str:
    pages = Environment(
        loader=PackageLoader("swf_entry.monitor", "templates"),
        autoescape=select_autoescape(default=True),
    )
    script = (Path(__file__).parent / "templates" / "report.js").read_text(encoding="utf-8")
    drawn = {key: data[key] for key in ("timeline", "series", "resources")}
    drawn["dag"] = {"levels": data["dag"]["levels"]}  # the rest is written as HTML
    return pages.get_template("report.html").render(
        data=data,
        data_json=_script_safe(drawn),
        script=script,
        fmt_duration=fmt_duration,
        fmt_date=fmt_date,
    )


def _script_safe(data: dict[str, Any]) -> str:
    """JSON to put inside a <script> element: nothing in it can close the element."""
    text = json.dumps(data, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


# -- sections -----------------------------------------------------------------------------


def _usage(fact: JobFacts | None) -> tuple[float | None, float | None]:
    """(CPU seconds, peak memory in MB) of a job, when its scheduler reported them."""
    values = parse_usage(fact.resource_usage if fact else None)
    return _seconds(values.get("cput")), _megabytes(values.get("mem"))


def _seconds(value: str | None) -> float | None:
    if not value:
        return None
    try:
        if ":" in value:  # hh:mm:ss (PBS, SLURM)
            total = 0.0
            for part in value.split(":"):
                total = total * 60 + float(part)
            return total
        return float(value.rstrip("s"))
    except ValueError:
        return None


def _megabytes(value: str | None) -> float | None:
    if not value:
        return None
    units = {"kb": 1 / 1024, "mb": 1.0, "gb": 1024.0, "b": 1 / 1048576}
    lowered = value.lower()
    for unit, factor in units.items():
        if lowered.endswith(unit):
            try:
                return round(float(lowered[: -len(unit)]) * factor, 3)
            except ValueError:
                return None
    try:
        return round(float(lowered) / 1024, 3)  # soma's schedulers report kB by default
    except ValueError:
        return None


def _summary(
    model: WorkflowModel, usage: list[tuple[float | None, float | None]], now: float
) -> dict[str, Any]:
    facts = [fact for fact in model.facts if fact is not None]
    submitted = [f.submitted for f in facts if f.submitted is not None]
    started = [f.started for f in facts if f.started is not None]
    ended = [f.ended for f in facts if f.ended is not None]
    first = min(submitted + started, default=None)
    last = max(ended, default=None)
    cpu = [c for c, _m in usage if c is not None]
    memory = [m for _c, m in usage if m is not None]
    running = sum(duration(fact) or 0.0 for fact in facts)
    return {
        "id": model.workflow_id,
        "name": model.name,
        "status": model.status,
        "total": len(model.ids),
        "counts": dict(Counter(model.status_of(i) for i in range(len(model.ids)))),
        "first": first,
        "first_start": min(started, default=None),
        "last_end": last,
        "wall": (last - first) if first is not None and last is not None else None,
        "job_time": running,
        "cpu_time": sum(cpu) if cpu else None,
        "peak_memory": max(memory) if memory else None,
        "groups": len(model.groups) - 1,
        "generated": now,
    }


def _lanes(model: WorkflowModel, now: float) -> list[tuple[int, int, float, float]]:
    """(job index, lane, start, end) of every started job: lanes are slots, each job on
    the lowest free one (interval partitioning by start date)."""
    started = sorted(
        (fact.started, i)
        for i, fact in enumerate(model.facts)
        if fact is not None and fact.started is not None
    )
    free: list[int] = []
    busy: list[tuple[float, int]] = []  # (end, lane)
    placed = []
    for start, index in started:
        fact = model.facts[index]
        assert fact is not None
        end = fact.ended if fact.ended is not None else now
        while busy and busy[0][0] <= start:
            heapq.heappush(free, heapq.heappop(busy)[1])
        lane = heapq.heappop(free) if free else len(busy)
        heapq.heappush(busy, (end, lane))
        placed.append((index, lane, start, end))
    return placed


def _timeline(model: WorkflowModel, now: float) -> dict[str, Any]:
    placed = _lanes(model, now)
    lanes = 1 + max((lane for _i, lane, _s, _e in placed), default=-1)
    if not placed:
        return {"mode": "empty", "lanes": 0}
    start = min(s for _i, _l, s, _e in placed)
    end = max(e for _i, _l, _s, e in placed)
    if len(placed) <= GANTT_LIMIT:
        bars = [
            [lane, round(s - start, 3), round(e - start, 3), model.status_of(i), model.names[i]]
            for i, lane, s, e in placed
        ]
        return {"mode": "bars", "lanes": lanes, "start": start, "span": end - start, "bars": bars}
    step = max(end - start, 1e-3) / OCCUPANCY_BINS
    busy = [[0.0] * OCCUPANCY_BINS for _ in range(lanes)]
    failed = [[0.0] * OCCUPANCY_BINS for _ in range(lanes)]
    for i, lane, s, e in placed:
        target = failed if model.status_of(i) == "failed" else busy
        _spread(target[lane], (s - start) / step, (e - start) / step)
    return {
        "mode": "occupancy",
        "lanes": lanes,
        "start": start,
        "span": end - start,
        "bins": OCCUPANCY_BINS,
        "busy": _rounded(busy),
        "failed": _rounded(failed),
    }


def _spread(row: list[float], first: float, last: float) -> None:
    """Add the fraction of each bin that [first, last) covers."""
    column = int(first)
    while column < len(row) and column < last:
        low, high = max(first, column), min(last, column + 1)
        row[column] += max(0.0, high - low)
        column += 1


def _rounded(rows: list[list[float]]) -> list[list[float]]:
    return [[round(min(1.0, value), 2) for value in row] for row in rows]


def _resources(
    model: WorkflowModel, usage: list[tuple[float | None, float | None]]
) -> dict[str, Any]:
    known = [(i, c, m) for i, (c, m) in enumerate(usage) if c is not None or m is not None]
    if len(known) <= PER_JOB_LIMIT:
        jobs = [[model.names[i], c, m, model.status_of(i)] for i, c, m in known]
        return {"mode": "jobs", "jobs": jobs}
    cpu = [c for _i, c, _m in known if c is not None]
    memory = [m for _i, _c, m in known if m is not None]
    return {
        "mode": "histograms",
        "jobs": len(known),
        "cpu": _histogram(cpu),
        "memory": _histogram(memory),
        "top_cpu": _top(model, known, 1),
        "top_memory": _top(model, known, 2),
    }


def _histogram(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"low": 0, "high": 0, "counts": []}
    low, high = min(values), max(values)
    width = (high - low) / HISTOGRAM_BINS or 1.0
    counts = [0] * HISTOGRAM_BINS
    for value in values:
        counts[min(HISTOGRAM_BINS - 1, int((value - low) / width))] += 1
    return {"low": low, "high": high, "counts": counts}


def _top(model: WorkflowModel, known: list[tuple[int, Any, Any]], column: int) -> list[Any]:
    ranked = heapq.nlargest(
        TOP, (k for k in known if k[column] is not None), key=lambda k: k[column]
    )
    return [[model.ids[k[0]], model.names[k[0]], k[column]] for k in ranked]


def _slowest(model: WorkflowModel, usage: list[tuple[float | None, float | None]]) -> list[Any]:
    timed = ((duration(fact), i) for i, fact in enumerate(model.facts))
    ranked = heapq.nlargest(TOP, ((d, i) for d, i in timed if d is not None))
    return [
        {
            "id": model.ids[i],
            "name": model.names[i],
            "status": model.status_of(i),
            "duration": d,
            "cpu": usage[i][0],
            "memory": usage[i][1],
        }
        for d, i in ranked
    ]


def _failed(source: MonitorSource, model: WorkflowModel) -> dict[str, Any]:
    failed = [i for i in range(len(model.ids)) if model.status_of(i) == "failed"]
    ran = [i for i in failed if (f := model.facts[i]) and f.exit_status != "aborted_before_running"]
    shown = []
    for i in ran[:FAILED_SHOWN]:
        fact = model.facts[i]
        assert fact is not None
        job_id = model.ids[i] or 0
        shown.append(
            {
                "id": job_id,
                "name": model.names[i],
                "exit_status": fact.exit_status,
                "exit_value": fact.exit_value,
                "signal": fact.term_signal,
                "stderr": source.output_tail(job_id, "stderr", TAIL_BYTES),
            }
        )
    return {"total": len(failed), "ran": len(ran), "not_run": len(failed) - len(ran), "jobs": shown}


def _dag(model: WorkflowModel) -> dict[str, Any]:
    depth = depths(model.parents, model.children)
    widths = Counter(depth)
    edges = sum(len(kids) for kids in model.children)
    critical = _critical_path(model)
    return {
        "jobs": len(model.ids),
        "dependencies": edges,
        "depth": len(widths),
        "widest": max(widths.values(), default=0),
        "roots": sum(1 for p in model.parents if not p),
        "leaves": sum(1 for c in model.children if not c),
        "groups": len(model.groups) - 1,
        "levels": [widths[d] for d in sorted(widths)][:200],
        "critical_path": critical,
    }


def _critical_path(model: WorkflowModel) -> dict[str, Any]:
    """The chain of dependent jobs whose run times add up the most (what bounds the
    workflow's duration however many slots it gets)."""
    order = sorted(range(len(model.ids)), key=depths(model.parents, model.children).__getitem__)
    best = [0.0] * len(order)
    previous = [-1] * len(order)
    for node in order:
        own = duration(model.facts[node]) or 0.0
        parent = max(model.parents[node], key=best.__getitem__, default=-1)
        best[node] = own + (best[parent] if parent >= 0 else 0.0)
        previous[node] = parent
    if not order:
        return {"seconds": 0.0, "jobs": []}
    node = max(range(len(best)), key=best.__getitem__)
    chain = []
    while node >= 0:
        chain.append(node)
        node = previous[node]
    chain.reverse()
    return {
        "seconds": round(best[chain[-1]], 3),
        "length": len(chain),
        "jobs": [model.names[i] for i in chain[:50]],
    }


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, rest = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest} s"
    return f"{minutes // 60} h {minutes % 60} min"


def fmt_date(epoch: float | None) -> str:
    if epoch is None:
        return ""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch))
