"""How long does submitting a huge workflow take, and what does the engine keep for it?

A ``--jobs``-job fan-out of ``true`` (one root, the others below it, one join) is submitted
embedded (engine in this process) or through the engine daemon (``--daemon``, as users
run it). Reported: wall time of ``submit_workflow``, the CPU seconds of this process and
(daemon mode) of the engine daemon for that call, and the daemon's resident memory after
the submission and at its peak (VmHWM). CPU seconds are the figures to compare across
runs on a loaded machine; wall time is what the user waits.

    .venv/bin/python bench/bench_submit.py --jobs 1000000 [--daemon]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

import psutil
from bench_e2e import fan  # the script's directory is on sys.path

from swf_adapters.schedulers.local.launcher import shutdown_host
from swf_adapters.schedulers.local.layout import StateLayout
from swf_entry.composition import ClientOptions, open_controller
from swf_entry.daemon import stop_engine


def peak_mb(pid: int) -> float:
    """The process's peak resident memory (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--daemon", action="store_true")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="swf-submit-", dir="/tmp"))
    os.environ["SWF_CPU_NB"] = "2"
    os.environ["SWF_ENGINE_IDLE_TIMEOUT"] = "0"
    workflow = fan(args.jobs - 2)
    controller = open_controller(ClientOptions(home=home), embedded=not args.daemon)
    try:
        engine = psutil.Process(controller.link.commands.ping()) if args.daemon else None
        engine_cpu = sum(engine.cpu_times()[:2]) if engine else 0.0
        cpu, started = time.process_time(), time.perf_counter()
        workflow_id = controller.submit_workflow(workflow)
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        mode = "daemon" if args.daemon else "embedded"
        line = f"{mode} submit of {args.jobs} jobs: wall {wall:.1f} s, client CPU {cpu:.1f} s"
        if engine is not None:
            engine_cpu = sum(engine.cpu_times()[:2]) - engine_cpu
            rss = engine.memory_info().rss / 2**20
            line += f", engine CPU {engine_cpu:.1f} s, engine RSS {rss:.0f} MB"
            line += f" (peak {peak_mb(engine.pid):.0f} MB)"
        else:
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            line += f", process peak RSS {peak:.0f} MB"
        print(f"{line}; load {os.getloadavg()[0]:.1f}", flush=True)
        controller.stop_workflow(workflow_id)
    finally:
        controller.disconnect()
        if args.daemon:
            stop_engine(home, timeout=300)
        shutdown_host(StateLayout(home / "jobhost"))
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
