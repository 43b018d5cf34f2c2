"""What only PBS has, on the PBS Pro stand-in (tests/pbs/; no real PBS server runs here).
The facade scenarios themselves run on the stand-ins with the other clusters
(test_cluster_scenarios.py, backends ``pbspro-standin`` and ``torque-standin``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from swf_entry.client import Job, Workflow
from tests.integration import test_facade_scenarios as facade
from tests.integration.cluster_backends import PBSPRO
from tests.integration.facade_fixtures import (
    ProcessGuard,
    Site,
    close_site,
    facade_guard,
    marked_environment,
    open_site,
)

__all__ = ["facade_guard", "site"]  # fixtures, imported for pytest

pytestmark = [pytest.mark.pbs, pytest.mark.timeout(180)]


@pytest.fixture(scope="module")
def site(facade_guard: ProcessGuard, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with PBSPRO.activate(tmp_path_factory.mktemp("pbs")), marked_environment(facade_guard):
        opened = open_site(facade_guard, "daemon", extra_config=PBSPRO.resource())
        try:
            yield opened
        finally:
            close_site(opened)


def test_the_soma_fixture_with_a_pbs_native_specification_runs(site: Site, tmp_path: Path) -> None:
    """c_job_options asks ``-l walltime=... -q short``: SLURM and Grid Engine refuse it,
    PBS takes it."""
    facade.test_soma_json_fixture_runs("c_job_options", site, tmp_path)


def test_a_walltime_kill_fails_the_job_with_its_signal(site: Site) -> None:
    wfc = site.controller
    slow = Job(["sleep", "60"], name="slow", native_specification="-l walltime=00:00:01")
    wf_id = facade.run(wfc, Workflow([slow], name="walltime"))
    row = facade.by_name(wfc, wf_id)["slow"]
    assert row[1] == facade.FAILED and row[3][0] == "finished_signal" and row[3][2] == 15
