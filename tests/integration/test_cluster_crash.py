"""The engine daemon SIGKILLed again and again while 200+ jobs are queued and running on
each real batch cluster of ``CLUSTER_BACKENDS``: every job runs exactly once (marker
files), with its real exit value and resource usage, including the jobs that ended while
no engine ran (learned from their end files, or the re-attached DRMAA session), and
failures still abort their descendants."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.cluster_backends import ClusterBackend, cluster_params
from tests.integration.crash_fixtures import (
    Plan,
    Site,
    crash_root,
    kill_9,
    outcome_problems,
    running_now,
    wait_until,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(400)]

KILLS = 5


@pytest.fixture(params=cluster_params())
def cluster(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ClusterBackend]:
    backend: ClusterBackend = request.param
    backend.require()
    with backend.activate(tmp_path_factory.mktemp(backend.name)):
        yield backend


@pytest.fixture
def root(monkeypatch: pytest.MonkeyPatch, cluster: ClusterBackend) -> Iterator[Path]:
    with crash_root(monkeypatch, prefix=f"swf-{cluster.name}-") as path:
        yield path


def cluster_site(root: Path, cluster: ClusterBackend) -> Site:
    site = Site.create(root, "c")
    site.config_file.write_text("[crash]\n" + cluster.resource())
    return site


def wide_plan(home: Path, seed: int) -> Plan:
    """240 jobs: a root, 3 stages of 79 jobs (each depends on two of the stage before),
    a sink; a few fail (their descendants must never run)."""
    rng = random.Random(seed)
    width, stages = 79, 3
    names = ["root"] + [f"s{s}_{i}" for s in range(stages) for i in range(width)] + ["sink"]
    dependencies = [("root", f"s0_{i}") for i in range(width)]
    dependencies += [
        (f"s{s - 1}_{p}", f"s{s}_{i}")
        for s in range(1, stages)
        for i in range(width)
        for p in sorted({i, (i + 1) % width})
    ]
    dependencies += [(f"s{stages - 1}_{i}", "sink") for i in range(0, width, 10)]
    sleeps = {name: round(rng.uniform(0.2, 2.0), 3) for name in names}
    codes = dict.fromkeys(names, 0)
    for name in rng.sample([n for n in names if n.startswith("s1_")], 2):
        codes[name] = 1 + rng.randrange(100)
    return Plan(home, sleeps, codes, dependencies)


def test_engine_killed_again_and_again_with_hundreds_of_cluster_jobs(
    root: Path, cluster: ClusterBackend
) -> None:
    rng = random.Random(11)
    site = cluster_site(root, cluster)
    plan = wide_plan(site.home, 11)
    assert len(plan.names) >= 200
    downtimes: list[tuple[float, float]] = []
    log: list[str] = []
    try:
        controller = site.daemon_controller()
        workflow_id = controller.submit_workflow(plan.workflow(f"{cluster.name}-crash"))
        for number in range(KILLS):
            wait_until(lambda: len(running_now(plan)) > 5, 30.0)
            time.sleep(rng.uniform(0.2, 1.5))
            pid = site.running_engine_pid(controller)
            if controller.workflow_status(workflow_id) == "workflow_done":
                log.append("workflow done: no more kills")
                break
            running = len(running_now(plan))
            kill_9(pid)
            down = time.time()
            time.sleep(2.5 if number == 0 else rng.uniform(0.1, 2.0))
            downtimes.append((down, time.time()))
            log.append(f"killed engine {pid} while {running} job(s) ran")
            site.running_engine_pid(controller)  # the link restarts the engine
        controller.wait_workflow(workflow_id, timeout=300)
        problems, ended_down = outcome_problems(controller, workflow_id, plan, downtimes)
        assert not problems, "\n".join([*log, *problems])
        assert len(downtimes) >= 3, log
        assert ended_down, f"no job ended while the engine was down: {log}"
        controller.disconnect()
    finally:
        site.close()
