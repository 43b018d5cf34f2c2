"""Grid Engine benchmark: swf through DRMAA against a shell loop of ``qsub`` on the same
cell, in the same run (needs the single-host cell of scripts/services/sge.sh).

1. N independent ``true`` jobs through swf (embedded engine, SCHEDULER_TYPE drmaa):
   DRMAA calls that reach qmaster, counted by the agent (runBulkJobs, control, jobStatus
   heartbeats), the engine's polls (answered from the changes the agent pushed: no call
   at all), engine CPU per job (engine thread + adapter threads in the engine process)
   and the DRMAA agent's CPU (another process: the library's work, as qsub's is for the
   loop), wall time.
2. The same N jobs as a shell loop: ``qsub -b y true`` per job, then ``qstat -j NAME``
   every POLL seconds until none is left.
3. A chain of C jobs through swf: median delay between a job's end and its child's
   submission (as bench_slurm.py).
4. Q held jobs queued (``-h``, nothing runs): the engine-side cost of one poll, median of
   R polls, and the agent's CPU per second while they wait.

    python bench/bench_sge.py [--jobs 1000] [--chain 20] [--queued 10000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import cluster_bench as bench  # the measures all cluster benches share (bench/ is on sys.path)
import psutil

from swf_adapters.schedulers.batch import BatchSettings
from swf_adapters.schedulers.drmaa import AgentRunner, DrmaaScheduler, drmaa_environment


def wait_idle_cell() -> None:
    bench.wait_idle(["qstat", "-u", "*"], "cell", 600)


def swf_run(home: Path, jobs: int) -> dict[str, Any]:
    wait_idle_cell()
    wfc = bench.controller(home, "drmaa")
    scheduler: DrmaaScheduler
    scheduler, wall, cpu = bench.independent_run(wfc, jobs, ("swf-batch", "swf-drmaa"))
    agent = scheduler.agent._process
    agent_cpu = sum(psutil.Process(agent.pid).cpu_times()[:2]) if agent else 0.0
    calls = dict(scheduler.agent.calls)
    drmaa_calls = json.loads(scheduler.agent.run(["stats"]).stdout)
    wfc.disconnect()
    return {
        "jobs": jobs,
        "wall_s": round(wall, 2),
        "drmaa_calls_to_qmaster": drmaa_calls,
        "engine_polls_answered_from_pushed_changes": calls.get("status", 0),
        "engine_cpu_ms_per_job": round(cpu * 1000 / jobs, 3),
        "agent_cpu_ms_per_job": round(agent_cpu * 1000 / jobs, 3),
    }


def shell_loop(home: Path, jobs: int, poll: float) -> dict[str, Any]:
    wait_idle_cell()
    name = f"swfloop{time.time_ns() % 10**8}"
    qstats, wall, children = bench.shell_loop(
        home / "loop.sh",
        f"""set -e
for i in $(seq 1 {jobs}); do qsub -b y -o /dev/null -j y -N {name} true >/dev/null; done
n=0
while qstat -j {name} >/dev/null 2>&1; do n=$((n+1)); sleep {poll}; done
echo $((n+1))
""",
    )
    return {
        "jobs": jobs,
        "wall_s": round(wall, 2),
        "qsub_calls": jobs,
        "qstat_calls": qstats,
        "commands_cpu_ms_per_job": round(children * 1000 / jobs, 3),
    }


def chain_latency(home: Path, length: int) -> dict[str, Any]:
    wait_idle_cell()
    return bench.chain_figures(bench.controller(home, "drmaa"), length, 0.5)


def queued_poll(home: Path, queued: int, repeats: int) -> dict[str, Any]:
    """Engine-side cost of one poll with ``queued`` held jobs in the queue, and what the
    agent spends per second following them."""
    wait_idle_cell()
    job_dir = home / "queued-jobs"
    settings = BatchSettings(job_dir=job_dir, poll_min=3600, poll_max=3600)
    runner = AgentRunner(job_dir / "drmaa-session", drmaa_environment(os.environ))
    scheduler = DrmaaScheduler(settings, runner)
    submit_s = bench.submit_held(scheduler, queued, "-h")
    engine = []
    for _ in range(repeats):
        t1 = time.perf_counter()
        view = scheduler._status()
        found = scheduler._reconcile(view or {}, time.time())
        engine.append(time.perf_counter() - t1)
        assert not found, found[:3]
    agent = psutil.Process(runner._process.pid) if runner._process else None
    cpu0 = sum(agent.cpu_times()[:2]) if agent else 0.0
    time.sleep(20)
    agent_cpu = (sum(agent.cpu_times()[:2]) - cpu0) / 20 if agent else 0.0
    calls = json.loads(runner.run(["stats"]).stdout)
    subprocess.run(["qdel", scheduler.tag], check=False, capture_output=True)
    scheduler.close()
    return {
        "queued": queued,
        "drmaa_calls_to_qmaster": calls,
        "submit_s": round(submit_s, 2),
        "engine_ms_per_poll": round(statistics.median(engine) * 1000, 3),
        "agent_cpu_ms_per_s_while_queued": round(agent_cpu * 1000, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--poll", type=float, default=1.0)
    parser.add_argument("--chain", type=int, default=20)
    parser.add_argument("--queued", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="swf-bench-sge-") as tmp:
        home = Path(tmp)
        results = {
            "swf": swf_run(home / "swf", args.jobs),
            "loop": shell_loop(home, args.jobs, args.poll),
        }
        results["chain"] = chain_latency(home / "chain", args.chain)
        if args.queued:
            results["queued"] = queued_poll(home, args.queued, args.repeats)
        results["loop_wall_over_swf_wall"] = round(
            results["loop"]["wall_s"] / results["swf"]["wall_s"], 2
        )
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
