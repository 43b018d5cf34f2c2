"""The engine's group commit alone: CPU per ``store.apply`` of a window of job changes.

In a run of short jobs the engine writes one transaction per 100 ms window holding the
jobs that started and ended in it (about 40 for ``true`` jobs on 2 slots), so a 20,000-job
run makes 500-1,600 commits depending on the machine's load, and the fixed cost of each
commit counts as much as the rows. This replays that write pattern on a SQLite file (or
PostgreSQL with ``--url``): ``--commits`` transactions of ``--per-commit`` jobs, each job
written RUNNING then DONE in two consecutive windows, and reports the process CPU per
commit and per job written. ``--tree`` runs another checkout's store (A/B in one session):

    .venv/bin/python bench/bench_commit.py [--tree /work/wt/old] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def replay(url: str, commits: int, per_commit: int) -> float:
    """Process CPU seconds of ``commits`` applies (the workflow insert excluded)."""
    from swf_adapters.store.sqlalchemy_store import SqlAlchemyStore
    from swf_app.ports import JobState, JobUpdate, NewJob, NewWorkflow
    from swf_domain.status import ExitStatus, JobStatus

    count = commits * per_commit
    store = SqlAlchemyStore(url)
    jobs = [NewJob(index, f"t{index}") for index in range(count)]
    ids = store.add_workflow(NewWorkflow("bench", "commit", {"jobs": []}, jobs)).job_ids
    command = ["/usr/bin/true"]

    def running(job_id: int) -> JobUpdate:
        return JobUpdate(job_id, JobState(JobStatus.RUNNING, command=command))

    def done(job_id: int) -> JobUpdate:
        state = JobState(JobStatus.DONE, ExitStatus.FINISHED_REGULARLY, 0, command=command)
        return JobUpdate(job_id, state)

    windows = [ids[start : start + per_commit] for start in range(0, count, per_commit)]
    started = time.process_time()
    previous: Any = []
    for window in windows:
        store.apply([*map(done, previous), *map(running, window)])
        previous = window
    store.apply([*map(done, previous)])
    cpu = time.process_time() - started
    store.close()
    return cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=500)
    parser.add_argument("--per-commit", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--url", help="a database URL (default: a fresh SQLite file)")
    parser.add_argument("--tree", default=ROOT, help="another checkout's store (A/B)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        url = args.url or f"sqlite:///{tempfile.mkdtemp(prefix='swf-bench-')}/swf.db"
        print(replay(url, args.commits, args.per_commit))
        return
    command = [sys.executable, __file__, "--child", "--commits", str(args.commits)]
    command += ["--per-commit", str(args.per_commit), *(["--url", args.url] if args.url else [])]
    env = {**os.environ, "PYTHONPATH": os.path.join(args.tree, "src")}
    for _ in range(args.rounds):
        cpu = float(subprocess.run(command, env=env, capture_output=True, check=True).stdout)
        writes = args.commits + 1
        print(
            f"{args.tree}: {1000 * cpu / writes:.3f} ms CPU per commit, "
            f"{1000 * cpu / (args.commits * args.per_commit):.4f} ms per job "
            f"(load {os.getloadavg()[0]:.1f})"
        )


if __name__ == "__main__":
    main()
