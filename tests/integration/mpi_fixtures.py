"""Running ``swf mpi-run`` under a real ``mpirun`` (the MPICH wheel of the test extra).

Every process these tests start carries a marker variable (mpirun hands the environment
to the ranks, the ranks to the jobs), so the guard finds what survives a ``kill -9`` of
an allocation, however deep, and ends it by pid.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import psutil
import pytest

from swf_entry.client import WorkflowController
from swf_entry.composition import ClientOptions, open_controller
from tests.integration.waiting import wait_until as wait_until  # re-exported

BIN = Path(sys.executable).parent
MPIRUN = BIN / "mpirun"
SWF = BIN / "swf"
MARK_VARIABLE = "SWF_MPI_SUITE_MARK"


def mpi_command(
    home: Path,
    workflow_file: Path,
    *options: str,
    ranks: int = 3,
    mpirun_options: Sequence[str] = (),
) -> list[str]:
    if not MPIRUN.exists():
        raise AssertionError(
            f"{MPIRUN} is missing: the test extra installs the MPICH wheel (./scripts/test.sh)"
        )
    return [
        str(MPIRUN),
        *mpirun_options,
        "-n",
        str(ranks),
        str(SWF),
        "--home",
        str(home),
        "mpi-run",
        str(workflow_file),
        *options,
    ]


class MpiGuard:
    """Starts allocations in their own process group and ends whatever they leave."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.mark = str(root)

    def env(self) -> dict[str, str]:
        return {**os.environ, MARK_VARIABLE: self.mark}

    def run(self, command: list[str], timeout: float = 90) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            command,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            start_new_session=True,
        )

    def start(self, command: list[str], log: Path) -> subprocess.Popen[bytes]:
        with log.open("wb") as output:
            return subprocess.Popen(
                command,
                env=self.env(),
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def survivors(self) -> list[psutil.Process]:
        me = os.getpid()
        found = []
        for process in psutil.process_iter():
            with contextlib.suppress(psutil.Error):
                if (
                    process.pid != me
                    and process.status() != psutil.STATUS_ZOMBIE
                    and process.environ().get(MARK_VARIABLE) == self.mark
                ):
                    found.append(process)
        return found

    def end_all(self) -> list[str]:
        found = self.survivors()
        described = []
        for process in found:
            with contextlib.suppress(psutil.Error):
                described.append(f"pid {process.pid}: {' '.join(process.cmdline())[:160]}")
                process.kill()
        psutil.wait_procs(found, timeout=5)
        return described


@pytest.fixture
def mpi(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MpiGuard]:
    """A guard per test; at the end nothing the test started may still run."""
    root = Path(tempfile.mkdtemp(prefix="swf-mpi-", dir="/tmp"))
    guard = MpiGuard(root)
    yield guard
    deadline = time.monotonic() + 10
    while guard.survivors() and time.monotonic() < deadline:
        time.sleep(0.1)
    left = guard.end_all()
    shutil.rmtree(root, ignore_errors=True)
    assert not left, f"processes outlived the test: {left}"


def kill_group(process: subprocess.Popen[bytes]) -> None:
    """``kill -9`` of the whole allocation: mpirun, its proxies and every rank."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def controller(home: Path) -> WorkflowController:
    """The Python API on the store the runner writes (as from a login node)."""
    wfc: WorkflowController = open_controller(ClientOptions(home=home))
    return wfc


def running_controller(home: Path, timeout: float = 60) -> WorkflowController:
    """The Python API on a runner's store, once the runner said it drives ``home``: a
    client that came earlier would start a local engine of its own there."""
    assert wait_until(lambda: runner_info(home) is not None, timeout), f"no runner in {home}"
    return controller(home)


def runner_info(home: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((home / "runner.json").read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def ids_by_name(wfc: WorkflowController, wf_id: int) -> dict[str, int]:
    return {str(job.name): int(job.job_id) for job in wfc.workflow(wf_id).jobs}


def jobs_by_name(wfc: WorkflowController, wf_id: int) -> dict[str, tuple[Any, ...]]:
    """name -> (id, status, queue, exit tuple, dates, drms id) of every job."""
    status = {entry[0]: tuple(entry) for entry in wfc.workflow_elements_status(wf_id)[0]}
    return {name: status[job_id] for name, job_id in ids_by_name(wfc, wf_id).items()}
