"""Whole-stack benchmarks for the engine issue (embedded engine, real SQLite, real job host).

Every figure is reported beside a baseline measured in the same run, because the machines
are noisy: the baseline for throughput is ``os.posix_spawn`` of ``true`` with the same
number of slots and ``os.wait``.

    .venv/bin/python bench/bench_e2e.py [--jobs 20000] [--big 1000000] [--slots 2]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil

from swf_adapters.schedulers.local.launcher import shutdown_host
from swf_adapters.schedulers.local.layout import StateLayout
from swf_entry.client import Job, Workflow, WorkflowController

TRUE = shutil.which("true") or "/bin/true"


def posix_spawn_rate(jobs: int, slots: int) -> float:
    """Jobs per second when spawning ``true`` directly with ``slots`` running at once."""
    started = time.perf_counter()
    running = launched = 0
    while launched < jobs or running:
        while running < slots and launched < jobs:
            os.posix_spawn(TRUE, [TRUE], os.environ)
            running += 1
            launched += 1
        os.wait()
        running -= 1
    return jobs / (time.perf_counter() - started)


def posix_spawn_files_rate(jobs: int, slots: int) -> float:
    """``posix_spawn_rate`` starting each ``true`` as swf does: in its own session, its
    stdout and stderr created as two files (``O_NOFOLLOW``) in one directory. The bare
    loop writes no file; these two creations are in every swf job's own CPU."""
    directory = tempfile.mkdtemp(prefix="swf-bench-spawn-")
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW
    started = time.perf_counter()
    running = launched = 0
    while launched < jobs or running:
        while running < slots and launched < jobs:
            actions = [
                (os.POSIX_SPAWN_OPEN, fd, f"{directory}/{launched}.{name}", flags, 0o666)
                for fd, name in ((1, "out"), (2, "err"))
            ]
            os.posix_spawn(TRUE, [TRUE], os.environ, file_actions=actions, setsid=True)
            running += 1
            launched += 1
        os.wait()
        running -= 1
    elapsed = time.perf_counter() - started
    shutil.rmtree(directory, ignore_errors=True)
    return jobs / elapsed


@contextmanager
def controller(slots: int) -> Iterator[WorkflowController]:
    home = Path(tempfile.mkdtemp(prefix="swf-bench-"))
    os.environ["SWF_CPU_NB"] = str(slots)
    wfc = WorkflowController(isolated_light_mode=str(home))
    try:
        yield wfc
    finally:
        wfc.disconnect()
        shutdown_host(StateLayout(home / "jobhost"))
        shutil.rmtree(home, ignore_errors=True)


def independent(n: int) -> Workflow:
    return Workflow([Job([TRUE], name=f"t{i}") for i in range(n)], name=f"independent-{n}")


def fan(n: int) -> Workflow:
    root = Job([TRUE], name="root")
    middle = [Job([TRUE], name=f"m{i}") for i in range(n)]
    join = Job([TRUE], name="join")
    deps = [(root, job) for job in middle] + [(job, join) for job in middle]
    return Workflow([root, *middle, join], dependencies=deps, name=f"fan-{n}")  # type: ignore[arg-type]


def run_throughput(jobs: int, slots: int) -> tuple[float, float]:
    """(jobs/s, engine-process CPU ms per job) for ``jobs`` independent ``true`` jobs."""
    with controller(slots) as wfc:
        cpu0 = time.process_time()
        t0 = time.perf_counter()
        wf_id = wfc.submit_workflow(independent(jobs))
        wfc.wait_workflow(wf_id)
        elapsed = time.perf_counter() - t0
        cpu = time.process_time() - cpu0
        assert wfc.workflow_status(wf_id) == "workflow_done"
        failed = [j for j in wfc.workflow_elements_status(wf_id)[0] if j[1] != "done"]
        assert not failed, failed[:3]
    return jobs / elapsed, cpu * 1000 / jobs


def _thread_cpu(native_id: int | None) -> float:
    """CPU seconds (user + system) of one thread of this process."""
    for thread in psutil.Process().threads():
        if thread.id == native_id:
            return float(thread.user_time + thread.system_time)
    return 0.0


def run_fan(n: int, slots: int) -> tuple[float, float, int]:
    """(process CPU ms per job, engine-thread CPU ms per job, store commits) for fan-out
    1 -> n -> 1.

    The process figure includes the client's side of the embedded run (serializing,
    validating and inserting the workflow); the engine thread's is the engine alone. The
    engine commits once per 100 ms window while jobs end, so on a loaded machine (longer
    run) its CPU per job grows with the commits: compare runs with similar counts.
    """
    with controller(slots) as wfc:
        engine = wfc.link._engine  # type: ignore[attr-defined]
        native_id = engine._thread.native_id if engine._thread is not None else None
        cpu0 = time.process_time()
        engine0, ticks0 = _thread_cpu(native_id), engine.ticks
        wf_id = wfc.submit_workflow(fan(n))
        wfc.wait_workflow(wf_id)
        cpu = time.process_time() - cpu0
        engine_cpu = _thread_cpu(native_id) - engine0
        assert wfc.workflow_status(wf_id) == "workflow_done"
    return cpu * 1000 / (n + 2), engine_cpu * 1000 / (n + 2), engine.ticks - ticks0


def run_latency(n: int, repeats: int, slots: int) -> tuple[float, float]:
    """(median submit->wait seconds for an n-job chain-free workflow, median child-start gap)."""
    times = []
    gaps: list[float] = []
    with controller(slots) as wfc:
        for _ in range(repeats):
            t0 = time.perf_counter()
            wf_id = wfc.submit_workflow(independent(n))
            wfc.wait_workflow(wf_id)
            times.append(time.perf_counter() - t0)
        a = Job([TRUE], name="a")
        b = Job([TRUE], name="b")
        for _ in range(repeats):
            wf_id = wfc.submit_workflow(Workflow([a, b], dependencies=[(a, b)]))
            wfc.wait_workflow(wf_id)
            rows = {row[0]: row for row in wfc.workflow_elements_status(wf_id)[0]}
            first, second = sorted(rows)
            ended = rows[first][4][2]
            started = rows[second][4][1]
            if ended and started:
                gaps.append((started - ended).total_seconds())
            a = Job([TRUE], name="a")
            b = Job([TRUE], name="b")
    return statistics.median(times), statistics.median(gaps) if gaps else float("nan")


def run_big(n: int, slots: int) -> dict[str, float]:
    """Submit an n-job fan, then time elements_status / summary while it runs."""
    with controller(slots) as wfc:
        t0 = time.perf_counter()
        wf_id = wfc.submit_workflow(fan(n))
        submit = time.perf_counter() - t0
        time.sleep(1.0)
        t1 = time.perf_counter()
        elements = wfc.workflow_elements_status(wf_id)
        status_time = time.perf_counter() - t1
        t2 = time.perf_counter()
        wfc.link.status_summary(wf_id)
        summary_time = time.perf_counter() - t2
        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        assert len(elements[0]) == n + 2
        wfc.stop_workflow(wf_id)
    return {
        "submit_s": submit,
        "elements_s": status_time,
        "summary_s": summary_time,
        "rss_mb": rss_mb,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=20000)
    parser.add_argument("--slots", type=int, default=2)
    parser.add_argument("--big", type=int, default=1_000_000)
    parser.add_argument("--skip-big", action="store_true")
    args = parser.parse_args()

    base = posix_spawn_rate(args.jobs, args.slots)
    rate, cpu_ms = run_throughput(args.jobs, args.slots)
    base_after = posix_spawn_rate(args.jobs, args.slots)
    baseline = (base + base_after) / 2
    print(
        f"baseline posix_spawn true, {args.slots} slots: {baseline:.0f} jobs/s "
        f"(before {base:.0f}, after {base_after:.0f})"
    )
    print(
        f"swf {args.jobs} independent true jobs: {rate:.0f} jobs/s = "
        f"{100 * rate / baseline:.0f}% of baseline (target >= 70%); "
        f"client+engine CPU {cpu_ms:.3f} ms/job"
    )
    like_swf = posix_spawn_files_rate(args.jobs, args.slots)
    print(
        f"posix_spawn true with its two output files and setsid (as swf starts a job): "
        f"{like_swf:.0f} jobs/s; swf = {100 * rate / like_swf:.0f}% of it"
    )
    process_ms, engine_ms, commits = run_fan(args.jobs, args.slots)
    print(
        f"fan-out 1->{args.jobs}->1: engine thread CPU {engine_ms:.3f} ms/job (target <= 0.2);"
        f" whole process incl. the client's submission {process_ms:.3f} ms/job;"
        f" {commits} store commits"
    )
    latency, gap = run_latency(100, 5, args.slots)
    print(
        f"100-job workflow submit->wait_workflow: {latency * 1000:.0f} ms median "
        f"(target <= 150 ms); child start after parent end: {gap * 1000:.1f} ms median "
        "(target <= 10 ms)"
    )
    if not args.skip_big:
        big = run_big(args.big, args.slots)
        print(
            f"{args.big}-job workflow: submit {big['submit_s']:.1f} s (target <= 20), "
            f"elements_status {big['elements_s']:.2f} s, summary {big['summary_s']:.3f} s "
            f"(target <= 0.5), peak RSS {big['rss_mb']:.0f} MB (target <= 1500)"
        )


if __name__ == "__main__":
    main()
