"""PBS benchmark on the stand-in server (tests/pbs/: no real PBS server runs here): swf
against a shell loop of ``qsub`` for the same jobs, in the same run, PBS Pro's and
Torque's command forms. What it measures is the calls swf makes to the server and swf's
own CPU; the stand-in's speed says nothing about a real PBS server's.

1. N independent ``true`` jobs through swf (embedded engine, SCHEDULER_TYPE pbspro with
   the stand-in's shims first on the PATH): qsub / qstat / qdel calls (counted by the
   stand-in), polls (status calls per poll = qstat calls / polls), engine CPU per job
   (engine thread + the adapter's control and poller threads), wall time.
2. The same N jobs as a shell loop: ``qsub`` per job, then ``qstat`` every POLL seconds
   until none is left.

    python bench/bench_pbs.py [--jobs 1000] [--flavor pbspro|torque] [--cores 8]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cluster_bench as bench  # the measures all cluster benches share (bench/ is on sys.path)
from tests.pbs.standin import PbsStandIn

from swf_adapters.schedulers.batch import BatchScheduler


def swf_run(
    standin: PbsStandIn, home: Path, jobs: int, poll: tuple[float, float]
) -> dict[str, Any]:
    wfc = bench.controller(home, "pbspro", *poll)
    calls0 = standin.calls()
    scheduler: BatchScheduler
    scheduler, wall, cpu = bench.independent_run(wfc, jobs, ("swf-batch",))
    calls = standin.calls() - calls0
    result = {
        "jobs": jobs,
        "wall_s": round(wall, 2),
        "qsub_calls": calls["qsub"],
        "qstat_calls": calls["qstat"],
        "qdel_calls": calls["qdel"],
        "polls": scheduler.polls,
        "status_calls_per_poll": round(calls["qstat"] / max(1, scheduler.polls), 2),
        "engine_cpu_ms_per_job": round(cpu * 1000 / jobs, 3),
    }
    wfc.disconnect()
    return result


def shell_loop(standin: PbsStandIn, home: Path, jobs: int, poll: float) -> dict[str, Any]:
    script = home / "true.sh"
    script.write_text("#!/bin/sh\ntrue\n")
    status = "qstat -f -F json" if standin.flavor == "pbspro" else "qstat -f -x"
    calls0 = standin.calls()
    polls, wall, _ = bench.shell_loop(
        home / "loop.sh",
        f"""set -e
for i in $(seq 1 {jobs}); do qsub -N loop -j oe -o /dev/null {script} >/dev/null; done
n=1
while {status} | grep -q '"Jobs"\\|>[QR]<'; do
  n=$((n+1)); sleep {poll}
done
echo $n
""",
        standin.environment(),
    )
    calls = standin.calls() - calls0
    return {
        "jobs": jobs,
        "wall_s": round(wall, 2),
        "qsub_calls": calls["qsub"],
        "qstat_calls": calls["qstat"],
        "polls": polls,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--flavor", choices=("pbspro", "torque"), default="pbspro")
    parser.add_argument("--cores", type=int, default=8)
    parser.add_argument("--poll-min", type=float, default=0.5)
    parser.add_argument("--poll-max", type=float, default=5.0)
    parser.add_argument("--loop-poll", type=float, default=1.0)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="swf-bench-pbs-"))
    standin = PbsStandIn(home / "server", args.flavor, cores=args.cores)
    standin.start()
    os.environ["PATH"] = standin.environment()["PATH"]
    try:
        (home / "swf").mkdir()
        swf = swf_run(standin, home / "swf", args.jobs, (args.poll_min, args.poll_max))
        loop = shell_loop(standin, home, args.jobs, args.loop_poll)
        figures: dict[str, Any] = {"flavor": args.flavor, "swf": swf, "shell_loop": loop}
        figures["ratios"] = {
            "loop_wall_over_swf_wall": round(loop["wall_s"] / swf["wall_s"], 2),
            "loop_calls_over_swf_calls": round(
                (loop["qsub_calls"] + loop["qstat_calls"])
                / max(1, swf["qsub_calls"] + swf["qstat_calls"]),
                1,
            ),
        }
        json.dump(figures, sys.stdout, indent=1)
        print()
    finally:
        standin.stop()
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
