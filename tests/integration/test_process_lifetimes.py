"""Processes and directories that must not outlive their purpose (issues 8 and 9).

- ``WorkflowController(isolated_light_mode=True)``'s temporary directory goes with the
  controller: at ``disconnect``, when it is garbage collected, at interpreter exit;
- an engine being stopped starts no job host (and cannot be started again);
- (the job host leaving without its engine is pinned in ``test_local_scheduler.py``).
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from swf_adapters.schedulers.local.launcher import connect_to_host, shutdown_host
from swf_adapters.schedulers.local.layout import StateLayout, live_host
from swf_domain.errors import DRMError, EngineError
from swf_domain.model import Job, Workflow
from swf_entry.client import WorkflowController

SRC = str(Path(__file__).resolve().parents[2] / "src")


@pytest.fixture
def temporary_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Where ``tempfile`` makes directories during the test (to find the isolated one)."""
    root = tmp_path / "tmp"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    yield root
    for made in root.glob("swf-isolated-*"):  # a failed test's leftovers: stop its host
        shutdown_host(StateLayout(made / "jobhost"))


def isolated_dirs(root: Path) -> list[Path]:
    return sorted(root.glob("swf-isolated-*"))


def run_one_job(controller: WorkflowController) -> None:
    workflow_id = controller.submit_workflow(Workflow([Job(["true"], name="t")]))
    controller.wait_workflow(workflow_id)
    assert controller.workflow_status(workflow_id) == "workflow_done"


def test_the_isolated_directory_goes_at_disconnect(temporary_root: Path) -> None:
    controller = WorkflowController(isolated_light_mode=True)
    run_one_job(controller)
    (directory,) = isolated_dirs(temporary_root)
    controller.disconnect()
    assert not directory.exists()
    controller.disconnect()  # twice is harmless


def test_the_isolated_directory_goes_with_the_garbage_collected_controller(
    temporary_root: Path,
) -> None:
    controller = WorkflowController(isolated_light_mode=True)
    run_one_job(controller)
    (directory,) = isolated_dirs(temporary_root)
    del controller
    gc.collect()
    assert not directory.exists()


def test_the_isolated_directory_goes_at_interpreter_exit(tmp_path: Path) -> None:
    script = (
        "from swf_entry.client import Job, Workflow, WorkflowController\n"
        "wfc = WorkflowController(isolated_light_mode=True)\n"
        "wid = wfc.submit_workflow(Workflow([Job(['true'], name='t')]))\n"
        "wfc.wait_workflow(wid)\n"
        "print(wfc.workflow_status(wid), flush=True)\n"
    )
    env = dict(os.environ, TMPDIR=str(tmp_path), PYTHONPATH=SRC)
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "workflow_done"
    assert isolated_dirs(tmp_path) == [], "the isolated directory outlived its process"


def test_a_given_isolated_directory_is_kept(tmp_path: Path) -> None:
    home = tmp_path / "kept"
    controller = WorkflowController(isolated_light_mode=str(home))
    try:
        run_one_job(controller)
    finally:
        controller.disconnect()
        shutdown_host(StateLayout(home / "jobhost"))
    assert (home / "jobhost").exists()


def test_a_scheduler_being_stopped_starts_no_job_host(tmp_path: Path) -> None:
    layout = StateLayout(tmp_path / "jobhost")
    with pytest.raises(DRMError, match="none may be started"):
        connect_to_host(layout, 30.0, 0.5, 5.0, may_launch=lambda: False)
    assert live_host(layout) is None and not layout.pid_file.exists()


def test_a_stopped_engine_cannot_be_started_again(tmp_path: Path) -> None:
    controller = WorkflowController(isolated_light_mode=str(tmp_path / "home"))
    engine = controller.link._engine  # type: ignore[attr-defined]
    controller.disconnect()
    try:
        with pytest.raises((EngineError, RuntimeError)):
            engine.start()
    finally:
        shutdown_host(StateLayout(tmp_path / "home" / "jobhost"))
