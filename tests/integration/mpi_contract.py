"""The MPI adapter under the scheduler contract, on a real MPI (the MPICH wheel).

The suite drives adapters inside the test process, so this backend makes the test
process rank 0 of a real MPI world: it spawns two worker ranks with
``MPI.COMM_SELF.Spawn`` (``swf_adapters.schedulers.mpi.spawned``) and each adapter
instance talks to them over the intercommunicator, as ``swf mpi-run``'s rank 0 does over
``COMM_WORLD``. A second adapter over the same workers is what a restarted engine would
build: it adopts their jobs and unacknowledged ends (an inventory at start).

``pause`` stops the worker processes (SIGSTOP); ``change_capacity`` stops one of them
for longer than the adapter's worker timeout, which takes it for dead: the capacity
drops and arrives as a report. The whole allocation's end and resume are covered by
``test_mpi_runner.py`` under ``mpirun``.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from swf_adapters.schedulers.mpi import MpiScheduler
from swf_adapters.schedulers.mpi.adapter import MAX_DEPTH
from swf_app.ports import Capacity, CapacityUnit, Scheduler
from tests.integration.scheduler_contract import ContractBackend

BIN = Path(sys.executable).parent
CORES = 2
WORKER_TIMEOUT = 3.0


class MpiBackend(ContractBackend):
    """Two spawned worker ranks of two cores each; rank 0 is the test process."""

    name = "mpi"
    changes_capacity = True
    timeout = 30.0

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self._inter: Any = None
        self._last: MpiScheduler | None = None
        self._stopped: list[int] = []

    def unavailable(self) -> str | None:
        if not (BIN / "mpiexec").exists():
            return f"no mpiexec beside {sys.executable} (the test extra installs the MPICH wheel)"
        try:
            import mpi4py  # noqa: F401
        except ImportError as error:
            return f"mpi4py cannot be imported: {error}"
        return None

    def _workers(self) -> Any:
        if self._inter is None:
            # MPICH starts a singleton's process manager (mpiexec) from the PATH
            os.environ["PATH"] = f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"
            from mpi4py import MPI

            arguments = ["-m", "swf_adapters.schedulers.mpi.spawned"]
            arguments += ["--cores", str(CORES), "--heartbeat", "0.25", "--kill-grace", "0.5"]
            self._inter = MPI.COMM_SELF.Spawn(sys.executable, args=arguments, maxprocs=2)
        return self._inter

    def new_scheduler(self) -> Scheduler:
        from swf_adapters.schedulers.mpi.channel import MpiChannel

        self._last = MpiScheduler(
            MpiChannel(self._workers()),
            [0, 1],
            worker_timeout=WORKER_TIMEOUT,
            heartbeat=0.25,
            hello_timeout=30,
        )
        return self._last

    def _pids(self) -> list[int]:
        assert self._last is not None, "no adapter started yet"
        return [int(worker["pid"]) for worker in self._last.workers() if worker["pid"]]

    def pause(self) -> None:
        self._signal(self._pids(), signal.SIGSTOP)

    def resume(self) -> None:
        self._signal(list(self._stopped), signal.SIGCONT)

    def _signal(self, pids: list[int], sig: int) -> None:
        for pid in pids:
            os.kill(pid, sig)
        self._stopped = pids if sig == signal.SIGSTOP else []

    def change_capacity(self, scheduler: Scheduler) -> Capacity:
        """Rank 1 falls silent: taken for dead after the worker timeout."""
        assert isinstance(scheduler, MpiScheduler)
        self._signal(self._pids()[1:], signal.SIGSTOP)
        return Capacity(CapacityUnit.CPUS, CORES * MAX_DEPTH)

    def close(self) -> None:
        self.resume()
        late = False
        if self._last is not None:
            self._last.close()
            self._last.dismiss_workers(timeout=10)
            late = any(not worker["alive"] for worker in self._last.workers())
        if self._inter is not None and late:
            from swf_adapters.schedulers.mpi.channel import MpiChannel

            channel = MpiChannel(self._inter)  # a rank taken for dead says goodbye late
            deadline = time.monotonic() + 2
            while time.monotonic() < deadline:
                if any(_is_bye(payload) for _, _, payload in channel.receive()):
                    break
                time.sleep(0.01)
        if self._inter is not None:
            self._inter.Disconnect()
            self._inter = None


def _is_bye(payload: bytes) -> bool:
    from swf_adapters.schedulers.mpi import wire

    try:
        return bool(wire.decode(payload)[-1:] == [[wire.BYE]])
    except (ValueError, TypeError, KeyError):
        return False
