"""Do monitoring readers slow the engine down? Throughput with and without them, same run.

Daemon mode (the engine is a detached process reached over Pyro5, as in real use), one
state directory, ``--slots`` job slots. Before anything is timed, a ``--big``-job workflow
is submitted and stopped at once: its jobs end ``aborted_before_running``, so it holds no
slot, yet every read of it is as big as a read of a running workflow of that size (the
engine serves ``workflow_elements_status`` from the store whatever the statuses). That is
what the readers poll; a second workflow rather than the measured one, so that every read
has the same size during the whole run.

Each round runs ``--jobs`` independent ``true`` jobs alone, then once per reader mode with
``--readers`` reader processes polling the big workflow every ``--period`` seconds (the
next call right away when a call takes longer). Reader modes (``--modes``):

- ``facade``: ``WorkflowController.workflow_elements_status`` in daemon mode: the client
  reads the store with its QueryService cache (``job_changes``), then the facade converts
  every date to a datetime;
- ``link``: the same read without the facade's conversion (the link's plain answer);
- ``engine``: the query sent to the engine daemon over Pyro5 (every query before issue 4);
- ``sqlite``: the store read in the reader's process (``job_summaries``: every job);
- ``sqlite-delta``: the store read in the reader's process, only what changed since the
  last read (``job_changes``), merged into the reader's own copy.

Throughput is jobs / (submit -> wait_workflow end); a run still going after ``--limit``
seconds is cut short and counts the jobs done by then. Rounds repeat so that a drift of
the machine's load hits every side; the drop is computed on the medians.

    .venv/bin/python bench/bench_readers.py --modes facade,link,sqlite-delta
    .venv/bin/python bench/bench_readers.py --jobs 3000 --big 20000 --rounds 1
    .venv/bin/python bench/bench_readers.py --py-spy /tmp/engine.txt  # collapsed stacks of
        # the engine during the first facade (or engine) round (``.venv/bin/pip install py-spy``)

Target: with 8 readers, throughput drops by less than 20 %.

Measured (2 cores shared with other work, load average 11-15, so absolute rates are low
and noisy; 20000 jobs, 100000-job big workflow, 8 readers, 100 ms, 2 rounds):

====================  ========  =====  ====================================
readers               jobs/s    ratio  one read (median)
====================  ========  =====  ====================================
none                  282       1.00
engine (over Pyro5)   7         0.03   20-23 s (a run cut short at 240 s)
sqlite (every job)    180       0.64   3.2-4.1 s
sqlite-delta          261       0.93   1 ms
====================  ========  =====  ====================================

Where the time goes (py-spy of the engine during the engine round): 84 % of the engine
process's samples are Pyro worker threads serving the reads: ``bulk.read_jobs`` (43 %),
``wire_data.pack`` tagging tuples in Python (30 %), ``json.dumps`` (5 %); the engine thread
itself is mostly waiting: it is starved of the GIL (and of CPU: each reader process
spends about a second decoding and converting each answer), not busy. Even in the
readers' own processes, full reads of 100000 jobs every 100 ms by 8 processes take the 2
cores from the engine (-36 %); reading only the changes costs nothing measurable.

After issue 4 (client-side queries; lightly loaded machine, so the engine alone is 4x
faster than above and any CPU taken by readers shows more; 10000 jobs, 100000-job big
workflow, 8 readers, 100 ms, 2 rounds, same run for each pair of lines):

====================  ========  =====  ====================================
readers               jobs/s    ratio  one read (median)
====================  ========  =====  ====================================
none                  1038      1.00
link                  640       0.62   2 ms
facade                336       0.32   0.6 s (datetime conversion of 100k)
none                  1210      1.00
link                  607       0.50   2-3 ms
sqlite-delta          556       0.46   1 ms
====================  ========  =====  ====================================

The engine serves no query any more (66 calls in a whole run); ``link`` costs what the
raw change feed costs: 80 reads/s of SQLite by 8 processes on 2 cores. ``facade`` is held
back by the WorkflowController's per-call conversion of every entry (0.17 s per 100000).

One read of 100000 jobs, piece by piece (one process, same loaded machine): engine side
``store.jobs_of`` 0.80 s + ``wire_data.pack`` 1.98 s (11 MB of JSON); client side
``wire_data.unpack`` 0.38 s + the facade's conversion (datetimes) 0.8 s. Direct reads:
``store.job_summaries`` 0.38 s, ``store.job_changes(since)`` with nothing changed 5 ms,
``store.job_statuses`` 47 ms, ``store.status_counts`` 16 ms.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from swf_adapters.schedulers.local.launcher import shutdown_host
from swf_adapters.schedulers.local.layout import StateLayout
from swf_entry.client import Job, Workflow, WorkflowController
from swf_entry.composition import ClientOptions, open_controller, resource_config
from swf_entry.daemon import engine_status, stop_engine

TRUE = shutil.which("true") or "/bin/true"
TARGET_DROP = 0.20

#: argv: mode home database_url workflow_id period stop_file. Prints "ready" after its
#: first read, polls until stop_file exists, then prints one JSON summary. Modes:
#: ``facade``: WorkflowController.workflow_elements_status (daemon mode: the client reads
#: the store with its QueryService cache, then converts the dates to datetimes);
#: ``link``: the same without the facade's conversion (the link's plain answer);
#: ``engine``: the query sent to the engine daemon over Pyro5 (the path before issue 4);
#: ``sqlite``: the store read in the reader's own process, every job each time;
#: ``sqlite-delta``: the store read in the reader's own process, only the jobs changed
#: since the previous read (``job_changes``), merged into the reader's copy.
READER = """
import json, os, sys, time
from pathlib import Path
mode, home, url, workflow_id, period, stop = sys.argv[1:7]
workflow_id, period = int(workflow_id), float(period)
if mode in ("facade", "link"):
    from swf_entry.composition import ClientOptions, open_controller, resource_config
    controller = open_controller(ClientOptions(home=Path(home)))
    def read():
        if mode == "link":
            return len(controller.link.workflow_elements_status(workflow_id).jobs)
        return len(controller.workflow_elements_status(workflow_id)[0])
elif mode == "engine":
    from swf_entry.daemon import local_engine_link
    engine_link = local_engine_link(home, idle_timeout=0.0)
    def read():
        return len(engine_link.workflow_elements_status(workflow_id).jobs)
else:
    from swf_adapters.store import open_store
    store = open_store(url)
    copy, since = {}, None
    def read():
        global since
        if mode == "sqlite":
            return len(store.job_summaries(workflow_id))
        changes = store.job_changes(workflow_id, since)
        since = changes.since
        for summary in changes.summaries:
            copy[summary[0]] = summary
        return len(copy)
latencies = []
def timed_read():
    started = time.perf_counter()
    count = read()
    latencies.append(time.perf_counter() - started)
    return count
print("ready", timed_read(), flush=True)
while not os.path.exists(stop):
    timed_read()
    time.sleep(max(0.0, period - latencies[-1]))
print(json.dumps({"polls": len(latencies) - 1, "latencies": latencies[1:]}), flush=True)
"""
MODES = ("facade", "link", "engine", "sqlite", "sqlite-delta")


def independent(n: int, name: str) -> Workflow:
    return Workflow([Job([TRUE], name=f"t{i}") for i in range(n)], name=name)


@contextlib.contextmanager
def daemon_site(slots: int) -> Iterator[tuple[Path, WorkflowController]]:
    home = Path(tempfile.mkdtemp(prefix="swf-br-", dir="/tmp"))
    os.environ["SWF_CPU_NB"] = str(slots)
    os.environ["SWF_ENGINE_IDLE_TIMEOUT"] = "0"
    controller: WorkflowController = open_controller(ClientOptions(home=home))
    try:
        yield home, controller
    finally:
        controller.disconnect()
        stop_engine(home, timeout=60)
        shutdown_host(StateLayout(home / "jobhost"))
        shutil.rmtree(home, ignore_errors=True)


@contextlib.contextmanager
def readers(
    mode: str, home: Path, workflow_id: int, count: int, period: float
) -> Iterator[list[Any]]:
    """``count`` reader processes polling; yields the list their summaries go into."""
    stop = home / f"stop-readers-{time.monotonic_ns()}"
    url = resource_config(ClientOptions(home=home)).database_url
    argv = [mode, str(home), url, str(workflow_id), str(period), str(stop)]
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", READER, *argv],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]
    summaries: list[Any] = []
    try:
        for process in processes:
            assert process.stdout is not None
            line = process.stdout.readline()
            assert line.startswith("ready"), f"reader {process.pid} failed"
        yield summaries
    finally:
        stop.touch()
        for process in processes:
            out, _ = process.communicate(timeout=600)
            summaries.append(json.loads(out.strip().splitlines()[-1]))


@contextlib.contextmanager
def sampling(home: Path, output: Path | None) -> Iterator[None]:
    """py-spy sampling every thread of the engine process while the block runs."""
    if output is None:
        yield
        return
    pid = (engine_status(home) or {})["pid"]
    command = ["py-spy", "record", "--pid", str(pid), "--format", "raw", "--output", str(output)]
    spy_binary = Path(sys.executable).with_name("py-spy")
    command[0] = str(spy_binary) if spy_binary.exists() else "py-spy"
    spy = subprocess.Popen([*command, "--nonblocking"], stdout=subprocess.DEVNULL)
    try:
        yield
    finally:
        spy.send_signal(signal.SIGINT)
        spy.wait(60)
        print(f"engine samples (collapsed stacks) written to {output}")


@dataclass
class Run:
    """One timed run of the measured workflow."""

    rate: float
    workflow_id: int
    finished: bool


def run_jobs(controller: WorkflowController, jobs: int, limit: float) -> Run:
    """Jobs/s from submit to the end of wait_workflow; after ``limit`` seconds, the jobs
    done so far over the time spent (a run that slow need not be seen to its end)."""
    workflow = independent(jobs, "measured")
    started = time.perf_counter()
    workflow_id = controller.submit_workflow(workflow)
    controller.wait_workflow(workflow_id, timeout=limit)
    elapsed = time.perf_counter() - started
    statuses = controller.link.status_summary(workflow_id)
    done = statuses.get("done", 0)
    finished = done == jobs
    if not finished:
        assert set(statuses) <= {"done", "running", "not_submitted", "queued_active"}, statuses
    return Run(done / elapsed, workflow_id, finished)


def discard(controller: WorkflowController, run: Run) -> None:
    """Remove the measured workflow, so that every run sees the same database."""
    if not run.finished:
        controller.stop_workflow(run.workflow_id)
    controller.delete_workflow(run.workflow_id)


def big_workflow(controller: WorkflowController, size: int) -> int:
    started = time.perf_counter()
    workflow_id = controller.submit_workflow(independent(size, "big"))
    controller.stop_workflow(workflow_id)
    print(
        f"big workflow: {size} jobs submitted and stopped in {time.perf_counter() - started:.1f} s"
    )
    return workflow_id


def describe_reads(summaries: list[Any]) -> str:
    latencies = [value for summary in summaries for value in summary["latencies"]]
    polls = sum(summary["polls"] for summary in summaries)
    if not latencies:
        return "no reads"
    return (
        f"{polls} reads, median {statistics.median(latencies) * 1000:.0f} ms, "
        f"max {max(latencies) * 1000:.0f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--big", type=int, default=100_000)
    parser.add_argument("--readers", type=int, default=8)
    parser.add_argument("--period", type=float, default=0.1)
    parser.add_argument("--slots", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--modes", default="facade", help=f"comma-separated, among {MODES}")
    parser.add_argument(
        "--limit", type=float, default=240.0, help="seconds after which a run is cut short"
    )
    parser.add_argument(
        "--py-spy", type=Path, default=None, help="sample the engine (first round with readers)"
    )
    args = parser.parse_args()
    modes = args.modes.split(",")
    assert set(modes) <= set(MODES), modes

    rates: dict[str, list[float]] = {"alone": [], **{mode: [] for mode in modes}}
    with daemon_site(args.slots) as (home, controller):
        big_id = big_workflow(controller, args.big)
        for round_number in range(args.rounds):
            for mode in ["alone", *modes]:
                rates[mode].append(measure(controller, home, big_id, mode, args, round_number == 0))
        status = engine_status(home) or {}
        print(f"engine calls served: {status.get('calls_total')}")
    base = statistics.median(rates["alone"])
    print(
        f"{args.jobs} true jobs on {args.slots} slots, daemon mode: {base:.0f} jobs/s alone "
        f"(runs: {', '.join(f'{rate:.0f}' for rate in rates['alone'])})"
    )
    for mode in modes:
        loaded = statistics.median(rates[mode])
        drop = 1 - loaded / base
        print(
            f"  with {args.readers} {mode} readers of a {args.big}-job workflow every "
            f"{args.period * 1000:.0f} ms: {loaded:.0f} jobs/s, ratio {loaded / base:.2f}, "
            f"drop {drop:.0%} (target < {TARGET_DROP:.0%}: "
            f"{'met' if drop < TARGET_DROP else 'NOT met'})"
        )


def measure(
    controller: WorkflowController,
    home: Path,
    big_id: int,
    mode: str,
    args: argparse.Namespace,
    first_round: bool,
) -> float:
    """One run of the measured workflow, alone or under ``mode`` readers; its jobs/s."""
    if mode == "alone":
        run = run_jobs(controller, args.jobs, args.limit)
        note = ""
    else:
        spied = args.py_spy if first_round and mode in ("facade", "engine") else None
        with (
            readers(mode, home, big_id, args.readers, args.period) as summaries,
            sampling(home, spied),
        ):
            run = run_jobs(controller, args.jobs, args.limit)
        note = f" ({describe_reads(summaries)})"
    discard(controller, run)
    cut = "" if run.finished else f", cut short after {args.limit:.0f} s"
    print(f"{mode}: {run.rate:.0f} jobs/s{cut}{note}", flush=True)
    return run.rate


if __name__ == "__main__":
    main()
