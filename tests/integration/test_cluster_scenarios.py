"""The facade scenarios on every real batch cluster of ``CLUSTER_BACKENDS`` (single-node
SLURM, single-host Grid Engine through DRMAA; both started by scripts/test.sh).

The scenarios are the facade suite's own functions, collected again here with a ``site``
whose resource is the cluster: same workflows, same assertions, jobs run as array tasks
through the job wrapper. Only what a cluster has and a laptop has not (a native
specification the cluster refuses, cluster job ids, a silent controller, resources) is
written here, once, with what differs per cluster read from its ``ClusterBackend``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from swf_entry.client import Job, Workflow, WorkflowController
from tests.integration import test_facade_scenarios as facade
from tests.integration.cluster_backends import ClusterBackend, cluster_params
from tests.integration.facade_fixtures import (
    ProcessGuard,
    Site,
    close_site,
    facade_guard,
    marked_environment,
    open_site,
    wfc,
)
from tests.integration.facade_recollect import ON_ANY_RESOURCE, scenarios
from tests.integration.test_retries_local import flaky_then_child

__all__ = ["facade_guard", "site", "wfc"]  # fixtures, imported for pytest

pytestmark = [pytest.mark.timeout(180)]

# The facade scenarios that make sense on a cluster, run unchanged.
globals().update(scenarios(ON_ANY_RESOURCE))


#: c_job_options carries a PBS native specification (``-l walltime=... -q short``), which
#: SLURM and Grid Engine rightly refuse (test_a_refused_native_specification_fails_that_job_only);
#: e_fanout_1000 passes (74 s on 2 cores on SLURM) but the crash loop covers as many jobs faster.
@pytest.mark.parametrize(
    "name", [n for n in facade.FIXTURE_NAMES if n not in ("c_job_options", "e_fanout_1000")]
)
def test_soma_json_fixture_runs(name: str, site: Site, tmp_path: Path) -> None:
    facade.test_soma_json_fixture_runs(name, site, tmp_path)


@pytest.fixture(scope="module", params=cluster_params())
def cluster(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ClusterBackend]:
    """The cluster of this run of the module (fails or skips when it does not answer)."""
    backend: ClusterBackend = request.param
    backend.require()
    with backend.activate(tmp_path_factory.mktemp(backend.name)):
        yield backend


@pytest.fixture(scope="module")
def site(facade_guard: ProcessGuard, cluster: ClusterBackend) -> Iterator[Site]:
    """One engine daemon whose resource is the cluster, shared by the module."""
    with marked_environment(facade_guard):
        opened = open_site(facade_guard, "daemon", extra_config=cluster.resource())
        try:
            yield opened
        finally:
            close_site(opened)


# -- what only a cluster has ------------------------------------------------------------


def test_a_refused_native_specification_fails_that_job_only(
    cluster: ClusterBackend, wfc: WorkflowController, tmp_path: Path
) -> None:
    (greedy_spec, greedy_said), (nowhere_spec, nowhere_said) = cluster.refused
    greedy = Job(["true"], name="greedy", native_specification=greedy_spec)
    nowhere = Job(["true"], name="nowhere", native_specification=nowhere_spec)
    fine = Job(["sh", "-c", f"echo ok > {tmp_path / 'fine'}"], name="fine")
    after = Job(["true"], name="after_greedy")
    workflow = Workflow([greedy, nowhere, fine, after], [(greedy, after)], name="refused")

    wf_id = facade.run(wfc, workflow)

    jobs = facade.by_name(wfc, wf_id)
    ids = facade.ids_by_name(wfc, wf_id)
    assert jobs["fine"][1] == facade.DONE and (tmp_path / "fine").read_text() == "ok\n"
    assert jobs["greedy"][1] == facade.FAILED and jobs["nowhere"][1] == facade.FAILED
    assert jobs["after_greedy"][3][0] == facade.NOT_RUN
    for name, said in (("greedy", greedy_said), ("nowhere", nowhere_said)):
        err = tmp_path / f"{name}.err"
        wfc.retrieve_job_stdouterr(ids[name], str(tmp_path / f"{name}.out"), str(err))
        assert f"{cluster.system_name} refused the job" in err.read_text(), err.read_text()
        assert said in err.read_text()


def _swf(site: Site, *args: str) -> str:
    swf = [sys.executable, "-m", "swf_entry.cli", "--home", str(site.home)]
    argv = [*swf, "--config", str(site.config_file), *args]
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout


def test_cluster_job_ids_are_shown_in_the_clusters_own_form(
    cluster: ClusterBackend, site: Site
) -> None:
    """Three ready jobs of one shape go in one array job (one submission); users see the
    task ids as the cluster writes them (SLURM ``12_0``, Grid Engine ``12.1``)."""
    wfc = site.controller
    jobs = [Job(["true"], name=f"j{i}") for i in range(3)]
    wf_id = facade.run(wfc, Workflow(jobs, name="ids"))

    rows = wfc.workflow_elements_status(wf_id)[0]
    drms_ids = [row[5] for row in rows]
    separator = cluster.task_separator
    assert all(isinstance(i, str) and separator in i for i in drms_ids), rows
    arrays = {drms_id.split(separator)[0] for drms_id in drms_ids}
    assert len(arrays) == 1, "three ready jobs of one shape go in one array job"
    assert all(i.split(separator)[0].isdigit() for i in drms_ids), drms_ids
    listed = json.loads(_swf(site, "status", str(wf_id), "--jobs", "--json"))["jobs"]
    assert {job["scheduler_job_id"] for job in listed} == set(drms_ids)


def test_the_scheduler_is_listed_as_available(cluster: ClusterBackend, site: Site) -> None:
    listed = {row["type"]: row for row in json.loads(_swf(site, "schedulers", "--json"))}
    assert listed[cluster.scheduler_type]["runs_here"] is True, listed


def test_a_silent_controller_is_waited_for_and_said_so(
    cluster: ClusterBackend, site: Site, tmp_path: Path
) -> None:
    """The controller stopped (SIGSTOP) for a while: no job fails for it, `swf engine
    status` says what the engine waits for, and everything finishes once it answers again."""
    from swf_entry.composition import ClientOptions, engine_status

    wfc = site.controller
    first = Job(["sh", "-c", f"sleep 2; echo one > {tmp_path / 'one'}"], name="first")
    second = Job(["sh", "-c", f"echo two > {tmp_path / 'two'}"], name="second")
    wf_id = wfc.submit_workflow(Workflow([first, second], [(first, second)], name="silent"))
    options = ClientOptions(home=site.home, config_file=site.config_file)

    def problem() -> str:
        info = engine_status(options) or {}
        return str((info.get("engine") or {}).get("scheduler_problem") or "")

    with cluster.silenced():
        assert facade.wait_until(lambda: bool(problem()), 90.0, period=1.0)
        assert f"waiting for the {cluster.system_name} controller" in problem()
        statuses = {row[1] for row in wfc.workflow_elements_status(wf_id)[0]}
        assert facade.FAILED not in statuses
    wfc.wait_workflow(wf_id, timeout=120)
    facade.assert_all_done(wfc, wf_id)
    assert (tmp_path / "two").read_text() == "two\n"
    assert facade.wait_until(lambda: not problem(), 30.0, period=0.5)


def test_resources_reach_the_cluster(
    cluster: ClusterBackend, wfc: WorkflowController, tmp_path: Path
) -> None:
    """parallel_job_info -> cpus/slots (SLURM --cpus-per-task; Grid Engine -pe smp with
    nodes x cpus slots), a native specification -> its options, the workflow's queue ->
    the partition/queue: the job sees them in the cluster's variables."""
    probe = cluster.probe
    wide = Job(
        ["sh", "-c", probe.show, str(tmp_path / "wide")],
        name="wide",
        parallel_job_info={
            "config_name": "native",
            "nodes_number": probe.nodes,
            "cpu_per_node": probe.cpus,
        },
        native_specification=probe.native,
    )
    plain = Job(["sh", "-c", probe.show, str(tmp_path / "plain")], name="plain")
    wf_id = wfc.submit_workflow(Workflow([wide, plain], name="resources"), queue=probe.queue)
    wfc.wait_workflow(wf_id, timeout=120)
    facade.assert_all_done(wfc, wf_id)
    assert (tmp_path / "wide").read_text().split() == probe.wide
    assert (tmp_path / "plain").read_text().split()[-len(probe.plain) :] == probe.plain


@pytest.mark.parametrize("kind", ["MPI", "OpenMP"])
def test_a_parallel_kind_gets_what_the_cluster_gives_that_kind(
    cluster: ClusterBackend, wfc: WorkflowController, tmp_path: Path, kind: str
) -> None:
    """parallel_job_info on 1 node x 2 CPUs: on SLURM an MPI job gets 2 tasks (ranks),
    an OpenMP job 1 task of 2 CPUs; on Grid Engine 2 slots of the PE the resource names
    for the kind; on PBS 2 CPUs. PARALLEL_ENV_MPI_BIN reaches parallel jobs only."""
    probe = cluster.parallel
    info = {"config_name": kind, "nodes_number": 1, "cpu_per_node": 2}
    wide = Job(["sh", "-c", probe.show, str(tmp_path / "wide")], parallel_job_info=info)
    plain = Job(["sh", "-c", probe.show, str(tmp_path / "plain")], name="plain")
    wf_id = facade.run(wfc, Workflow([wide, plain], name=f"parallel-{kind}"))
    facade.assert_all_done(wfc, wf_id)
    assert (tmp_path / "wide").read_text().split() == probe.seen[kind]
    assert (tmp_path / "plain").read_text().split() == probe.seen["plain"]


def test_resources_grow_with_each_attempt(
    cluster: ClusterBackend, wfc: WorkflowController, tmp_path: Path
) -> None:
    """``{attempt*100}`` in a native specification: 100 on the first attempt, 200 on
    the retry (a new cluster job), as the job itself sees it."""
    native, variable = cluster.per_attempt
    seen = tmp_path / "seen"
    fails_first = f'echo "{variable}" >> "$0"; [ "$(wc -l < "$0")" -ge 2 ]'
    job = Job(["sh", "-c", fails_first, str(seen)], native_specification=native, attempts=2)
    wf_id = facade.run(wfc, Workflow([job], name="grows"))
    facade.assert_all_done(wfc, wf_id)
    assert seen.read_text().split() == ["100", "200"]


def test_a_job_failing_once_succeeds_on_its_second_attempt_on_the_cluster(
    wfc: WorkflowController, tmp_path: Path
) -> None:
    """Retries on a cluster: the second attempt is a new cluster job; the child runs once
    the retried job is done."""
    workflow, marker, child_file = flaky_then_child(tmp_path, attempts=2)
    wf_id = facade.run(wfc, workflow)

    facade.assert_all_done(wfc, wf_id)
    assert marker.read_text() == "run\nrun\n"  # two attempts, not more
    assert child_file.read_text() == "ran"
    rows = {row[0]: row for row in wfc.workflow_elements_status(wf_id)[0]}
    flaky = rows[facade.ids_by_name(wfc, wf_id)["flaky"]]
    assert flaky[3][:2] == ("finished_regularly", 0)
    assert isinstance(flaky[5], str) and flaky[5], flaky  # the second attempt's cluster id
