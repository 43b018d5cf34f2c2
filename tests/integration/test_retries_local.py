"""Retries through the public facade on the local scheduler (real processes): a job that
fails its first attempt and succeeds its second (a marker file tells them apart)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from swf_adapters.schedulers.local.launcher import shutdown_host
from swf_adapters.schedulers.local.layout import StateLayout
from swf_entry.client import Job, Workflow, WorkflowController

#: Fails (exit 7) when the marker is absent, creating it; succeeds once it exists.
FLAKY = (
    "import os, sys; marker = sys.argv[1]; "
    "ok = os.path.exists(marker); open(marker, 'a').write('run\\n'); "
    "sys.exit(0 if ok else 7)"
)


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path
    shutdown_host(StateLayout(tmp_path / "jobhost"))


def controller(home: Path, extra: str = "") -> WorkflowController:
    config = home / "swf.cfg"
    config.write_text("[retries]\nCPU_NB = 2\n" + extra)
    return WorkflowController(config=str(config), isolated_light_mode=str(home))


def flaky_then_child(home: Path, **job_options: object) -> tuple[Workflow, Path, Path]:
    marker, child_file = home / "flaky.marker", home / "child.txt"
    flaky = Job([sys.executable, "-c", FLAKY, str(marker)], name="flaky", **job_options)  # type: ignore[arg-type]
    child = Job(
        [sys.executable, "-c", f"open({str(child_file)!r}, 'w').write('ran')"], name="child"
    )
    return Workflow([flaky, child], dependencies=[(flaky, child)]), marker, child_file


def test_a_job_failing_once_succeeds_on_its_second_attempt(home: Path) -> None:
    wfc = controller(home)
    try:
        workflow, marker, child_file = flaky_then_child(home, attempts=2)
        wf_id = wfc.submit_workflow(workflow)
        wfc.wait_workflow(wf_id, timeout=60)
        assert wfc.workflow_status(wf_id) == "workflow_done"
        assert marker.read_text() == "run\nrun\n"  # two attempts, not more
        assert child_file.read_text() == "ran"
        statuses = wfc.workflow_elements_status(wf_id)[0]
        assert [entry[1] for entry in statuses] == ["done", "done"]
        assert statuses[0][3] == ("finished_regularly", 0, None, statuses[0][3][3])
    finally:
        wfc.disconnect()


def test_resource_max_attempts_applies_and_without_it_one_attempt(home: Path) -> None:
    wfc = controller(home)
    try:
        workflow, marker, child_file = flaky_then_child(home)
        wf_id = wfc.submit_workflow(workflow)
        wfc.wait_workflow(wf_id, timeout=60)
        assert wfc.workflow_status(wf_id) == "workflow_done"
        assert marker.read_text() == "run\n"  # soma's behaviour: one attempt
        assert [entry[1] for entry in wfc.workflow_elements_status(wf_id)[0]] == [
            "failed",
            "failed",
        ]
        assert not child_file.exists()
    finally:
        wfc.disconnect()
    marker.unlink()
    wfc = controller(home, "MAX_ATTEMPTS = 2\n")
    try:
        workflow, marker, child_file = flaky_then_child(home)
        wf_id = wfc.submit_workflow(workflow)
        wfc.wait_workflow(wf_id, timeout=60)
        assert marker.read_text() == "run\nrun\n"
        assert child_file.read_text() == "ran"
    finally:
        wfc.disconnect()
