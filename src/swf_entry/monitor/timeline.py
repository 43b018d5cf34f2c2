"""Jobs over time: running / done / failed counts and CPU slots in use, sampled.

Shared by the monitor's plots and the report. One sweep over the jobs' start and end
dates (sorted once), sampled at ``points`` instants: a 100,000-job workflow becomes a few
hundred numbers per series.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from swf_domain.model import Job

if TYPE_CHECKING:  # source reads shapes, which use slots_of: no import cycle at run time
    from .source import JobFacts

DEFAULT_POINTS = 200


def job_slots(job: Job) -> int:
    """CPU slots a job reserves (its parallel_job_info: nodes x cpus per node; 1 else)."""
    return slots_of(job.parallel_job_info)


def slots_of(parallel_job_info: Any) -> int:
    """CPU slots of a ``parallel_job_info`` (a Job's or a stored document's dict)."""
    info = parallel_job_info if isinstance(parallel_job_info, dict) else {}
    try:
        nodes = int(info.get("nodes_number", 1) or 1)
        cpus = int(info.get("cpu_per_node", 1) or 1)
    except (TypeError, ValueError):
        return 1
    return max(1, nodes * cpus)


def series(
    facts: Sequence[JobFacts | None],
    slots: Sequence[int],
    now: float,
    points: int = DEFAULT_POINTS,
) -> dict[str, Any]:
    """``{"t": [...], "running": [...], "done": [...], "failed": [...], "slots": [...]}``;
    empty lists before any job started."""
    events: list[tuple[float, int, int, int, int]] = []  # time, running, slots, done, failed
    for fact, slot_count in zip(facts, slots, strict=False):
        if fact is None or fact.started is None:
            continue
        events.append((fact.started, 1, slot_count, 0, 0))
        if fact.ended is not None:
            done = 1 if fact.status == "done" else 0
            events.append((fact.ended, -1, -slot_count, done, 1 - done))
    empty: dict[str, Any] = {"t": [], "running": [], "done": [], "failed": [], "slots": []}
    if not events:
        return empty
    events.sort(key=lambda event: event[0])
    start = events[0][0]
    end = max(events[-1][0], now if any(f and f.ended is None for f in facts) else 0.0)
    step = max(end - start, 1e-3) / max(1, points - 1)
    out = empty
    running = used = done = failed = 0
    position = 0
    for sample in range(points):
        instant = start + sample * step
        while position < len(events) and events[position][0] <= instant:
            _t, d_running, d_slots, d_done, d_failed = events[position]
            running, used = running + d_running, used + d_slots
            done, failed = done + d_done, failed + d_failed
            position += 1
        out["t"].append(round(instant, 3))
        out["running"].append(running)
        out["slots"].append(used)
        out["done"].append(done)
        out["failed"].append(failed)
    return out
