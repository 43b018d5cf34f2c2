"""Grid Engine benchmark: swf through DRMAA against a shell loop of ``qsub`` on the same
cell, in the same run (needs the single-host cell of scripts/services/sge.sh).

1. N independent ``true`` jobs through swf (embedded engine, SCHEDULER_TYPE drmaa):
   DRMAA calls that reach qmaster (runBulkJobs, control, jobStatus), the engine's status
   calls (answered by the agent from its memory: no cluster call), engine CPU per job
   (engine thread + adapter threads in the engine process) and the DRMAA agent's CPU
   (another process: the library's work, as qsub's is for the loop), wall time.
2. The same N jobs as a shell loop: ``qsub -b y true`` per job, then ``qstat -j NAME``
   every POLL seconds until none is left.

    python bench/bench_sge.py [--jobs 1000]
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil

from swf_adapters.schedulers.drmaa import DrmaaScheduler
from swf_entry.client import Job, Workflow, WorkflowController

TRUE = shutil.which("true") or "/bin/true"


def wait_idle_cell(timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = subprocess.run(["qstat", "-u", "*"], capture_output=True, text=True)
        if not out.stdout.strip():
            return
        time.sleep(0.5)
    raise RuntimeError("the cell still runs jobs: bench needs it idle")


def thread_cpu(prefixes: tuple[str, ...], ids: set[int]) -> float:
    by_id = {t.native_id: t.name for t in threading.enumerate()}
    return sum(
        t.user_time + t.system_time
        for t in psutil.Process().threads()
        if t.id in ids or by_id.get(t.id, "").startswith(prefixes)
    )


def swf_run(home: Path, jobs: int) -> dict[str, Any]:
    wait_idle_cell()
    config = home / "swf.cfg"
    config.write_text(
        f"[bench]\nSCHEDULER_TYPE = drmaa\nSUBMITTING_MACHINES = {socket.gethostname()}\n"
        "POLL_INTERVAL_MIN = 0.5\nPOLL_INTERVAL_MAX = 5\nMAX_JOB_IN_QUEUE = 20000\n"
    )
    wfc = WorkflowController(config=str(config), isolated_light_mode=str(home / "state"))
    engine = wfc.link._engine  # type: ignore[attr-defined]
    scheduler: DrmaaScheduler = engine.scheduler
    ids = {engine._thread.native_id}
    workflow = Workflow([Job([TRUE], name=f"t{i}") for i in range(jobs)], name="bench")
    prefixes = ("swf-batch", "swf-drmaa")
    cpu0 = thread_cpu(prefixes, ids)
    t0 = time.perf_counter()
    wf_id = wfc.submit_workflow(workflow)
    wfc.wait_workflow(wf_id)
    wall = time.perf_counter() - t0
    cpu = thread_cpu(prefixes, ids) - cpu0
    agent = scheduler.agent._process
    agent_cpu = sum(psutil.Process(agent.pid).cpu_times()[:2]) if agent else 0.0
    rows = wfc.workflow_elements_status(wf_id)[0]
    assert all(row[1] == "done" for row in rows), [r for r in rows if r[1] != "done"][:3]
    calls = dict(scheduler.agent.calls)
    wfc.disconnect()
    return {
        "jobs": jobs,
        "wall_s": round(wall, 2),
        "runBulkJobs_calls": calls.get("runBulkJobs", 0),
        "control_calls": calls.get("control", 0),
        "engine_status_calls_answered_from_memory": calls.get("status", 0),
        "engine_cpu_ms_per_job": round(cpu * 1000 / jobs, 3),
        "agent_cpu_ms_per_job": round(agent_cpu * 1000 / jobs, 3),
    }


def shell_loop(home: Path, jobs: int, poll: float) -> dict[str, Any]:
    wait_idle_cell()
    name = f"swfloop{time.time_ns() % 10**8}"
    script = home / "loop.sh"
    script.write_text(
        f"""set -e
for i in $(seq 1 {jobs}); do qsub -b y -o /dev/null -j y -N {name} true >/dev/null; done
n=0
while qstat -j {name} >/dev/null 2>&1; do n=$((n+1)); sleep {poll}; done
echo $((n+1))
"""
    )
    t0 = time.perf_counter()
    before = psutil.Process().cpu_times()
    out = subprocess.run(["bash", str(script)], check=True, capture_output=True, text=True)
    after = psutil.Process().cpu_times()
    wall = time.perf_counter() - t0
    children = after.children_user + after.children_system
    children -= before.children_user + before.children_system
    return {
        "jobs": jobs,
        "wall_s": round(wall, 2),
        "qsub_calls": jobs,
        "qstat_calls": int(out.stdout.split()[-1]),
        "commands_cpu_ms_per_job": round(children * 1000 / jobs, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--poll", type=float, default=1.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="swf-bench-sge-") as tmp:
        home = Path(tmp)
        results = {"swf": swf_run(home, args.jobs), "loop": shell_loop(home, args.jobs, args.poll)}
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
