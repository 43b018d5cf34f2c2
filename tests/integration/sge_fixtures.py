"""Fixtures of the tests on the real single-host Grid Engine that scripts/test.sh starts.

When the test command was supposed to start it (``SWF_TEST_SGE`` set), a cell that does not
answer FAILS the tests with the start log; a developer running pytest by hand without a
cell gets them skipped with the command that starts one.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

SERVICE = Path(__file__).resolve().parents[2] / "scripts" / "services" / "sge.sh"
QMASTER_PID = Path("/var/spool/gridengine/qmaster/qmaster.pid")


def sge_answers() -> bool:
    return subprocess.run([str(SERVICE), "status"], check=False, timeout=60).returncode == 0


def require_sge() -> None:
    expected = os.environ.get("SWF_TEST_SGE")
    if sge_answers():
        return
    if expected:
        log_file = os.environ.get("SWF_TEST_SGE_LOG", "")
        log = Path(log_file).read_text() if log_file and Path(log_file).exists() else ""
        pytest.fail(
            f"the test command started Grid Engine ({expected}) but it does not answer:\n{log}"
        )
    pytest.skip(f"no Grid Engine cell here (start one: {SERVICE} start DIR)")


def qdel_tag(tag: str) -> None:
    """Remove every job of an engine (its jobs carry the engine's tag as name)."""
    subprocess.run(["qdel", tag], check=False, capture_output=True)
