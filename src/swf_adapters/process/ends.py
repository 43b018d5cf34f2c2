"""A job's start and end as the process runners see and tell them, written once.

The local job host and the MPI worker ranks both start jobs as their own children,
reap them with ``os.wait4`` and tell their engine ``["S", job_id, pid, start]`` when a
job started and ``["E", job_id, pid, exit_status, exit_value, term_signal, usage, start,
end]`` when it ended (soma-workflow's exit statuses and usage string). The job host
writes these records as JSON text lines (its journal and socket), the MPI worker as
lists in a JSON batch: the same record either way, defined here.
"""

from __future__ import annotations

import os
import time
from collections.abc import MutableMapping
from typing import Any, Protocol, TypeVar

from swf_domain.status import ExitStatus

STARTED = "S"
ENDED = "E"

REGULAR = ExitStatus.FINISHED_REGULARLY.value
SIGNALED = ExitStatus.FINISHED_TERM_SIG.value
KILLED = ExitStatus.USER_KILLED.value
UNDETERMINED = ExitStatus.EXIT_UNDETERMINED.value

#: (exit_status, exit_value, term_signal, usage, end) of an ended job.
EndFacts = tuple[str, int | None, int | None, str | None, float]


class Started(Protocol):
    """A job that has a start time (epoch seconds)."""

    start: float


JobT = TypeVar("JobT", bound=Started)


def resource_usage(cpu_seconds: float, max_rss_kb: int, wall_seconds: float) -> str:
    """soma-workflow's ``name=value`` usage string, the same whatever the scheduler.

    ``mem`` is ``ru_maxrss`` from ``wait4``. Linux counts into it the memory of the
    process that started the job (its memory until ``exec``), so a job smaller than the
    job host (about 20 MB) reports the host's size: a floor, exact above it.
    """
    return f"cput={cpu_seconds:.3f} mem={max_rss_kb}kb walltime={wall_seconds:.3f}"


def reap_children(by_pid: MutableMapping[int, JobT]) -> list[tuple[JobT, EndFacts]]:
    """Reap every ended child: exit status and rusage in one ``wait4`` each.

    The jobs found are taken out of ``by_pid``; a child not in it (a job's orphan,
    adopted by a subreaper) is reaped and forgotten.
    """
    ended: list[tuple[JobT, EndFacts]] = []
    while True:
        try:
            pid, status, usage = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            return ended
        if pid == 0:
            return ended
        job = by_pid.pop(pid, None)
        if job is None:
            continue
        end = time.time()
        if os.WIFSIGNALED(status):
            exit_status, value, sig = SIGNALED, None, os.WTERMSIG(status)
        else:
            exit_status, value, sig = REGULAR, os.WEXITSTATUS(status), None
        use = resource_usage(usage.ru_utime + usage.ru_stime, usage.ru_maxrss, end - job.start)
        ended.append((job, (exit_status, value, sig, use, end)))


def start_failure(exit_value: int, start: float) -> EndFacts:
    """The end of a job that could not start (exit value as a shell would give)."""
    end = time.time()
    return (REGULAR, exit_value, None, resource_usage(0.0, 0, end - start), end)


def started_record(job_id: int, pid: int, start: float) -> list[Any]:
    return [STARTED, job_id, pid, start]


def ended_record(job_id: int, pid: int, start: float, facts: EndFacts) -> list[Any]:
    exit_status, value, sig, usage, end = facts
    return [ENDED, job_id, pid, exit_status, value, sig, usage, start, end]


def started_line(job_id: int, pid: int, start: float) -> str:
    """``started_record`` as one JSON text line (f-strings: the job host's hot path)."""
    return f'["S",{job_id},{pid},{start!r}]\n'


def ended_line(job_id: int, pid: int, start: float, facts: EndFacts) -> str:
    """``ended_record`` as one JSON text line (f-strings: the job host's hot path)."""
    exit_status, value, sig, usage, end = facts
    value_text = "null" if value is None else value
    sig_text = "null" if sig is None else sig
    use = "null" if usage is None else f'"{usage}"'
    head = f'["E",{job_id},{pid},"{exit_status}",{value_text},{sig_text},{use},'
    return f"{head}{start!r},{end!r}]\n"


def end_facts(record: list[Any]) -> EndFacts:
    """The facts of an ``ended_record`` read back."""
    return (record[3], record[4], record[5], record[6], record[8])
