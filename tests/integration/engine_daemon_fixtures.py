"""Helpers for the engine daemon and Pyro transport tests: state dirs, cleanup by pid."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.integration.waiting import wait_until as wait_until  # re-exported

REPO_ROOT = Path(__file__).resolve().parents[2]
FAKE_FACTORY = "tests.integration.pyro_fake_service:build"
_STARTED = re.compile(r"engine starting for .* \(pid (\d+)\)")


def python_path() -> str:
    """PYTHONPATH for daemon and client processes, so they import the fake factory."""
    extra = os.environ.get("PYTHONPATH")
    return str(REPO_ROOT) + (os.pathsep + extra if extra else "")


def started_engine_pids(state_dir: Path) -> list[int]:
    """Every engine that took the lock in ``state_dir``, from its log."""
    try:
        text = (state_dir / "engine.log").read_text(errors="replace")
    except OSError:
        return []
    return [int(match) for match in _STARTED.findall(text)]


def is_engine_process(pid: int, state_dir: Path) -> bool:
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        command = " ".join(process.cmdline())
    except psutil.Error:
        return False
    return "swf_entry.daemon" in command and str(state_dir) in command


def kill_engines(state_dir: Path) -> None:
    """Stop, by pid, every engine this test started in ``state_dir``."""
    pids = [pid for pid in started_engine_pids(state_dir) if is_engine_process(pid, state_dir)]
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    for pid in pids:
        if not wait_until(lambda pid=pid: not is_engine_process(pid, state_dir), 5.0):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@contextlib.contextmanager
def engine_state_dir(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A short private directory in /tmp (Unix socket paths are limited to 107 bytes)."""
    monkeypatch.setenv("PYTHONPATH", python_path())
    for name in ("SWF_FAKE_FAIL", "SWF_FAKE_START_DELAY", "SWF_FAKE_PROTOCOL"):
        monkeypatch.delenv(name, raising=False)
    path = Path(tempfile.mkdtemp(prefix="swf-e-", dir="/tmp"))
    try:
        yield path
    finally:
        kill_engines(path)
        shutil.rmtree(path, ignore_errors=True)
