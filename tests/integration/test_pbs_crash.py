"""The engine daemon SIGKILLed again and again while 200+ jobs are queued and running on
the PBS Pro stand-in (tests/pbs/): every job runs exactly once, with its real exit value,
including the jobs that ended while no engine ran, and failures still abort their
descendants. The same plan and checks as on the real SLURM (test_slurm_crash.py)."""

from __future__ import annotations

import random
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.crash_fixtures import (
    Site,
    crash_root,
    kill_9,
    outcome_problems,
    running_now,
    wait_until,
)
from tests.integration.test_cluster_crash import wide_plan
from tests.pbs.standin import PbsStandIn

pytestmark = [pytest.mark.slow, pytest.mark.timeout(400)]


@pytest.fixture
def root(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    with crash_root(monkeypatch, prefix="swf-pc-") as path:
        yield path


@pytest.fixture
def standin(root: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PbsStandIn]:
    server = PbsStandIn(root / "pbs", "pbspro", cores=8)
    monkeypatch.setenv("PATH", server.environment()["PATH"])  # the engine daemon's too
    server.start()
    yield server
    server.stop()


def pbs_site(root: Path) -> Site:
    site = Site.create(root, "s")
    site.config_file.write_text(
        "[crash]\nSCHEDULER_TYPE = pbspro\n"
        f"SUBMITTING_MACHINES = {socket.gethostname()}\n"
        "POLL_INTERVAL_MIN = 0.2\nPOLL_INTERVAL_MAX = 1\n"
    )
    return site


def test_engine_killed_again_and_again_with_hundreds_of_pbs_jobs(
    root: Path, standin: PbsStandIn
) -> None:
    rng = random.Random(12)
    site = pbs_site(root)
    plan = wide_plan(site.home, 12)
    assert len(plan.names) >= 200
    downtimes: list[tuple[float, float]] = []
    log: list[str] = []
    try:
        controller = site.daemon_controller()
        workflow_id = controller.submit_workflow(plan.workflow("pbs-crash"))
        for number in range(5):
            wait_until(lambda: len(running_now(plan)) > 5, 30.0)
            time.sleep(rng.uniform(0.2, 1.5))
            pid = site.engine_pid()
            if pid is None or controller.workflow_status(workflow_id) == "workflow_done":
                log.append("workflow done: no more kills")
                break
            running = len(running_now(plan))
            kill_9(pid)
            down = time.time()
            time.sleep(2.5 if number == 0 else rng.uniform(0.1, 2.0))
            downtimes.append((down, time.time()))
            log.append(f"killed engine {pid} while {running} job(s) ran")
            controller.workflow_status(workflow_id)  # the link restarts the engine
        controller.wait_workflow(workflow_id, timeout=300)
        problems, ended_down = outcome_problems(controller, workflow_id, plan, downtimes)
        assert not problems, "\n".join([*log, *problems])
        assert len(downtimes) >= 3, log
        assert ended_down, f"no job ended while the engine was down: {log}"
        controller.disconnect()
    finally:
        site.close()
