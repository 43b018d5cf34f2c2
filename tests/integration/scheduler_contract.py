"""The Scheduler contract's backends: every scheduler adapter must pass the same suite.

``test_scheduler_contract.py`` runs each test once per backend listed in ``BACKENDS``, as
``test_store_contract.py`` does for SQLite and PostgreSQL. A backend gives the suite
fresh adapter instances over one resource (a second instance after ``close`` is what the
next engine builds after a crash) and a directory for the jobs' files; the jobs are
real commands (``true``, ``sh -c 'exit 3'``, ``sleep``, a command that does not exist)
that the fake interprets and the real schedulers run.

To put a new adapter through the contract (SLURM, MPI...):

1. write a ``ContractBackend`` subclass (in your own module, e.g.
   ``tests/integration/slurm_contract.py``): ``new_scheduler`` builds an adapter over
   the shared resource, ``pause``/``resume`` make the resource unresponsive (stop the
   daemon: SIGSTOP slurmctld...) so the suite can check that ``submit``/``kill`` do not
   wait for it, ``close`` cleans up; set ``changes_capacity`` and implement
   ``change_capacity`` if your capacity can change while running (an MPI pilot);
2. add it to ``BACKENDS`` below (one line). If the backend cannot run on a machine,
   make ``unavailable()`` return the reason: the suite then fails with it rather than
   passing silently; scripts/test.sh is expected to install what it needs.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from swf_adapters.schedulers.local import LocalScheduler
from swf_adapters.schedulers.local.launcher import shutdown_host
from swf_adapters.schedulers.local.layout import StateLayout, live_host
from swf_app.ports import (
    Capacity,
    CapacityUnit,
    LaunchRequest,
    Scheduler,
    SchedulerEvent,
    SchedulerReport,
    launch_name,
)
from swf_domain.status import JobStatus
from tests.app_fakes import FakeOutcome, FakeScheduler, VirtualClock

#: What the suite's jobs run (the same argv on every backend).
QUICK = ("true",)
EXIT_3 = ("sh", "-c", "exit 3")
LONG = ("sleep", "120")
MISSING = ("/nonexistent/swf-contract-command",)


class Recorder:
    """An event sink that lets a test wait for the reports it expects."""

    def __init__(self) -> None:
        self.events: list[SchedulerEvent] = []
        self.capacities: list[Capacity] = []
        self._changed = threading.Condition()

    def __call__(self, reports: Sequence[SchedulerReport]) -> None:
        with self._changed:
            for report in reports:
                if isinstance(report, Capacity):
                    self.capacities.append(report)
                else:
                    self.events.append(report)
            self._changed.notify_all()

    def wait_until(self, condition: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not condition():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"timed out waiting for {what}; got {self.events}")
                self._changed.wait(remaining)

    def ends(self, job_id: int) -> list[SchedulerEvent]:
        with self._changed:
            return [e for e in self.events if e.job_id == job_id and _is_end(e)]

    def wait_ends(self, job_ids: Sequence[int], timeout: float) -> dict[int, SchedulerEvent]:
        """The end of each job, once all arrived (fails on a job ending twice)."""
        self.wait_until(
            lambda: all(self._count_ends(job_id) for job_id in job_ids),
            timeout,
            f"the ends of {list(job_ids)}",
        )
        found: dict[int, SchedulerEvent] = {}
        for job_id in job_ids:
            (found[job_id],) = self.ends(job_id)
        return found

    def wait_running(self, job_ids: Sequence[int], timeout: float) -> None:
        def all_running() -> bool:
            started = {e.job_id for e in self.events if e.status is JobStatus.RUNNING}
            return started.issuperset(job_ids)

        self.wait_until(all_running, timeout, f"{list(job_ids)} running")

    def scheduler_ids(self, job_id: int) -> set[str]:
        with self._changed:
            return {
                e.scheduler_job_id
                for e in self.events
                if e.job_id == job_id and e.scheduler_job_id is not None
            }

    def _count_ends(self, job_id: int) -> int:
        return sum(1 for e in self.events if e.job_id == job_id and _is_end(e))


def _is_end(event: SchedulerEvent) -> bool:
    return event.status in (JobStatus.DONE, JobStatus.FAILED)


class ContractBackend:
    """One scheduler technology under the contract (see the module docstring)."""

    name = "abstract"
    #: Whether the adapter's capacity can change while it runs (then ``change_capacity``).
    changes_capacity = False
    #: Seconds the slowest expected end may take on this backend.
    timeout = 30.0

    def __init__(self, root: Path) -> None:
        self.root = root
        self.files = root / "jobs"
        self.files.mkdir(parents=True, exist_ok=True)

    def unavailable(self) -> str | None:
        """Why this backend cannot run here (None: it can)."""
        return None

    def new_scheduler(self) -> Scheduler:
        """A fresh adapter over the backend's resource, not started."""
        raise NotImplementedError

    def pause(self) -> None:
        """Make the resource unresponsive (``submit``/``kill`` must still return)."""

    def resume(self) -> None:
        """Undo ``pause``."""

    def change_capacity(self, scheduler: Scheduler) -> Capacity:
        """Make the resource's capacity change; returns the new capacity."""
        raise NotImplementedError

    def close(self) -> None:
        """Stop whatever the backend started."""

    def request(self, job_id: int, argv: Sequence[str], workflow_id: int = 1) -> LaunchRequest:
        return LaunchRequest(
            job_id=job_id,
            workflow_id=workflow_id,
            argv=tuple(argv),
            env={},
            stdout_file=str(self.files / f"{job_id}.out"),
            stderr_file=str(self.files / f"{job_id}.err"),
            name=launch_name(workflow_id, job_id),
            job_name=f"contract-{job_id}",
        )


class StoppedDaemonBackend(ContractBackend):
    """A backend paused by SIGSTOP of the one process every call waits for (slurmctld,
    sge_qmaster, the local job host), so the suite sees a daemon that hangs, not one
    that refuses; ``close`` resumes it before ``clean_up``, which must not hang."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self._paused: int | None = None

    def daemon_pid(self) -> int:
        """The process to stop."""
        raise NotImplementedError

    def clean_up(self) -> None:
        """Cancel or stop what the backend's jobs left behind."""

    def pause(self) -> None:
        self._paused = self.daemon_pid()
        os.kill(self._paused, signal.SIGSTOP)

    def resume(self) -> None:
        if self._paused is not None:
            os.kill(self._paused, signal.SIGCONT)
            self._paused = None

    def close(self) -> None:
        self.resume()
        self.clean_up()


# -- the fake ---------------------------------------------------------------------------


def _fake_outcome(request: LaunchRequest) -> FakeOutcome:
    """The fake's reading of the suite's commands."""
    argv = request.argv
    outputs = (request.stdout_file, request.stderr_file)
    if request.private_outputs and any(path and os.path.islink(path) for path in outputs):
        return FakeOutcome(exit_value=127)  # a planted symlink is not followed: no start
    if argv == LONG:
        return FakeOutcome(duration=None)
    if argv == EXIT_3:
        return FakeOutcome(exit_value=3)
    if argv == MISSING:
        return FakeOutcome(exit_value=127)
    return FakeOutcome()


class FakeBackend(ContractBackend):
    """The unit tests' FakeScheduler, on a clock that never moves (jobs end at once or
    when killed)."""

    name = "fake"
    changes_capacity = True
    timeout = 5.0

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self._last: FakeScheduler | None = None

    def new_scheduler(self) -> Scheduler:
        if self._last is None:
            self._last = FakeScheduler(VirtualClock(), slots=4, behaviour=_fake_outcome)
        else:
            self._last = self._last.successor()
        return self._last

    def change_capacity(self, scheduler: Scheduler) -> Capacity:
        assert isinstance(scheduler, FakeScheduler)
        capacity = Capacity(CapacityUnit.CPUS, 16, {"big": 8})
        scheduler.change_capacity(capacity)
        return capacity


# -- the local scheduler ----------------------------------------------------------------


class LocalBackend(StoppedDaemonBackend):
    """The local scheduler and its real job host (real processes)."""

    name = "local"

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.layout = StateLayout(root / "jobhost")

    def unavailable(self) -> str | None:
        return None if sys.platform.startswith("linux") else "the job host needs Linux"

    def new_scheduler(self) -> Scheduler:
        return LocalScheduler(self.layout.root, slots=2, idle_timeout=30, kill_grace=0.5)

    def daemon_pid(self) -> int:
        host = live_host(self.layout)
        assert host is not None, "no job host to pause"
        return host.pid

    def clean_up(self) -> None:
        shutdown_host(self.layout)


# Backends in their own modules subclass ContractBackend (defined above) and are imported here.
from tests.integration.mpi_contract import MpiBackend  # noqa: E402
from tests.integration.pbs_contract import PbsProBackend, TorqueBackend  # noqa: E402
from tests.integration.sge_contract import DrmaaBackend  # noqa: E402
from tests.integration.slurm_contract import SlurmBackend, SomaPluginBackend  # noqa: E402

#: Every backend the contract runs on. Add yours here (see the module docstring).
BACKENDS: list[type[ContractBackend]] = [
    FakeBackend,
    LocalBackend,
    MpiBackend,
    SlurmBackend,
    SomaPluginBackend,
    DrmaaBackend,
    PbsProBackend,
    TorqueBackend,
]
