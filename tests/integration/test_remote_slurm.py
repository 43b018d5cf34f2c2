"""Remote on top of a cluster: a client submits over SSH to the remote engine, whose own
SCHEDULER_TYPE is slurm (the single-node SLURM cluster of the tests): the jobs are SLURM
array tasks run as the remote user, the client only has its SSH connection."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from swf_entry.client import Job, Workflow, WorkflowController
from tests.integration import test_facade_scenarios as facade
from tests.integration.facade_fixtures import ProcessGuard, Site, facade_guard
from tests.integration.remote_fixtures import remote_site, tmp_path, wfc
from tests.integration.slurm_fixtures import require_slurm
from tests.integration.ssh_fixtures import require_sshd

__all__ = ["facade_guard", "site", "tmp_path", "wfc"]  # fixtures, imported for pytest

pytestmark = [pytest.mark.slurm, pytest.mark.timeout(180)]

#: The remote side's own options: they travel to the remote engine with the section.
REMOTE_SLURM = "SCHEDULER_TYPE = slurm\nPOLL_INTERVAL_MIN = 0.2\nPOLL_INTERVAL_MAX = 1\n"

# Facade scenarios, unchanged, on the remote SLURM resource.
test_simple_diamond_with_groups_runs_in_dependency_order = (
    facade.test_simple_diamond_with_groups_runs_in_dependency_order
)
test_fan_out_then_fan_in = facade.test_fan_out_then_fan_in
test_exception_in_a_job_aborts_its_descendants_only = (
    facade.test_exception_in_a_job_aborts_its_descendants_only
)
test_stop_then_restart_runs_only_what_did_not_finish = (
    facade.test_stop_then_restart_runs_only_what_did_not_finish
)
test_arguments_and_environment_reach_the_job_verbatim = (
    facade.test_arguments_and_environment_reach_the_job_verbatim
)


@pytest.fixture(scope="module")
def site(facade_guard: ProcessGuard) -> Iterator[Site]:
    """One remote engine (over SSH) whose resource is the SLURM cluster."""
    require_slurm()
    yield from remote_site(facade_guard, REMOTE_SLURM)


def test_jobs_are_slurm_array_tasks_of_the_remote_user(wfc: WorkflowController) -> None:
    jobs = [Job(["sh", "-c", "id -un; echo $SLURM_JOB_ID"], name=f"j{i}") for i in range(3)]
    wf_id = facade.run(wfc, Workflow(jobs, name="remote-slurm"))

    facade.assert_all_done(wfc, wf_id)
    rows = wfc.workflow_elements_status(wf_id)[0]
    cluster_ids = [row[5] for row in rows]
    assert all(re.fullmatch(r"\d+_\d+", str(i)) for i in cluster_ids), cluster_ids
    for row in rows:
        output = wfc.link.read_job_output(row[0], "stdout", 0).data.decode().split()
        assert output[0] == require_sshd().user and output[1].isdigit()
