"""How long does a monitor's ``workflow_elements_status`` take on a huge running workflow?

Daemon mode (the client reads the store itself, through its QueryService cache). A
``--jobs``-job workflow of ``true`` jobs is submitted; while it runs, one client calls
``workflow_elements_status`` every ``--period`` seconds, ``--polls`` times. The first call
reads every job; the next ones read only the jobs changed since (the target: <= 0.5 s
for a million jobs). Each poll is timed at the link (the plain answer) and through the
facade (``WorkflowController``, which also converts every date to a datetime).

    .venv/bin/python bench/bench_monitor_million.py --jobs 1000000
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from swf_adapters.schedulers.local.launcher import shutdown_host
from swf_adapters.schedulers.local.layout import StateLayout
from swf_entry.client import Job, Workflow
from swf_entry.composition import ClientOptions, open_controller
from swf_entry.daemon import stop_engine

TRUE = shutil.which("true") or "/bin/true"
TARGET = 0.5
T = TypeVar("T")


def timed(call: Callable[[], T]) -> tuple[float, T]:
    started = time.perf_counter()
    result = call()
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--polls", type=int, default=10)
    parser.add_argument("--period", type=float, default=1.0)
    parser.add_argument("--slots", type=int, default=2)
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="swf-mm-", dir="/tmp"))
    os.environ["SWF_CPU_NB"] = str(args.slots)
    os.environ["SWF_ENGINE_IDLE_TIMEOUT"] = "0"
    monitor = open_controller(ClientOptions(home=home))
    try:
        workflow = Workflow([Job([TRUE], name=f"t{i}") for i in range(args.jobs)], name="big")
        seconds, workflow_id = timed(lambda: monitor.submit_workflow(workflow))
        print(f"{args.jobs} jobs submitted in {seconds:.1f} s", flush=True)
        link = monitor.link
        link_times: list[float] = []
        facade_times: list[float] = []
        for poll in range(args.polls):
            link_seconds, answer = timed(lambda: link.workflow_elements_status(workflow_id))
            facade_seconds, _ = timed(lambda: monitor.workflow_elements_status(workflow_id))
            jobs = answer.jobs
            done = sum(1 for entry in jobs if entry[1] == "done")
            print(
                f"poll {poll}: link {link_seconds:.3f} s, facade {facade_seconds:.3f} s, "
                f"{len(jobs)} jobs, {done} done",
                flush=True,
            )
            link_times.append(link_seconds)
            facade_times.append(facade_seconds)
            time.sleep(args.period)
        refresh = statistics.median(link_times[1:]) if len(link_times) > 1 else float("nan")
        print(
            f"first call {link_times[0]:.2f} s (link), refresh median {refresh:.3f} s (link), "
            f"{statistics.median(facade_times[1:]):.3f} s (facade); target <= {TARGET} s: "
            f"{'met' if refresh <= TARGET else 'NOT met'} at the link"
        )
        monitor.stop_workflow(workflow_id)
    finally:
        monitor.disconnect()
        stop_engine(home, timeout=120)
        shutdown_host(StateLayout(home / "jobhost"))
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
