"""Domain benchmark: build, validate and run a fan-out/fan-in workflow (1 -> N -> 1).

For each size N, a fresh Python process (so peak RSS is that size's own) builds the
workflow with the model classes, validates it (``validate``: compile to int adjacency
lists, Kahn's order / cycle search, per-job rules), computes a topological order, then
drives a ReadyTracker through it (take_ready / succeeded until finished), and
resumes a tracker from stored states (half the jobs DONE, half RUNNING). It prints one
row per size: seconds per phase, microseconds per job, and peak RSS. The per-job cost at
the smallest size is the baseline: ``scale`` is each size's per-job cost
over that baseline (about 1.0 means linear scaling), for build and validate apart.
Everything runs twice: with Python's default garbage collection while building, and
with the collector paused during the build then ``gc.freeze()`` (see ``measure``).

    .venv/bin/python bench/bench_domain.py                 # sizes 1e4 1e5 1e6
    .venv/bin/python bench/bench_domain.py --sizes 10000 100000
    .venv/bin/python bench/bench_domain.py --repeat 3       # best of 3 on a busy machine
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import subprocess
import sys
import time
from typing import Any

TARGET_SECONDS = 10.0  # build + validate of the 1e6-job workflow
TARGET_RSS_MB = 1536.0


def measure(size: int, freeze: bool) -> dict[str, Any]:
    """Run every phase once for ``size`` middle jobs; return the figures.

    With ``freeze``, the build runs with the garbage collector off and ends with
    ``gc.freeze()`` (what a script building a huge workflow can do): the collector then
    no longer walks the workflow's millions of objects again and again.
    """
    from swf_domain.graph import topological_order
    from swf_domain.model import Job, Workflow
    from swf_domain.ready import NodeState, ReadyTracker
    from swf_domain.validation import validate

    figures: dict[str, Any] = {"size": size, "freeze": freeze}
    start = time.perf_counter()
    if freeze:
        gc.disable()
    source = Job(["echo", "start"], name="source")
    sink = Job(["echo", "end"], name="sink")
    middle = [Job(["echo", str(number)], name=f"job_{number}") for number in range(size)]
    dependencies = [(source, job) for job in middle]
    dependencies.extend((job, sink) for job in middle)
    workflow = Workflow([source, *middle, sink], dependencies, name="fan")
    if freeze:
        gc.freeze()
        gc.enable()
    figures["build_s"] = time.perf_counter() - start

    start = time.perf_counter()
    compiled = validate(workflow)
    figures["validate_s"] = time.perf_counter() - start

    start = time.perf_counter()
    order = topological_order(compiled)
    figures["topo_s"] = time.perf_counter() - start
    assert order[0] == 0 and order[-1] == size + 1

    start = time.perf_counter()
    tracker = ReadyTracker(compiled.parents, compiled.children)
    runs = 0
    ready = tracker.take_ready()
    while ready:
        for job in ready:
            tracker.succeeded(job)
        runs += len(ready)
        ready = tracker.take_ready()
    figures["tracker_s"] = time.perf_counter() - start
    assert tracker.is_finished() and runs == size + 2

    # resuming mid-run from stored states: the source and half the middle jobs DONE
    half = [NodeState.DONE] * (size // 2 + 1) + [NodeState.RUNNING] * (size - size // 2)
    start = time.perf_counter()
    resumed = ReadyTracker(compiled.parents, compiled.children, [*half, NodeState.PENDING])
    figures["resume_s"] = time.perf_counter() - start
    assert resumed.counts()[NodeState.RUNNING] == size - size // 2

    figures["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return figures


def run_child(size: int, freeze: bool) -> dict[str, Any]:
    """``measure(size, freeze)`` in a fresh interpreter, so its peak RSS is its own."""
    completed = subprocess.run(
        [sys.executable, __file__, "--child", str(size), *(["--freeze"] if freeze else [])],
        check=True,
        capture_output=True,
        text=True,
    )
    figures: dict[str, Any] = json.loads(completed.stdout)
    return figures


def best_of(repeat: int, size: int, freeze: bool) -> dict[str, Any]:
    """Each phase's shortest time over ``repeat`` fresh runs (other load only adds time)."""
    runs = [run_child(size, freeze) for _ in range(max(1, repeat))]
    best = dict(runs[0])
    for key in list(best):
        if key.endswith("_s") or key == "peak_rss_mb":
            best[key] = min(run[key] for run in runs)
    return best


def report(rows: list[dict[str, Any]]) -> None:
    """One table row per size; ``scale`` columns compare per-job costs to the smallest size."""
    base_build = rows[0]["build_s"] / rows[0]["size"]
    base_validate = rows[0]["validate_s"] / rows[0]["size"]
    print(
        "build with the garbage collector "
        + ("paused, then gc.freeze()" if rows[0]["freeze"] else "as Python sets it (default)")
    )
    print(
        "     jobs | build s | validate s | topo s | tracker s | resume s | build us/job (scale) | "
        "validate us/job (scale) | peak RSS MB"
    )
    for row in rows:
        build = row["build_s"] / row["size"]
        check = row["validate_s"] / row["size"]
        print(
            f"{row['size']:>9,} | {row['build_s']:7.2f} | {row['validate_s']:10.2f} | "
            f"{row['topo_s']:6.2f} | {row['tracker_s']:9.2f} | {row['resume_s']:8.2f} | "
            f"{build * 1e6:12.2f} ({build / base_build:4.2f}) | "
            f"{check * 1e6:15.2f} ({check / base_validate:4.2f}) | {row['peak_rss_mb']:11.0f}"
        )
    largest = rows[-1]
    total = largest["build_s"] + largest["validate_s"]
    print(
        f"largest ({largest['size']:,} jobs): build + validate {total:.2f} s "
        f"(target < {TARGET_SECONDS:.0f} s), peak RSS {largest['peak_rss_mb']:.0f} MB "
        f"(target < {TARGET_RSS_MB:.0f} MB)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs per size; each phase's best time is kept"
    )
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--freeze", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(measure(args.child, args.freeze)))
        return
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.processor() or '?'}, "
        f"Python {platform.python_version()}"
    )
    for freeze in (False, True):
        report([best_of(args.repeat, size, freeze) for size in sorted(args.sizes)])
        print()


if __name__ == "__main__":
    main()
