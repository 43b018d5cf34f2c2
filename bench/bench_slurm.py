"""SLURM benchmark: swf against a shell loop of ``sbatch --wrap`` on the same cluster, in
the same run (needs the single-node SLURM of scripts/services/slurm.sh, as root for
``sdiag --reset``).

1. N independent ``true`` jobs through swf (embedded engine, SCHEDULER_TYPE slurm):
   sbatch calls, squeue calls and polls (one status call per poll), controller RPCs
   counted by ``sdiag`` (client RPC types only: submissions, job/partition queries,
   kills), engine CPU per job (engine thread + the adapter's control and poller
   threads; the sbatch/squeue processes are reported apart), wall time.
2. The same N jobs as a shell loop: ``sbatch --wrap true`` per job, then ``squeue``
   every POLL seconds until none is left.
3. A chain of C jobs through swf: median delay between a job's end (its end file) and
   its child's submission, against the poll interval.
4. Q held jobs queued (nothing runs): the engine-side cost of one poll (parse squeue's
   output + reconcile every active task), median of R polls, and squeue's own time.

    python bench/bench_slurm.py [--jobs 1000] [--chain 20] [--queued 10000]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import cluster_bench as bench  # the measures all cluster benches share (bench/ is on sys.path)

from swf_adapters.schedulers.batch import BatchScheduler, BatchSettings
from swf_adapters.schedulers.slurm import Slurm
from swf_entry.client import WorkflowController

#: RPC types a client command causes (the others come from slurmd: job completions...).
CLIENT_RPCS = re.compile(
    r"^\s*(REQUEST_SUBMIT_BATCH_JOB|REQUEST_JOB_INFO\w*|REQUEST_PARTITION_INFO|REQUEST_FED_INFO"
    r"|REQUEST_KILL_JOB|REQUEST_CANCEL_JOB\w*|REQUEST_NODE_INFO\w*|REQUEST_JOB_USER_INFO"
    r"|REQUEST_BUILD_INFO|REQUEST_STATS_INFO)\s+\(\s*\d+\)\s+count:(\d+)",
    re.M,
)


def sdiag_reset() -> None:
    subprocess.run(["sdiag", "--reset"], check=True, capture_output=True)


def sdiag_counts() -> tuple[int, int]:
    """(client RPCs, all RPCs) since the last reset (the sdiag call itself excluded)."""
    out = subprocess.run(["sdiag"], check=True, capture_output=True, text=True).stdout
    section = out.split("Remote Procedure Call statistics by message type", 1)[-1]
    section = section.split("Remote Procedure Call statistics by user", 1)[0]
    total = sum(int(n) for n in re.findall(r"count:(\d+)", section))
    client = sum(int(m.group(2)) for m in CLIENT_RPCS.finditer(section))
    stats = 1 if "REQUEST_STATS_INFO" in section else 0
    return client - stats, total - stats


def wait_idle_cluster() -> None:
    bench.wait_idle(["squeue", "-h", "-o", "%i"], "cluster", 300)


def controller(home: Path, poll_min: float, poll_max: float) -> WorkflowController:
    return bench.controller(home, "slurm", poll_min, poll_max)


def swf_run(home: Path, jobs: int, poll_min: float, poll_max: float) -> dict[str, Any]:
    wait_idle_cluster()
    wfc = controller(home, poll_min, poll_max)
    sdiag_reset()
    children0 = bench.children_cpu()
    scheduler: BatchScheduler
    scheduler, wall, cpu = bench.independent_run(wfc, jobs, ("swf-batch",))
    children = bench.children_cpu() - children0
    client, total = sdiag_counts()
    calls = dict(scheduler.runner.calls)
    result = {
        "jobs": jobs,
        "wall_s": round(wall, 2),
        "sbatch_calls": calls.get("sbatch", 0),
        "squeue_calls": calls.get("squeue", 0),
        "polls": scheduler.polls,
        "client_rpcs": client,
        "all_rpcs": total,
        "engine_cpu_ms_per_job": round(cpu * 1000 / jobs, 3),
        "commands_cpu_ms_per_job": round(children * 1000 / jobs, 3),
    }
    wfc.disconnect()
    return result


def shell_loop(home: Path, jobs: int, poll: float) -> dict[str, Any]:
    wait_idle_cluster()
    name = f"swf-bench-loop-{time.time_ns()}"
    sdiag_reset()
    squeues, wall, _ = bench.shell_loop(
        home / "loop.sh",
        f"""set -e
for i in $(seq 1 {jobs}); do sbatch -Q -o /dev/null -J {name} --wrap true; done
n=0
while [ -n "$(squeue -h -n {name} -o %i)" ]; do n=$((n+1)); sleep {poll}; done
echo $((n+1))
""",
    )
    client, total = sdiag_counts()
    return {
        "jobs": jobs,
        "wall_s": round(wall, 2),
        "sbatch_calls": jobs,
        "squeue_calls": squeues,
        "client_rpcs": client,
        "all_rpcs": total,
    }


def chain_latency(home: Path, length: int, poll_min: float, poll_max: float) -> dict[str, Any]:
    wait_idle_cluster()
    return bench.chain_figures(controller(home, poll_min, poll_max), length, poll_min)


def queued_poll(home: Path, queued: int, repeats: int) -> dict[str, Any]:
    """Engine-side cost of one poll with ``queued`` held jobs in the queue."""
    wait_idle_cluster()
    settings = BatchSettings(job_dir=home / "queued-jobs", poll_min=3600, poll_max=3600)
    scheduler = BatchScheduler(Slurm(), settings)
    submit_s = bench.submit_held(scheduler, queued, "--hold")
    engine, squeue = [], []
    for _ in range(repeats):
        t1 = time.perf_counter()
        result = scheduler.runner.run(scheduler.system.status_command(scheduler.tag, None))
        t2 = time.perf_counter()
        view = scheduler.system.parse_status(result.stdout)
        found = scheduler._reconcile(view, time.time())
        t3 = time.perf_counter()
        assert not found, found[:3]
        squeue.append(t2 - t1)
        engine.append(t3 - t2)
    calls = dict(scheduler.runner.calls)
    subprocess.run(["scancel", "-n", scheduler.tag], check=False)
    scheduler.close()
    return {
        "queued": queued,
        "sbatch_calls": calls.get("sbatch", 0),
        "submit_s": round(submit_s, 2),
        "engine_ms_per_poll": round(statistics.median(engine) * 1000, 1),
        "squeue_ms_per_poll": round(statistics.median(squeue) * 1000, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--chain", type=int, default=20)
    parser.add_argument("--queued", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--poll-min", type=float, default=0.5)
    parser.add_argument("--poll-max", type=float, default=5.0)
    parser.add_argument("--loop-poll", type=float, default=1.0)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="swf-bench-slurm-"))
    try:
        figures = {
            "swf": swf_run(home / "swf", args.jobs, args.poll_min, args.poll_max)
            if (home / "swf").mkdir() is None
            else {},
            "shell_loop": shell_loop(home, args.jobs, args.loop_poll),
        }
        (home / "chain").mkdir()
        figures["chain"] = chain_latency(home / "chain", args.chain, args.poll_min, args.poll_max)
        figures["queued"] = queued_poll(home, args.queued, args.repeats)
        swf, loop = figures["swf"], figures["shell_loop"]
        figures["ratios"] = {
            "loop_wall_over_swf_wall": round(loop["wall_s"] / swf["wall_s"], 2),
            "loop_client_rpcs_over_swf": round(loop["client_rpcs"] / max(1, swf["client_rpcs"]), 1),
            "loop_calls_over_swf_calls": round(
                (loop["sbatch_calls"] + loop["squeue_calls"])
                / max(1, swf["sbatch_calls"] + swf["squeue_calls"]),
                1,
            ),
        }
        json.dump(figures, sys.stdout, indent=1)
        print()
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
