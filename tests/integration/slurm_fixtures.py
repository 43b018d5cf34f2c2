"""Fixtures of the tests on the real single-node SLURM that scripts/test.sh starts.

When the test command was supposed to start SLURM (``SWF_TEST_SLURM`` set), a cluster that
does not answer FAILS the tests with the start log; a developer running pytest by hand
without a cluster gets them skipped with the command that starts one.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

SERVICE = Path(__file__).resolve().parents[2] / "scripts" / "services" / "slurm.sh"
SLURMCTLD_PID = Path("/run/slurm/slurmctld.pid")


def require_slurm() -> None:
    expected = os.environ.get("SWF_TEST_SLURM")
    answered = subprocess.run([str(SERVICE), "status"], check=False, timeout=60).returncode == 0
    if answered:
        return
    if expected:
        log_file = os.environ.get("SWF_TEST_SLURM_LOG", "")
        log = Path(log_file).read_text() if log_file and Path(log_file).exists() else ""
        pytest.fail(f"the test command started SLURM ({expected}) but it does not answer:\n{log}")
    pytest.skip(f"no SLURM cluster here (start one: {SERVICE} start DIR)")


@pytest.fixture(scope="session")
def slurm_cluster() -> None:
    """A SLURM cluster answers on this machine (see the module docstring)."""
    require_slurm()
