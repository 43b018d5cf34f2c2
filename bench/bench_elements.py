"""A monitoring loop on a huge workflow: ``workflow_elements_status`` through the daemon.

soma-workflow users poll ``WorkflowController.workflow_elements_status`` in a loop. A
``--jobs``-job fan-out of ``true`` is submitted through the engine daemon (it starts
running at once), then a fresh controller (a new client, as a monitoring script started
later would be) calls ``workflow_elements_status`` ``--calls`` times, ``--interval``
seconds apart. Printed: the wall and CPU seconds of this process for the first call and
the following ones (median, max), and the load average.

    .venv/bin/python bench/bench_elements.py --jobs 1000000 [--calls 10] [--profile FILE]
"""

from __future__ import annotations

import argparse
import cProfile
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from bench_e2e import fan  # the script's directory is on sys.path

from swf_adapters.schedulers.local.launcher import shutdown_host
from swf_adapters.schedulers.local.layout import StateLayout
from swf_entry.composition import ClientOptions, open_controller
from swf_entry.daemon import stop_engine


def timed_calls(
    home: Path, workflow_id: int, calls: int, interval: float, profile: Path | None
) -> list[tuple[float, float]]:
    """(wall, CPU) seconds of each call, from a new controller."""
    controller = open_controller(ClientOptions(home=home))
    figures = []
    try:
        for number in range(calls):
            profiler = cProfile.Profile() if profile is not None and number == 0 else None
            cpu, started = time.process_time(), time.perf_counter()
            if profiler is not None:
                profiler.enable()
            rows = controller.workflow_elements_status(workflow_id)[0]
            if profiler is not None:
                profiler.disable()
                profiler.dump_stats(str(profile))
            figures.append((time.perf_counter() - started, time.process_time() - cpu))
            assert rows
            time.sleep(interval)
    finally:
        controller.disconnect()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--calls", type=int, default=10)
    parser.add_argument("--interval", type=float, default=0.5)
    parser.add_argument("--profile", type=Path, default=None)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="swf-elements-", dir="/tmp"))
    os.environ["SWF_CPU_NB"] = "2"
    os.environ["SWF_ENGINE_IDLE_TIMEOUT"] = "0"
    submitter = open_controller(ClientOptions(home=home))
    try:
        started = time.perf_counter()
        workflow_id = submitter.submit_workflow(fan(args.jobs - 2))
        print(f"submitted {args.jobs} jobs in {time.perf_counter() - started:.1f} s", flush=True)
        load = os.getloadavg()[0]
        figures = timed_calls(home, workflow_id, args.calls, args.interval, args.profile)
        first, rest = figures[0], figures[1:]
        print(
            f"workflow_elements_status of {args.jobs} jobs, load {load:.1f} -> "
            f"{os.getloadavg()[0]:.1f}: first call {first[0]:.2f} s (CPU {first[1]:.2f} s)"
        )
        if rest:
            walls, cpus = [w for w, _ in rest], [c for _, c in rest]
            print(
                f"  next {len(rest)} calls: median {statistics.median(walls):.3f} s, max"
                f" {max(walls):.3f} s (CPU median {statistics.median(cpus):.3f} s)"
            )
        submitter.stop_workflow(workflow_id)
    finally:
        submitter.disconnect()
        stop_engine(home, timeout=300)
        shutdown_host(StateLayout(home / "jobhost"))
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
