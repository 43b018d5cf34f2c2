"""What the cluster benches (bench_slurm.py, bench_sge.py, bench_pbs.py) measure the same
way, written once so that their figures stay comparable: the engine's CPU, the swf run of
N independent jobs, the chain latency, the held-jobs queue and the shell loop baseline.
"""

from __future__ import annotations

import itertools
import shutil
import socket
import statistics
import subprocess
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import psutil

from swf_app.ports import LaunchRequest
from swf_entry.client import Job, Workflow, WorkflowController

TRUE = shutil.which("true") or "/bin/true"


def thread_cpu(prefixes: tuple[str, ...], ids: set[int]) -> float:
    """CPU seconds of this process's threads named with ``prefixes`` or in ``ids``: the
    engine's own cost, without the scheduler commands' (child processes)."""
    by_id = {t.native_id: t.name for t in threading.enumerate()}
    return sum(
        t.user_time + t.system_time
        for t in psutil.Process().threads()
        if t.id in ids or by_id.get(t.id, "").startswith(prefixes)
    )


def children_cpu() -> float:
    """CPU seconds of this process's finished children (sbatch, qsub...)."""
    times = psutil.Process().cpu_times()
    return times.children_user + times.children_system


def controller(
    home: Path, scheduler_type: str, poll_min: float = 0.5, poll_max: float = 5.0
) -> WorkflowController:
    """An embedded-engine controller on ``scheduler_type`` with its state under ``home``."""
    home.mkdir(exist_ok=True)
    config = home / "swf.cfg"
    config.write_text(
        f"[bench]\nSCHEDULER_TYPE = {scheduler_type}\n"
        f"SUBMITTING_MACHINES = {socket.gethostname()}\n"
        f"POLL_INTERVAL_MIN = {poll_min}\nPOLL_INTERVAL_MAX = {poll_max}\n"
        "MAX_JOB_IN_QUEUE = 20000\n"
    )
    return WorkflowController(config=str(config), isolated_light_mode=str(home / "state"))


def independent_run(
    wfc: WorkflowController, jobs: int, prefixes: tuple[str, ...]
) -> tuple[Any, float, float]:
    """Runs ``jobs`` independent ``true`` jobs to the end; returns (the engine's scheduler,
    wall seconds, engine CPU seconds: the engine thread and threads named ``prefixes``)."""
    engine = wfc.link._engine  # type: ignore[attr-defined]
    ids = {engine._thread.native_id}
    workflow = Workflow([Job([TRUE], name=f"t{i}") for i in range(jobs)], name="bench")
    cpu0 = thread_cpu(prefixes, ids)
    t0 = time.perf_counter()
    wf_id = wfc.submit_workflow(workflow)
    wfc.wait_workflow(wf_id)
    wall = time.perf_counter() - t0
    cpu = thread_cpu(prefixes, ids) - cpu0
    rows = wfc.workflow_elements_status(wf_id)[0]
    assert all(row[1] == "done" for row in rows), [r for r in rows if r[1] != "done"][:3]
    return engine.scheduler, wall, cpu


def chain_figures(wfc: WorkflowController, length: int, poll_min: float) -> dict[str, Any]:
    """A chain of ``length`` ``true`` jobs: child submitted after its parent's end."""
    jobs = [Job([TRUE], name=f"c{i}") for i in range(length)]
    deps = list(itertools.pairwise(jobs))
    wf_id = wfc.submit_workflow(Workflow(jobs, deps, name="chain"))  # type: ignore[arg-type]
    wfc.wait_workflow(wf_id)
    rows = sorted(wfc.workflow_elements_status(wf_id)[0])
    assert all(row[1] == "done" for row in rows), rows[:3]
    delays = [
        (child[4][0] - parent[4][2]).total_seconds() for parent, child in itertools.pairwise(rows)
    ]
    wfc.disconnect()
    return {
        "chain": length,
        "median_child_submit_delay_s": round(statistics.median(delays), 3),
        "max_s": round(max(delays), 3),
        "poll_interval_min_s": poll_min,
    }


def submit_held(scheduler: Any, queued: int, hold: str) -> float:
    """Submits ``queued`` jobs held by the native option ``hold`` and waits until the
    scheduler reports them all queued; returns the seconds that took."""
    events: list[Any] = []
    scheduler.start(events.extend)
    requests = [
        LaunchRequest(i, 1, (TRUE,), {}, "/dev/null", None, native_specification=hold)
        for i in range(1, queued + 1)
    ]
    t0 = time.perf_counter()
    scheduler.submit(requests)
    while sum(1 for e in events if e.status.value == "queued_active") < queued:
        time.sleep(0.2)
    return time.perf_counter() - t0


def shell_loop(
    script: Path, text: str, env: Mapping[str, str] | None = None
) -> tuple[int, float, float]:
    """Runs the baseline loop ``text`` as a bash script; returns (its last output word as
    an int: the status calls it made, wall seconds, its commands' CPU seconds)."""
    script.write_text(text)
    cpu0 = children_cpu()
    t0 = time.perf_counter()
    out = subprocess.run(["bash", str(script)], check=True, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    return int(out.stdout.split()[-1]), wall, children_cpu() - cpu0


def wait_idle(command: list[str], what: str, timeout: float) -> None:
    """Waits until ``command`` (squeue, qstat) lists nothing: a bench needs an idle cluster."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = subprocess.run(command, capture_output=True, text=True)
        if not out.stdout.strip():
            return
        time.sleep(0.5)
    raise RuntimeError(f"the {what} still runs jobs: bench needs it idle")
