"""The facade scenarios on the PBS stand-ins (tests/pbs/: PBS Pro's and Torque's command
forms over a fake server that really runs the job scripts): the facade suite's own
functions, collected again with a ``site`` whose resource has ``SCHEDULER_TYPE = pbspro``
and whose PATH starts with the stand-in's ``qsub``/``qstat``/``qdel``. The adapter picks
the dialect from ``qstat --version`` as on a real cluster. No real PBS server runs here.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from swf_entry.client import Job, Workflow
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
from tests.pbs.standin import PbsStandIn

__all__ = ["facade_guard", "site", "wfc"]  # fixtures, imported for pytest

pytestmark = [pytest.mark.timeout(180)]

# The facade scenarios that make sense on a cluster, run unchanged (as on SLURM and SGE).
test_simple_diamond_with_groups_runs_in_dependency_order = (
    facade.test_simple_diamond_with_groups_runs_in_dependency_order
)
test_serial_jobs_never_overlap = facade.test_serial_jobs_never_overlap
test_fan_out_then_fan_in = facade.test_fan_out_then_fan_in
test_barrier_jobs_order_their_neighbours = facade.test_barrier_jobs_order_their_neighbours
test_multiple_sub_workflows_as_groups = facade.test_multiple_sub_workflows_as_groups
test_exception_in_a_job_aborts_its_descendants_only = (
    facade.test_exception_in_a_job_aborts_its_descendants_only
)
test_command_not_found_fails_that_job_only = facade.test_command_not_found_fails_that_job_only
test_environment_precedence = facade.test_environment_precedence
test_dynamic_outputs_feed_a_downstream_command = (
    facade.test_dynamic_outputs_feed_a_downstream_command
)
test_stop_then_restart_runs_only_what_did_not_finish = (
    facade.test_stop_then_restart_runs_only_what_did_not_finish
)
test_restart_after_a_fix_runs_the_failed_job_and_what_it_blocked = (
    facade.test_restart_after_a_fix_runs_the_failed_job_and_what_it_blocked
)
test_stop_jobs_and_restart_jobs = facade.test_stop_jobs_and_restart_jobs
test_arguments_and_environment_reach_the_job_verbatim = (
    facade.test_arguments_and_environment_reach_the_job_verbatim
)


#: c_job_options carries a PBS native specification (``-l walltime=... -q short``): on PBS
#: it runs. e_fanout_1000 is left to the benchmark (bench/bench_pbs.py).
@pytest.mark.parametrize("name", [n for n in facade.FIXTURE_NAMES if n != "e_fanout_1000"])
def test_soma_json_fixture_runs(name: str, site: Site, tmp_path: Path) -> None:
    facade.test_soma_json_fixture_runs(name, site, tmp_path)


@pytest.fixture(scope="module", params=["pbspro", "torque"])
def standin(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PbsStandIn]:
    server = PbsStandIn(tmp_path_factory.mktemp(f"pbs-{request.param}"), request.param)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def site(facade_guard: ProcessGuard, standin: PbsStandIn) -> Iterator[Site]:
    """One engine daemon whose resource is the stand-in cluster, shared by the module."""
    with marked_environment(facade_guard), pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", standin.environment()["PATH"])
        opened = open_site(facade_guard, "daemon", extra_config=PBS_RESOURCE)
        try:
            yield opened
        finally:
            close_site(opened)


#: The site's resource becomes a PBS cluster whose login node is this machine.
PBS_RESOURCE = (
    f"SCHEDULER_TYPE = pbspro\nSUBMITTING_MACHINES = {socket.gethostname()}\n"
    "POLL_INTERVAL_MIN = 0.2\nPOLL_INTERVAL_MAX = 1\n"
)


# -- what only a cluster has ------------------------------------------------------------


def test_a_refused_native_specification_fails_that_job_only(
    site: Site, standin: PbsStandIn, tmp_path: Path
) -> None:
    wfc = site.controller
    greedy = Job(["true"], name="greedy", native_specification="-l mem=999999gb")
    nowhere = Job(["true"], name="nowhere", native_specification=["-q", "no_such_queue"])
    fine = Job(["sh", "-c", f"echo ok > {tmp_path / 'fine'}"], name="fine")
    after = Job(["true"], name="after_greedy")
    workflow = Workflow([greedy, nowhere, fine, after], [(greedy, after)], name="refused")

    wf_id = facade.run(wfc, workflow)

    jobs = facade.by_name(wfc, wf_id)
    ids = facade.ids_by_name(wfc, wf_id)
    assert jobs["fine"][1] == facade.DONE and (tmp_path / "fine").read_text() == "ok\n"
    assert jobs["greedy"][1] == facade.FAILED and jobs["nowhere"][1] == facade.FAILED
    assert jobs["after_greedy"][3][0] == facade.NOT_RUN
    word = "PBS Pro" if standin.flavor == "pbspro" else "Torque"
    for name, said in (("greedy", "resource limits"), ("nowhere", "Unknown queue")):
        err = tmp_path / f"{name}.err"
        wfc.retrieve_job_stdouterr(ids[name], str(tmp_path / f"{name}.out"), str(err))
        assert f"{word} refused the job" in err.read_text() and said in err.read_text()


def test_cluster_job_ids_are_shown_in_pbs_form(site: Site, tmp_path: Path) -> None:
    wfc = site.controller
    jobs = [Job(["true"], name=f"j{i}") for i in range(3)]
    wf_id = facade.run(wfc, Workflow(jobs, name="ids"))

    drms_ids = [row[5] for row in wfc.workflow_elements_status(wf_id)[0]]
    arrays = {drms_id.split("[")[0] for drms_id in drms_ids}
    assert len(arrays) == 1, f"three ready jobs of one shape go in one array job: {drms_ids}"
    assert sorted(d.split("[")[1] for d in drms_ids) == ["0].standin", "1].standin", "2].standin"]
    swf = [sys.executable, "-m", "swf_entry.cli", "--home", str(site.home)]
    shown = subprocess.run(
        [*swf, "--config", str(site.config_file), "status", str(wf_id), "--jobs", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert {job["scheduler_job_id"] for job in json.loads(shown.stdout)["jobs"]} == set(drms_ids)


def test_a_silent_server_is_waited_for_and_said_so(
    site: Site, standin: PbsStandIn, tmp_path: Path
) -> None:
    """Every PBS command stalls for a while: no job fails for it, `swf engine status`
    says what the engine waits for, and everything finishes once it answers again."""
    from swf_entry.composition import ClientOptions, engine_status

    wfc = site.controller
    first = Job(["sh", "-c", f"sleep 2; echo one > {tmp_path / 'one'}"], name="first")
    second = Job(["sh", "-c", f"echo two > {tmp_path / 'two'}"], name="second")
    wf_id = wfc.submit_workflow(Workflow([first, second], [(first, second)], name="silent"))
    options = ClientOptions(home=site.home, config_file=site.config_file)

    def problem() -> str:
        info = engine_status(options) or {}
        return str((info.get("engine") or {}).get("scheduler_problem") or "")

    standin.go_down()
    try:
        assert facade.wait_until(lambda: bool(problem()), 90.0, period=0.5)
        assert "waiting for the" in problem() and "controller" in problem()
        statuses = {row[1] for row in wfc.workflow_elements_status(wf_id)[0]}
        assert facade.FAILED not in statuses
    finally:
        standin.come_up()
    wfc.wait_workflow(wf_id, timeout=120)
    facade.assert_all_done(wfc, wf_id)
    assert (tmp_path / "two").read_text() == "two\n"
    assert facade.wait_until(lambda: not problem(), 30.0, period=0.5)


def test_resources_reach_the_cluster(site: Site, standin: PbsStandIn, tmp_path: Path) -> None:
    """parallel_job_info -> select/ncpus (nodes:ppn on Torque), the workflow's queue ->
    -q: the job sees them in its PBS variables."""
    wfc = site.controller
    cpus = "$NCPUS" if standin.flavor == "pbspro" else "$PBS_NUM_PPN"
    show = f'echo "{cpus} $PBS_QUEUE" > "$0"'
    wide = Job(
        ["sh", "-c", show, str(tmp_path / "wide")],
        name="wide",
        parallel_job_info={"config_name": "MPI", "nodes_number": 1, "cpu_per_node": 4},
    )
    plain = Job(["sh", "-c", show, str(tmp_path / "plain")], name="plain")
    wf_id = wfc.submit_workflow(Workflow([wide, plain], name="resources"), queue="short")
    wfc.wait_workflow(wf_id, timeout=120)
    facade.assert_all_done(wfc, wf_id)
    assert (tmp_path / "wide").read_text().split() == ["4", "short"]
    assert (tmp_path / "plain").read_text().split() == ["1", "short"]


def test_a_walltime_kill_fails_the_job_with_its_signal(site: Site, tmp_path: Path) -> None:
    wfc = site.controller
    slow = Job(["sleep", "60"], name="slow", native_specification="-l walltime=00:00:01")
    wf_id = facade.run(wfc, Workflow([slow], name="walltime"))
    status, exit_info = facade.by_name(wfc, wf_id)["slow"][1], facade.by_name(wfc, wf_id)["slow"][3]
    assert status == facade.FAILED and exit_info[0] == "finished_signal" and exit_info[2] == 15
