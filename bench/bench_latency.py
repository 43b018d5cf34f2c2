"""What a user waits for a small workflow: submit -> ``wait_workflow`` returns.

A ``--jobs``-job workflow of independent ``true`` jobs is submitted and waited for,
``--rounds`` times, through the engine daemon on local cores (as users run it; the engine
is started and warmed up before the first timed round) or embedded (``--embedded``, the
engine in this process, as ``bench_e2e.py`` measures it). Each round is a fresh
``WorkflowController.submit_workflow`` then ``wait_workflow``, as a script does.

Printed: the median and spread (10th / 90th percentile, min, max) of the submit call and of
submit -> wait returning, and the CPU per round of this process and of the engine daemon
(CPU is less sensitive to a loaded machine than wall time). Only APIs both the current tree
and the pre-reshape tree (7e549de) have are used, so that the two compare in the same run:

    PYTHONPATH=TREE/src .venv/bin/python bench/bench_latency.py [--rounds 40] [--jobs 100]

``--trace FILE`` also writes, per round, when each step happened in each process (client,
engine daemon, job host): see ``latency_trace.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import psutil

from swf_adapters.schedulers.local.launcher import shutdown_host
from swf_adapters.schedulers.local.layout import StateLayout
from swf_entry.client import Job, Workflow
from swf_entry.composition import ClientOptions, open_controller
from swf_entry.daemon import stop_engine

TRUE = shutil.which("true") or "/bin/true"
WARM_UP_ROUNDS = 3


def independent(n: int, round_number: int) -> Workflow:
    jobs = [Job([TRUE], name=f"t{i}") for i in range(n)]
    return Workflow(jobs, name=f"latency-{round_number}")


def spread(values: Sequence[float]) -> str:
    """Median and spread of ``values`` (seconds), in milliseconds."""
    ms = sorted(v * 1000 for v in values)
    deciles = statistics.quantiles(ms, n=10) if len(ms) > 1 else [ms[0]] * 9
    return (
        f"median {statistics.median(ms):.0f} ms (p10 {deciles[0]:.0f}, p90 {deciles[-1]:.0f},"
        f" min {ms[0]:.0f}, max {ms[-1]:.0f})"
    )


def mean_ms(values: Sequence[float]) -> str:
    return f"{1000 * statistics.fmean(values):.1f}" if values else "-"


def _cpu(process: psutil.Process | None) -> float:
    return sum(process.cpu_times()[:2]) if process is not None else 0.0


def file_creation(directory: Path, files: int = 50) -> float:
    """Median seconds to create an empty file in ``directory`` (where the jobs' output
    files go): the job host creates two per job, and on this VM's ext4 a creation costs
    from 20 us to over 1 ms depending on what else churns files on the disk."""
    probe = Path(tempfile.mkdtemp(prefix="probe-", dir=directory))
    times = []
    for number in range(files):
        started = time.perf_counter()
        os.close(os.open(probe / f"f{number}", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
        times.append(time.perf_counter() - started)
    shutil.rmtree(probe)
    return statistics.median(times)


def _host_process(home: Path) -> psutil.Process | None:
    try:
        record = json.loads(StateLayout(home / "jobhost").pid_file.read_text())
        return psutil.Process(record["pid"])
    except (OSError, ValueError, KeyError, psutil.Error):
        return None


def run(jobs: int, rounds: int, embedded: bool) -> dict[str, list[float]]:
    home = Path(tempfile.mkdtemp(prefix="swf-latency-", dir="/tmp"))
    os.environ["SWF_CPU_NB"] = "2"
    os.environ["SWF_ENGINE_IDLE_TIMEOUT"] = "0"
    controller = open_controller(ClientOptions(home=home), embedded=embedded)
    names = ("submit", "total", "client_cpu", "engine_cpu", "host_cpu", "create")
    figures: dict[str, list[float]] = {name: [] for name in names}
    try:
        engine = None if embedded else psutil.Process(controller.link.commands.ping())
        host = None
        for round_number in range(-WARM_UP_ROUNDS, rounds):
            workflow = independent(jobs, round_number)  # built before the clock starts
            create = file_creation(home)
            engine_cpu, host_cpu, cpu = _cpu(engine), _cpu(host), time.process_time()
            started = time.perf_counter()
            _mark("round", round_number)
            workflow_id = controller.submit_workflow(workflow)
            submitted = time.perf_counter()
            controller.wait_workflow(workflow_id)
            ended = time.perf_counter()
            _mark("waited", round_number)
            if round_number < 0:
                host = host or _host_process(home)
                continue
            figures["submit"].append(submitted - started)
            figures["total"].append(ended - started)
            figures["client_cpu"].append(time.process_time() - cpu)
            figures["engine_cpu"].append(_cpu(engine) - engine_cpu)
            figures["host_cpu"].append(_cpu(host) - host_cpu)
            figures["create"].append(create)
            assert controller.workflow_status(workflow_id) == "workflow_done"
    finally:
        controller.disconnect()
        if not embedded:
            stop_engine(home, timeout=60)
        shutdown_host(StateLayout(home / "jobhost"))
        shutil.rmtree(home, ignore_errors=True)
    return figures


def _mark(what: str, round_number: int) -> None:
    """A point in the trace, when ``latency_trace`` is loaded (``--trace``)."""
    trace = sys.modules.get("latency_trace")
    if trace is not None:
        trace.mark(what, round_number)  # type: ignore[attr-defined]


def _trace_every_process(path: Path) -> None:
    """Load ``latency_trace`` here and, through a ``sitecustomize`` on PYTHONPATH, in the
    engine daemon and job host this client starts."""
    path.unlink(missing_ok=True)
    os.environ["SWF_LATENCY_TRACE"] = str(path.resolve())
    site = Path(tempfile.mkdtemp(prefix="swf-latency-site-"))
    (site / "sitecustomize.py").write_text("import latency_trace\nlatency_trace.install()\n")
    bench = str(Path(__file__).resolve().parent)
    os.environ["PYTHONPATH"] = os.pathsep.join([str(site), bench, os.environ.get("PYTHONPATH", "")])
    import latency_trace

    latency_trace.install()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--embedded", action="store_true")
    parser.add_argument("--trace", type=Path, default=None)
    args = parser.parse_args()
    if args.trace is not None:
        _trace_every_process(args.trace)

    load = os.getloadavg()[0]
    figures = run(args.jobs, args.rounds, args.embedded)
    mode = "embedded" if args.embedded else "daemon"
    print(
        f"{mode}, {args.jobs} true jobs, {args.rounds} rounds, load {load:.1f} -> "
        f"{os.getloadavg()[0]:.1f}"
    )
    print(f"  submit -> wait returns: {spread(figures['total'])} (target <= 150 ms)")
    print(f"  submit call:            {spread(figures['submit'])}")
    # CPU times tick in 10 ms steps: their mean over the rounds is the figure to read.
    print(
        f"  CPU per round, mean: client {mean_ms(figures['client_cpu'])} ms, engine daemon"
        f" {mean_ms(figures['engine_cpu'])} ms, job host {mean_ms(figures['host_cpu'])} ms"
    )
    create_us = sorted(value * 1e6 for value in figures["create"])
    print(
        f"  one file creation where the outputs go (before each round): median"
        f" {statistics.median(create_us):.0f} us (min {create_us[0]:.0f}, max {create_us[-1]:.0f})"
    )
    if args.trace is not None:
        import latency_trace

        print(latency_trace.summarize(args.trace), flush=True)


if __name__ == "__main__":
    main()
