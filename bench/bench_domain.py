"""Domain benchmark: build, validate and run a fan-out/fan-in workflow (1 -> N -> 1).

For each size N, a fresh Python process (so peak RSS is that size's own) builds the
workflow with the model classes, validates it (``validate``: compile to int adjacency
lists, Kahn's order / cycle search, per-job rules), computes a topological order, then
drives a ReadyTracker through it (take_ready / succeeded until finished). It prints one
row per size: seconds per phase, microseconds per job, and peak RSS. The per-job cost at
the smallest size is the baseline: ``scale`` is each size's per-job cost
over that baseline (about 1.0 means linear scaling), for build and validate apart.

    .venv/bin/python bench/bench_domain.py                 # sizes 1e4 1e5 1e6
    .venv/bin/python bench/bench_domain.py --sizes 10000 100000
"""

from __future__ import annotations

import argparse
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


def measure(size: int) -> dict[str, Any]:
    """Run every phase once for ``size`` middle jobs; return the figures."""
    from swf_domain.graph import topological_order
    from swf_domain.model import Job, Workflow
    from swf_domain.ready import ReadyTracker
    from swf_domain.validation import validate

    figures: dict[str, Any] = {"size": size}
    start = time.perf_counter()
    source = Job(["echo", "start"], name="source")
    sink = Job(["echo", "end"], name="sink")
    middle = [Job(["echo", str(number)], name=f"job_{number}") for number in range(size)]
    dependencies = [(source, job) for job in middle]
    dependencies.extend((job, sink) for job in middle)
    workflow = Workflow([source, *middle, sink], dependencies, name="fan")
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

    figures["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return figures


def run_child(size: int) -> dict[str, Any]:
    """``measure(size)`` in a fresh interpreter, so its peak RSS is its own."""
    completed = subprocess.run(
        [sys.executable, __file__, "--child", str(size)],
        check=True,
        capture_output=True,
        text=True,
    )
    figures: dict[str, Any] = json.loads(completed.stdout)
    return figures


def report(rows: list[dict[str, Any]]) -> None:
    """One table row per size; ``scale`` columns compare per-job costs to the smallest size."""
    base_build = rows[0]["build_s"] / rows[0]["size"]
    base_validate = rows[0]["validate_s"] / rows[0]["size"]
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(
        "     jobs | build s | validate s | topo s | tracker s | build us/job (scale) | "
        "validate us/job (scale) | peak RSS MB"
    )
    for row in rows:
        build = row["build_s"] / row["size"]
        check = row["validate_s"] / row["size"]
        print(
            f"{row['size']:>9,} | {row['build_s']:7.2f} | {row['validate_s']:10.2f} | "
            f"{row['topo_s']:6.2f} | {row['tracker_s']:9.2f} | "
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
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(measure(args.child)))
        return
    report([run_child(size) for size in sorted(args.sizes)])


if __name__ == "__main__":
    main()
