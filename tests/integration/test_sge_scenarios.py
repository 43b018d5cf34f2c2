"""The facade scenarios on a real Grid Engine cell through DRMAA (single host, started by
scripts/test.sh): the facade suite's own functions, collected again with a ``site`` whose
resource has ``SCHEDULER_TYPE = drmaa``. Only what differs on a cluster is written here."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from swf_entry.client import Job, Workflow, WorkflowController
from tests.integration import test_facade_scenarios as facade
from tests.integration.facade_fixtures import (
    ProcessGuard,
    Site,
    close_site,
    facade_guard,
    marked_environment,
    open_site,
    wfc,
)
from tests.integration.sge_fixtures import sge_cell

__all__ = ["facade_guard", "sge_cell", "site", "wfc"]  # fixtures, imported for pytest

pytestmark = [pytest.mark.sge, pytest.mark.timeout(180), pytest.mark.usefixtures("sge_cell")]

test_simple_diamond_with_groups_runs_in_dependency_order = (
    facade.test_simple_diamond_with_groups_runs_in_dependency_order
)
test_fan_out_then_fan_in = facade.test_fan_out_then_fan_in
test_exception_in_a_job_aborts_its_descendants_only = (
    facade.test_exception_in_a_job_aborts_its_descendants_only
)
test_command_not_found_fails_that_job_only = facade.test_command_not_found_fails_that_job_only
test_stop_then_restart_runs_only_what_did_not_finish = (
    facade.test_stop_then_restart_runs_only_what_did_not_finish
)
test_restart_after_a_fix_runs_the_failed_job_and_what_it_blocked = (
    facade.test_restart_after_a_fix_runs_the_failed_job_and_what_it_blocked
)
test_arguments_and_environment_reach_the_job_verbatim = (
    facade.test_arguments_and_environment_reach_the_job_verbatim
)


@pytest.fixture(scope="module")
def site(facade_guard: ProcessGuard) -> Iterator[Site]:
    """One engine daemon whose resource is the Grid Engine cell, shared by the module."""
    with marked_environment(facade_guard):
        opened = open_site(facade_guard, "daemon", extra_config=SGE_RESOURCE)
        try:
            yield opened
        finally:
            close_site(opened)


SGE_RESOURCE = (
    f"SCHEDULER_TYPE = drmaa\nSUBMITTING_MACHINES = {socket.gethostname()}\n"
    "POLL_INTERVAL_MIN = 0.2\nPOLL_INTERVAL_MAX = 1\n"
)


def test_a_refused_native_specification_fails_that_job_only(
    wfc: WorkflowController, tmp_path: Path
) -> None:
    greedy = Job(["true"], name="greedy", native_specification="-l no_such_resource=1")
    bad_queue = Job(["true"], name="nowhere", native_specification=["-q", "no_such_queue"])
    fine = Job(["sh", "-c", f"echo ok > {tmp_path / 'fine'}"], name="fine")
    after = Job(["true"], name="after_greedy")
    workflow = Workflow([greedy, bad_queue, fine, after], [(greedy, after)], name="refused")

    wf_id = facade.run(wfc, workflow)

    jobs = facade.by_name(wfc, wf_id)
    ids = facade.ids_by_name(wfc, wf_id)
    assert jobs["fine"][1] == facade.DONE and (tmp_path / "fine").read_text() == "ok\n"
    assert jobs["greedy"][1] == facade.FAILED and jobs["nowhere"][1] == facade.FAILED
    assert jobs["after_greedy"][3][0] == facade.NOT_RUN
    for name, said in (("greedy", "no_such_resource"), ("nowhere", "no_such_queue")):
        err = tmp_path / f"{name}.err"
        wfc.retrieve_job_stdouterr(ids[name], str(tmp_path / f"{name}.out"), str(err))
        assert "Grid Engine (DRMAA) refused the job" in err.read_text(), err.read_text()
        assert said in err.read_text()


def test_one_bulk_submission_and_cluster_ids(site: Site, tmp_path: Path) -> None:
    wfc = site.controller
    jobs = [Job(["true"], name=f"j{i}") for i in range(3)]
    wf_id = facade.run(wfc, Workflow(jobs, name="ids"))
    drms_ids = [row[5] for row in wfc.workflow_elements_status(wf_id)[0]]
    assert all(isinstance(drms_id, str) and "_" in drms_id for drms_id in drms_ids), drms_ids
    assert len({drms_id.split("_")[0] for drms_id in drms_ids}) == 1, "one runBulkJobs"
    swf = [sys.executable, "-m", "swf_entry.cli", "--home", str(site.home)]
    shown = subprocess.run(
        [*swf, "--config", str(site.config_file), "schedulers"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "libdrmaa" in shown.stdout


def test_resources_reach_the_cluster(wfc: WorkflowController, tmp_path: Path) -> None:
    """parallel_job_info -> -pe smp N, the workflow's queue -> -q, a native specification
    -> its options: the job sees them in its Grid Engine variables."""
    show = 'echo "$NSLOTS $QUEUE $SWF_NATIVE" > "$0"'
    wide = Job(
        ["sh", "-c", show, str(tmp_path / "wide")],
        name="wide",
        parallel_job_info={"config_name": "native", "nodes_number": 1, "cpu_per_node": 2},
        native_specification="-v SWF_NATIVE=yes",
    )
    plain = Job(["sh", "-c", show, str(tmp_path / "plain")], name="plain")
    wf_id = wfc.submit_workflow(Workflow([wide, plain], name="resources"), queue="all.q")
    wfc.wait_workflow(wf_id, timeout=120)
    facade.assert_all_done(wfc, wf_id)
    assert (tmp_path / "wide").read_text().split() == ["2", "all.q", "yes"]
    assert (tmp_path / "plain").read_text().split() == ["1", "all.q"]
