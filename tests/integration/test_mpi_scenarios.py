"""The facade scenarios inside a real MPI allocation (``mpirun -n 3 swf mpi-run``).

The scenarios are the facade suite's own functions, collected again here with a ``site``
whose engine is rank 0 of a running allocation: the test process reaches it as a login
node would (queries read the store, commands are dropped in the control directory), and
the jobs run on the two worker ranks. The allocation is kept up for the whole module by a
keeper workflow (one job waiting for a file); the runner serves every workflow submitted
meanwhile, then ends once the keeper is released and nothing is left.

Not collected: the scenarios about the engine's own life (restarts, disconnects, a
client that exits, class-wide isolated mode, a job that ends while no engine runs: the
runner's resume is tested in test_mpi_runner.py) and the one that counts on the facade
site's CPU_NB slots (the allocation has its own: 2 ranks x 3 cores, one for the keeper).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from swf_entry.client import Helper, Job, Workflow
from tests.integration import test_facade_scenarios as facade
from tests.integration.facade_fixtures import (
    ProcessGuard,
    Site,
    _controller,
    _write_config,
    facade_guard,
    marked_environment,
    wait_until,
    wfc,
)
from tests.integration.facade_recollect import ON_ANY_RESOURCE, scenarios
from tests.integration.mpi_fixtures import MPIRUN, SWF, runner_info

__all__ = ["facade_guard", "site", "wfc"]  # fixtures, imported for pytest

pytestmark = pytest.mark.timeout(180)

# The facade scenarios, run unchanged under MPI.
globals().update(
    scenarios(
        ON_ANY_RESOURCE,
        (
            "test_group_dependencies_through_barrier_hubs",
            "test_two_hundred_jobs_random_dag",
            "test_map_reduce_with_link_functions",
            "test_temporary_paths_are_shared_then_removed_with_the_workflow",
            "test_shared_resource_paths_are_translated_or_fail_their_job",
            "test_restart_while_other_jobs_still_run",
            "test_stopping_a_job_kills_its_children_and_grandchildren",
            "test_job_files_options",
            "test_queries_of_a_finished_workflow",
            "test_a_cycle_is_refused_at_submit_and_nothing_is_stored",
            "test_a_job_outside_the_workflow_is_refused_at_submit",
            "test_a_job_printing_100_mb",
            "test_a_workflow_written_by_helper_serialize_runs_the_same",
            "test_an_invalid_job_is_refused_at_submit_and_nothing_is_stored",
            "test_cross_validation_with_job_and_with_link_functions",
            "test_deleting_a_running_workflow_kills_its_jobs",
            "test_file_transfers_are_used_in_place_on_the_local_resource",
            "test_job_with_outputs_but_no_output_file_fails",
            "test_leave_one_out_with_job_and_with_link_functions",
            "test_map_reduce_with_map_and_reduce_jobs",
            "test_several_threads_share_one_controller",
            "test_unknown_ids_raise_unknown_object_error",
            "test_wait_with_timeout_returns_in_time",
        ),
    )
)


#: e_fanout_1000 runs in test_mpi_runner.py (its own allocation, both ranks checked).
@pytest.mark.parametrize("name", [n for n in facade.FIXTURE_NAMES if n != "e_fanout_1000"])
def test_soma_json_fixture_runs(name: str, site: Site, tmp_path: Path) -> None:
    facade.test_soma_json_fixture_runs(name, site, tmp_path)


def test_the_jobs_ran_on_the_worker_ranks_of_the_allocation(site: Site) -> None:
    """What the scenarios above ran went through rank 0's MPI adapter to ranks 1 and 2."""
    wfc = site.controller
    jobs = [Job(["true"], name=f"j{i}") for i in range(12)]
    wf_id = facade.run(wfc, Workflow(jobs, name="where"))

    ranks = {row[5].split(":")[0] for row in wfc.workflow_elements_status(wf_id)[0]}
    assert ranks <= {"rank1", "rank2"} and ranks, ranks
    info = runner_info(site.home) or {}
    assert info["kind"] == "mpi" and info["ended_at"] is None
    assert [w["rank"] for w in info["details"]["workers"]] == [1, 2]


# -- the site: a running allocation ---------------------------------------------------------


@pytest.fixture(scope="module")
def site(facade_guard: ProcessGuard) -> Iterator[Site]:
    """One allocation (rank 0 the engine, two worker ranks of three cores), shared by the
    module; the controller reaches it through the state directory."""
    with marked_environment(facade_guard):
        home = facade_guard.new_home("mpi")
        config = _write_config(home, home / "shared")
        release = home / "release-keeper"
        process = _start_allocation(home, config, release)
        try:
            assert wait_until(lambda: _serving(home), 60), (home / "mpirun.log").read_text()
            yield Site("daemon", home, config, home / "shared", _controller("daemon", home, config))
        finally:
            _end_allocation(process, release, home)


def _start_allocation(home: Path, config: Path, release: Path) -> subprocess.Popen[bytes]:
    keeper = Job(["sh", "-c", f"while [ ! -f {release} ]; do sleep 0.2; done"], name="keeper")
    keeper_file = home / "keeper.json"
    Helper.serialize(str(keeper_file), Workflow([keeper], name="keeper"))
    command = [
        str(MPIRUN), "-n", "3", str(SWF), "--config", str(config), "--home", str(home),
        "mpi-run", str(keeper_file), "--cores-per-rank", "3", "--worker-timeout", "60",
    ]  # fmt: skip
    with (home / "mpirun.log").open("wb") as log:
        return subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )


def _serving(home: Path) -> bool:
    info = runner_info(home) or {}
    return bool(info.get("details", {}).get("workers")) and info.get("ended_at") is None


def _end_allocation(process: subprocess.Popen[bytes], release: Path, home: Path) -> None:
    """Release the keeper: the runner ends once nothing is left (the scenarios' leftovers
    were stopped by ``wfc``); past a minute, the allocation's process group is ended."""
    release.write_text("")
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        log = (home / "mpirun.log").read_text()
        raise AssertionError(f"the allocation did not end:\n{log}") from None
