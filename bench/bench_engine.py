"""Engine benchmark: CPU per job of the engine thread, and a million-job submission.

Scenarios, each in a fresh Python process (so RSS figures are its own):

- ``independent``: N independent jobs; ``fanout``: 1 -> N -> 1. Run on the fake
  scheduler (instant jobs: each ends as soon as it is submitted) with the in-memory
  store, through the real EngineService and Engine. Reported: wall time from submit to
  workflow done, the submission call alone (document -> model -> validation -> store),
  the engine thread's own CPU time (``pthread_getcpuclockid``: ticks, store writes,
  rendering, fake scheduler calls made from the tick) per job, and ticks (one store
  transaction each at most). Also with the real SQLite store (a file in /tmp) for
  comparison: its writes run on the engine thread, so they are in its CPU time.
- ``million``: submit a 1,000,000-job workflow (independent jobs) and let the engine
  take it in (tracker, ready queue): submission seconds and process RSS.

Baseline, measured in the same run: the per-job cost of a minimal loop doing what any
engine must do per job (build a LaunchRequest, a JobState, append to a list of
updates), so ``ratio`` = engine CPU per job / baseline per job is comparable across
machines.

    .venv/bin/python bench/bench_engine.py                 # N = 20000 and the million
    .venv/bin/python bench/bench_engine.py --jobs 5000 --no-million
    .venv/bin/python bench/bench_engine.py --no-million --stores sqlite --slots 2 64 \
        --workspace local [--tree OTHER_CHECKOUT]   # launch-time path check included
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET_MS_PER_JOB = 0.2


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def thread_cpu(thread: threading.Thread) -> float:
    assert thread.ident is not None
    return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))


def baseline_per_job(count: int = 100_000, rounds: int = 3) -> float:
    """Seconds per job of the bare minimum an engine does per job (best of ``rounds``:
    the machine may be shared)."""
    from swf_app.ports import JobState, JobUpdate, LaunchRequest
    from swf_domain.status import JobStatus

    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        updates = []
        for job_id in range(count):
            request = LaunchRequest(job_id, 1, ("echo", str(job_id)), {}, f"/o/{job_id}", None)
            state = JobState(status=JobStatus.DONE, command=list(request.argv))
            updates.append(JobUpdate(job_id, state))
        best = min(best, (time.process_time() - start) / count)
    return best


def build(shape: str, count: int) -> Any:
    from swf_domain.model import Job, Workflow

    middle = [Job(["echo", str(number)], name=f"job_{number}") for number in range(count)]
    if shape == "independent":
        return Workflow(middle, name=shape)
    source, sink = Job(["echo", "start"], name="source"), Job(["echo", "end"], name="sink")
    dependencies = [(source, job) for job in middle] + [(job, sink) for job in middle]
    return Workflow([source, *middle, sink], dependencies, name=shape)


def make_store(kind: str) -> Any:
    if kind == "memory":
        return None
    import tempfile

    from swf_adapters.store.sqlalchemy_store import SqlAlchemyStore

    return SqlAlchemyStore(f"sqlite:///{tempfile.mkdtemp(prefix='swf-bench-')}/swf.db")


def make_workspace(kind: str) -> Any:
    """None (the harness's in-memory fake) or a LocalWorkspace on a fresh directory, so
    the launch-time check of each job's paths runs on a real file system."""
    if kind == "memory":
        return None
    import tempfile

    from swf_adapters.workspace.local import LocalWorkspace

    state = tempfile.mkdtemp(prefix="swf-bench-state-")
    try:
        return LocalWorkspace(state, [os.path.join(state, "swf.db")])
    except TypeError:  # a tree from before the launch-time check (--tree)
        return LocalWorkspace(state)


def run_scenario(
    shape: str, count: int, slots: int, store: str, workspace: str = "memory"
) -> dict[str, Any]:
    from tests.app_fakes import EngineHarness

    from swf_domain.serialization import workflow_to_dict

    document = workflow_to_dict(build(shape, count))
    harness = EngineHarness(
        slots=slots, emit_running=True, store=make_store(store), workspace=make_workspace(workspace)
    )
    figures: dict[str, Any] = {"shape": shape, "jobs": count, "slots": slots, "store": store}
    with harness:
        engine_thread = harness.engine._thread
        assert engine_thread is not None
        cpu_before = thread_cpu(engine_thread)
        ticks_before = harness.engine.ticks
        start = time.perf_counter()
        wf_id = harness.service.submit_workflow(document, None, None, None)
        figures["submit_s"] = time.perf_counter() - start
        assert harness.service.wait_workflow(wf_id, timeout=600)
        figures["wall_s"] = time.perf_counter() - start
        engine_cpu = thread_cpu(engine_thread) - cpu_before
        figures["engine_cpu_s"] = engine_cpu
        figures["engine_ms_per_job"] = 1000 * engine_cpu / count
        figures["ticks"] = harness.engine.ticks - ticks_before
        figures["transactions"] = harness.engine.ticks - ticks_before
        counts = harness.service.status_summary(wf_id)
        figures["done"] = counts.get("done", 0)
    figures["baseline_ms_per_job"] = 1000 * baseline_per_job()
    figures["ratio"] = figures["engine_ms_per_job"] / figures["baseline_ms_per_job"]
    return figures


def run_million(count: int) -> dict[str, Any]:
    from tests.app_fakes import EngineHarness, FakeOutcome

    from swf_domain.serialization import workflow_to_dict

    figures: dict[str, Any] = {"shape": "million", "jobs": count}
    rss_start = rss_mb()
    start = time.process_time()
    document = workflow_to_dict(build("independent", count))
    figures["client_build_and_serialize_cpu_s"] = time.process_time() - start
    figures["rss_client_mb"] = rss_mb() - rss_start
    harness = EngineHarness(slots=8, behaviour=lambda request: FakeOutcome(duration=None))
    with harness:
        rss_before = rss_mb()
        start, cpu_start = time.perf_counter(), time.process_time()
        wf_id = harness.service.submit_workflow(document, None, None, None)
        figures["submit_s"] = time.perf_counter() - start
        figures["submit_cpu_s"] = time.process_time() - cpu_start
        harness.engine.wait_idle()
        figures["submit_and_first_tick_s"] = time.perf_counter() - start
        figures["rss_after_submit_mb"] = rss_mb()
        figures["rss_added_by_submit_mb"] = rss_mb() - rss_before
        figures["running"] = harness.service.status_summary(wf_id).get("running", 0)
        del document
    figures["baseline_ms_per_job"] = 1000 * baseline_per_job()
    figures["submit_cpu_us_per_job"] = 1e6 * figures["submit_cpu_s"] / count
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--slots", type=int, nargs="*", default=[64, 8])
    parser.add_argument("--million", type=int, default=1_000_000)
    parser.add_argument("--no-million", action="store_true")
    parser.add_argument(
        "--stores", nargs="*", default=["memory", "sqlite"], choices=["memory", "sqlite"]
    )
    parser.add_argument(
        "--workspace",
        default="memory",
        choices=["memory", "local"],
        help="local: a real LocalWorkspace (the launch-time path check on a real disk)",
    )
    parser.add_argument(
        "--tree", default=ROOT, help="run the engine and fakes of another checkout (A/B)"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        spec = json.loads(args.child)
        sys.path[:0] = [os.path.join(spec["tree"], "src"), spec["tree"]]
        if spec["shape"] == "million":
            result = run_million(spec["jobs"])
        else:
            result = run_scenario(
                spec["shape"], spec["jobs"], spec["slots"], spec["store"], spec["workspace"]
            )
        print(json.dumps(result))
        return
    common = {"tree": os.path.abspath(args.tree), "workspace": args.workspace}
    specs: list[dict[str, Any]] = [
        {"shape": shape, "jobs": args.jobs, "slots": slots, "store": store, **common}
        for store in args.stores
        for shape in ("independent", "fanout")
        for slots in args.slots
    ]
    if not args.no_million:
        specs.append({"shape": "million", "jobs": args.million, **common})
    for spec in specs:
        done = subprocess.run(
            [sys.executable, __file__, "--child", json.dumps(spec)],
            capture_output=True,
            text=True,
            check=False,
            cwd=ROOT,
        )
        if done.returncode != 0:
            print(f"{spec}: failed\n{done.stderr}", file=sys.stderr)
            continue
        result = json.loads(done.stdout.strip().splitlines()[-1])
        print(_row(result))


def _row(figures: dict[str, Any]) -> str:
    if figures["shape"] == "million":
        return (
            f"million  jobs={figures['jobs']:>8}  client build+serialize CPU "
            f"{figures['client_build_and_serialize_cpu_s']:.1f}s  submit wall "
            f"{figures['submit_s']:.1f}s, CPU {figures['submit_cpu_s']:.1f}s "
            f"({figures['submit_cpu_us_per_job']:.1f} us/job)  +first tick "
            f"{figures['submit_and_first_tick_s']:.1f}s  "
            f"RSS {figures['rss_after_submit_mb']:.0f} MB "
            f"(+{figures['rss_added_by_submit_mb']:.0f} MB by submit)  running={figures['running']}"
        )
    verdict = "ok" if figures["engine_ms_per_job"] <= TARGET_MS_PER_JOB else "OVER TARGET"
    if figures["store"] != "memory":
        verdict = "target is for the in-memory store"
    return (
        f"{figures['shape']:<11} {figures['store']:<6} jobs={figures['jobs']:>6} "
        f"slots={figures['slots']:>3}  "
        f"wall {figures['wall_s']:.2f}s (submit {figures['submit_s']:.2f}s)  "
        f"engine CPU {figures['engine_cpu_s']:.2f}s = {figures['engine_ms_per_job']:.3f} ms/job "
        f"[{verdict}, target {TARGET_MS_PER_JOB}]  baseline {figures['baseline_ms_per_job']:.4f} "
        f"ms/job  ratio {figures['ratio']:.0f}x  ticks {figures['ticks']}  "
        f"transactions {figures['transactions']}  done {figures['done']}"
    )


if __name__ == "__main__":
    main()
