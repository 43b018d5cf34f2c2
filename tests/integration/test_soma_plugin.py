"""A soma-workflow-style scheduler plugin (tests/plugins/toy_soma_scheduler.py) drives real
workflows through swf's engine, unchanged, via SomaPluginScheduler."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from swf_adapters.config import load_config
from swf_adapters.schedulers.soma_plugin import SomaPluginScheduler
from swf_app.service import EngineService
from swf_domain.serialization import workflow_to_dict
from swf_entry.client import Job, Workflow, WorkflowController
from swf_entry.composition import build_service
from tests.plugins.toy_soma_scheduler import ToyScheduler

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[tuple[EngineService, ToyScheduler]]:
    config_file = tmp_path / "swf.cfg"
    config_file.write_text("[toy]\nCPU_NB = 2\n")
    config = load_config(config_file, "toy", isolated_dir=tmp_path / "state")
    plugin = ToyScheduler.build_scheduler(config)
    service = build_service(config, scheduler=SomaPluginScheduler(plugin, poll_interval=0.05))
    try:
        yield service, plugin
    finally:
        service.shutdown()
        plugin.clean()


def test_a_workflow_runs_through_a_soma_plugin(
    engine: tuple[EngineService, ToyScheduler], tmp_path: Path
) -> None:
    service, plugin = engine
    a = Job(["sh", "-c", f"echo a > {tmp_path / 'a'}"], name="a")
    b = Job(["sh", "-c", f"cat {tmp_path / 'a'} > {tmp_path / 'b'}"], name="b")
    bad = Job(["sh", "-c", "exit 4"], name="bad")
    after_bad = Job(["true"], name="after_bad")
    refused = Job(["true"], name="refused", native_specification="--refuse-me")
    workflow = Workflow([a, b, bad, after_bad, refused], [(a, b), (bad, after_bad)], name="toy")
    wf_id = service.submit_workflow(workflow_to_dict(workflow), "toy")
    assert service.wait_workflow(wf_id, timeout=60)

    jobs = service.workflow_elements_status(wf_id).jobs
    by_index = {index: job for index, job in enumerate(sorted(jobs, key=lambda j: j.job_id))}
    a_row, b_row, bad_row, after_row, refused_row = (by_index[i] for i in range(5))
    assert (tmp_path / "b").read_text() == "a\n"
    assert a_row.status == "done" and b_row.status == "done"
    assert a_row.scheduler_job_id and a_row.scheduler_job_id.startswith("toy-")
    assert (bad_row.status, bad_row.exit_status, bad_row.exit_value) == (
        "failed",
        "finished_regularly",
        4,
    )
    assert after_row.exit_status == "aborted_before_running"
    assert (refused_row.status, refused_row.exit_status) == ("failed", "aborted")
    assert set(plugin.exit_info_calls.values()) == {1}, "exit info is asked once per job"


def test_stopping_a_workflow_kills_through_the_plugin(
    engine: tuple[EngineService, ToyScheduler], tmp_path: Path
) -> None:
    service, plugin = engine
    long = Job(["sleep", "60"], name="long")
    wf_id = service.submit_workflow(workflow_to_dict(Workflow([long], name="stop")), "stop")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not any(
        job.status == "running" for job in service.workflow_elements_status(wf_id).jobs
    ):
        time.sleep(0.05)
    service.stop_workflow(wf_id)
    assert service.wait_workflow(wf_id, timeout=30)
    (job,) = service.workflow_elements_status(wf_id).jobs
    assert (job.status, job.exit_status) == ("failed", "killed_by_user")
    assert plugin._killed, "kill_job was called"


# -- plugged in as a third-party package would be: an entry point in its metadata --------

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def installed_toy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A distribution ``toy-plugin`` (metadata only) declaring the toy scheduler in the
    ``swf.schedulers`` group, on this process's path and its children's PYTHONPATH."""
    site = tmp_path / "site"
    info = site / "toy_plugin-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[swf.schedulers]\ntoy = tests.plugins.toy_soma_scheduler:ToyScheduler\n"
    )
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(site), str(REPO)]))
    return site


def test_swf_schedulers_lists_an_installed_soma_plugin(installed_toy: Path) -> None:
    shown = subprocess.run(
        [sys.executable, "-m", "swf_entry.cli", "schedulers", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    rows = {row["type"]: row for row in json.loads(shown.stdout)}
    assert {"local_basic", "slurm", "toy"} <= set(rows)
    assert rows["toy"]["runs_here"] is True
    assert "ToyScheduler" in rows["toy"]["description"]


def test_a_plugged_soma_scheduler_runs_workflows_through_the_facade(
    installed_toy: Path, tmp_path: Path
) -> None:
    config = tmp_path / "swf.cfg"
    config.write_text("[toy]\nSCHEDULER_TYPE = toy\n")
    wfc = WorkflowController(
        resource_id="toy", config=str(config), isolated_light_mode=str(tmp_path / "state")
    )
    try:
        a = Job(["sh", "-c", f"echo a > {tmp_path / 'a'}"], name="a")
        b = Job(["sh", "-c", f"cat {tmp_path / 'a'} > {tmp_path / 'b'}"], name="b")
        bad = Job(["sh", "-c", "exit 5"], name="bad")
        wf_id = wfc.submit_workflow(Workflow([a, b, bad], [(a, b)], name="plugged"))
        wfc.wait_workflow(wf_id, timeout=60)
        rows = {row[0]: row for row in wfc.workflow_elements_status(wf_id)[0]}
        ids = {job.name: job.job_id for job in wfc.workflow(wf_id).jobs}
        assert (tmp_path / "b").read_text() == "a\n"
        assert rows[ids["b"]][1] == "done" and str(rows[ids["b"]][5]).startswith("toy-")
        assert rows[ids["bad"]][1] == "failed" and rows[ids["bad"]][3][:2] == (
            "finished_regularly",
            5,
        )
    finally:
        wfc.disconnect()
