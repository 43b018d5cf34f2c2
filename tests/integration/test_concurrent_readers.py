"""Monitoring readers never disturb the engine (issue 4), with real processes.

While a daemon-mode workflow of thousands of short jobs runs, reader processes poll
``workflow_elements_status`` and ``workflow_status`` every 100 ms, as monitors do. Every
poll must succeed, never see the database locked, never see a job go back (a job counted
DONE stays DONE), and the workflow must finish with every job DONE.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from swf_entry.client import Job, Workflow
from tests.integration.crash_fixtures import SH, Site, crash_root, finish_client, first_line

pytestmark = [pytest.mark.timeout(300), pytest.mark.slow]

JOBS = 2500
READERS = 4
TRUE = shutil.which("true") or "/bin/true"

#: argv: home config workflow_id job_count. Polls every 100 ms until the workflow is done
#: (or 200 s), then prints one JSON summary.
READER_SCRIPT = """
import json, sys, time
from pathlib import Path
from swf_entry.composition import ClientOptions, open_controller
home, config, workflow_id, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
controller = open_controller(ClientOptions(home=Path(home), config_file=Path(config)))
print("ready", flush=True)
summary = {"polls": 0, "errors": [], "regressions": [], "partial_views": 0, "slowest": 0.0}
done_before, finished = set(), False
deadline = time.monotonic() + 200
while not finished and time.monotonic() < deadline:
    started = time.monotonic()
    try:
        jobs = controller.workflow_elements_status(workflow_id)[0]
        status = controller.workflow_status(workflow_id)
    except Exception as error:
        summary["errors"].append(f"{type(error).__name__}: {error}")
    else:
        if len(jobs) != count:
            summary["errors"].append(f"{len(jobs)} jobs instead of {count}")
        done = {entry[0] for entry in jobs if entry[1] == "done"}
        if done_before - done:
            summary["regressions"].append(sorted(done_before - done)[:5])
        if 0 < len(done) < count:
            summary["partial_views"] += 1
        done_before = done
        finished = status == "workflow_done"
    summary["polls"] += 1
    elapsed = time.monotonic() - started
    summary["slowest"] = max(summary["slowest"], elapsed)
    time.sleep(max(0.0, 0.1 - elapsed))
summary["finished"] = finished
controller.disconnect()
print(json.dumps(summary), flush=True)
"""


@pytest.fixture
def root(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    with crash_root(monkeypatch, prefix="swf-cc-") as path:
        yield path


def gated_fan(count: int, gate: Path) -> Workflow:
    """``gate`` -> (count - 2) ``true`` jobs -> join; the first job waits for ``gate``."""
    script = 'while [ ! -e "$1" ]; do sleep 0.02; done'
    wait = Job([SH, "-c", script, "gate", str(gate)], name="gate")
    middle = [Job([TRUE], name=f"t{index}") for index in range(count - 2)]
    join = Job([TRUE], name="join")
    dependencies = [(wait, job) for job in middle] + [(job, join) for job in middle]
    return Workflow([wait, *middle, join], dependencies=dependencies, name="readers")  # type: ignore[arg-type]


def test_reader_processes_polling_every_100_ms_never_fail_nor_block_the_engine(
    root: Path,
) -> None:
    site = Site.create(root, "r")
    gate = site.home / "gate"
    readers: list[subprocess.Popen[str]] = []
    try:
        controller = site.daemon_controller()
        workflow_id = controller.submit_workflow(gated_fan(JOBS, gate))
        arguments = [str(site.home), str(site.config_file), str(workflow_id), str(JOBS)]
        readers = [
            subprocess.Popen(
                [sys.executable, "-c", READER_SCRIPT, *arguments],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(READERS)
        ]
        assert [first_line(reader) for reader in readers] == ["ready"] * READERS
        gate.touch()  # the workflow runs only now, under the readers' eyes

        controller.wait_workflow(workflow_id, timeout=240)

        summaries = []
        for reader in readers:
            assert reader.stdout is not None
            line = reader.stdout.readline()
            stderr = finish_client(reader)
            assert reader.returncode == 0 and line, stderr[-3000:]
            summaries.append(json.loads(line))
        for summary in summaries:
            assert summary["finished"], summary
            assert summary["errors"] == [], summary["errors"][:5]
            assert summary["regressions"] == [], summary["regressions"]
            assert summary["partial_views"] >= 1, summary  # it read while the jobs ran
        assert controller.workflow_status(workflow_id) == "workflow_done"
        statuses = [entry[1] for entry in controller.workflow_elements_status(workflow_id)[0]]
        assert statuses == ["done"] * JOBS
        logs = site.engine_log() + site.host_log()
        assert "database is locked" not in logs
        assert "Traceback" not in logs
        controller.disconnect()
    finally:
        for reader in readers:
            if reader.poll() is None:
                reader.kill()
            finish_client(reader)
        site.close()
