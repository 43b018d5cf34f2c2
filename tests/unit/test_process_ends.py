"""The start and end records that the local job host and the MPI workers share."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

from swf_adapters.process import ends


class _Job:
    def __init__(self, start: float) -> None:
        self.start = start


def test_a_text_line_is_the_record_it_stands_for() -> None:
    facts = (ends.SIGNALED, None, 9, "cput=0.010 mem=1kb walltime=0.500", 12.5)
    line = ends.ended_line(3, 77, 12.0, facts)
    assert line.endswith("\n")
    assert json.loads(line) == ends.ended_record(3, 77, 12.0, facts)
    assert ends.end_facts(json.loads(line)) == facts
    assert json.loads(ends.started_line(3, 77, 0.1)) == ends.started_record(3, 77, 0.1)


def test_a_start_failure_ends_regularly_with_the_exit_value() -> None:
    status, value, sig, usage, end = ends.start_failure(127, 100.0)
    assert (status, value, sig) == (ends.REGULAR, 127, None)
    assert usage is not None and usage.startswith("cput=0.000 mem=0kb walltime=")
    assert end > 100.0


def test_reaping_tells_exit_values_and_signals_and_takes_the_jobs_out() -> None:
    exits = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    killed = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    os.kill(killed.pid, signal.SIGKILL)
    by_pid = {exits.pid: _Job(1.0), killed.pid: _Job(2.0)}
    jobs = dict(by_pid)
    seen: dict[int, ends.EndFacts] = {}
    while by_pid:
        for job, facts in ends.reap_children(by_pid):
            seen[next(pid for pid, known in jobs.items() if known is job)] = facts
    assert seen[exits.pid][:3] == (ends.REGULAR, 3, None)
    assert seen[killed.pid][:3] == (ends.SIGNALED, None, signal.SIGKILL)
    assert all(str(facts[3]).startswith("cput=") for facts in seen.values())
