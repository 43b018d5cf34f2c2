"""Restart a group of failed jobs in a big finished workflow: the engine's cost.

A ``--jobs`` workflow of independent jobs runs on the fake scheduler with the real
SQLite store; the first ``--group`` jobs fail once. Once the workflow is finished (and so
unloaded from the engine), ``restart_jobs`` on that group is timed: the call's wall time
and the engine thread's CPU during it, then until the workflow is done again. ``--tree``
runs another checkout (A/B in one session):

    .venv/bin/python bench/bench_restart.py [--jobs 100000] [--group 1000] [--tree DIR]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def thread_cpu(thread: threading.Thread | None) -> float:
    assert thread is not None and thread.ident is not None
    return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))


def fail_group_once() -> Any:
    """Jobs named ``g_*`` fail the first time they run."""
    from tests.app_fakes import FakeOutcome

    failed: set[str] = set()

    def behaviour(request: Any) -> Any:
        name = request.job_name
        if name.startswith("g_") and name not in failed:
            failed.add(name)
            return FakeOutcome(exit_value=1)
        return FakeOutcome()

    return behaviour


def run(jobs: int, group: int) -> None:
    from tests.app_fakes import EngineHarness

    from swf_adapters.store.sqlalchemy_store import SqlAlchemyStore
    from swf_domain.model import Job, Workflow
    from swf_domain.serialization import workflow_to_dict

    names = [f"g_{i}" if i < group else f"j_{i}" for i in range(jobs)]
    document = workflow_to_dict(Workflow([Job(["echo", name], name=name) for name in names]))
    store = SqlAlchemyStore(f"sqlite:///{tempfile.mkdtemp(prefix='swf-bench-')}/swf.db")
    with EngineHarness(slots=64, behaviour=fail_group_once(), store=store) as harness:
        service = harness.service
        wf_id = service.submit_workflow(document, None, None, None)
        assert service.wait_workflow(wf_id, timeout=1800)
        ids = [row.job_id for row in store.jobs_of(wf_id)[:group]]
        engine = harness.engine._thread
        cpu, start = thread_cpu(engine), time.perf_counter()
        assert service.restart_jobs(wf_id, ids)
        call_s, call_cpu = time.perf_counter() - start, thread_cpu(engine) - cpu
        assert service.wait_workflow(wf_id, timeout=1800)
        total_cpu = thread_cpu(engine) - cpu
    print(
        f"restart_jobs of {group} in {jobs}: call {call_s:.2f} s, engine CPU {call_cpu:.2f} s "
        f"(until done again {total_cpu:.2f} s) load {os.getloadavg()[0]:.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--group", type=int, default=1_000)
    parser.add_argument("--tree", default=ROOT, help="another checkout (A/B)")
    args = parser.parse_args()
    sys.path[:0] = [os.path.join(args.tree, "src"), args.tree]
    run(args.jobs, args.group)


if __name__ == "__main__":
    main()
