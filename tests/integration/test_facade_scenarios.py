"""soma-workflow's test scenarios through the public facade, on real processes, in both
engine modes (embedded engine thread, detached engine daemon over Pyro5).

Every scenario is written once and runs against each mode (the module-scoped ``site``
fixture is parametrized). Jobs prove what happened by writing files (timestamps, run
counters, pids, outputs); the assertions read those files and the statuses, exit info
and dates the controller reports.
"""

from __future__ import annotations

import io
import itertools
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
import pytest

from swf_adapters.schedulers.local.launcher import shutdown_host
from swf_adapters.schedulers.local.layout import StateLayout
from swf_domain.errors import JobError, WorkflowError
from swf_domain.status import ExitStatus, JobStatus, WorkflowStatus
from swf_entry.client import (
    BarrierJob,
    CrossValidationFoldJob,
    FileTransfer,
    Group,
    Helper,
    Job,
    LeaveOneOutJob,
    MapJob,
    ReduceJob,
    SharedResourcePath,
    TemporaryPath,
    UnknownObjectError,
    Workflow,
    WorkflowController,
)
from swf_entry.daemon import stop_engine
from tests.integration.facade_fixtures import (
    CPU_NB,
    DATA_UUID,
    MARK_VARIABLE,
    TRANSLATION_NAMESPACE,
    ProcessGuard,
    Site,
    facade_guard,
    marked_environment,
    site,
    site_factory,
    wait_until,
    wfc,
)

__all__ = ["facade_guard", "site", "site_factory", "wfc"]  # fixtures, imported for pytest

pytestmark = pytest.mark.timeout(120)

PY = sys.executable
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "soma-json"
DONE = JobStatus.DONE.value
FAILED = JobStatus.FAILED.value
WORKFLOW_DONE = WorkflowStatus.DONE.value
FINISHED = ExitStatus.FINISHED_REGULARLY.value
NOT_RUN = ExitStatus.EXIT_NOTRUN.value
KILLED = ExitStatus.USER_KILLED.value
USAGE = re.compile(r"cput=\S+ mem=\S+ walltime=\S+")

#: Appends "<name> start <ns>" and "<name> end <ns>" lines to the file "$1".
STAMP = 'echo "$0 start $(date +%s%N)" >> "$1"; sleep {pause}; echo "$0 end $(date +%s%N)" >> "$1"'
#: Appends a line to the run counter "$1", then waits until the file "$2" exists.
COUNT_THEN_WAIT = 'echo run >> "$1"; while [ ! -e "$2" ]; do sleep 0.02; done'
COUNT = 'echo run >> "$1"'
#: Dynamic outputs: argv[1:] published as the output parameter "outputs".
PRODUCE = (
    "import json, os, sys\n"
    "json.dump({'outputs': sys.argv[1:]}, open(os.environ['SOMAWF_OUTPUT_PARAMS'], 'w'))"
)
#: Reads its input params file, publishes its "input" parameter upper-cased as "output".
UPPER = (
    "import json, os\n"
    "params = json.load(open(os.environ['SOMAWF_INPUT_PARAMS']))['parameters']\n"
    "json.dump({'output': params['input'].upper()}, open(os.environ['SOMAWF_OUTPUT_PARAMS'], 'w'))"
)
#: Reads its input params file, writes its parameter "show" (a name) as JSON to "result".
RECORD = (
    "import json, os\n"
    "params = json.load(open(os.environ['SOMAWF_INPUT_PARAMS']))['parameters']\n"
    "json.dump(params[params['show']], open(params['result'], 'w'))"
)


# -- helpers -------------------------------------------------------------------------------


def sh(name: str, script: str, *args: Any, **options: Any) -> Job:
    """A ``sh -c`` job; ``$0`` is its name, ``$1``... are ``args``."""
    return Job(["sh", "-c", script, name, *args], name=name, **options)


def py(name: str, code: str, *args: Any, **options: Any) -> Job:
    return Job([PY, "-c", code, *args], name=name, **options)


def stamp(name: str, log: Path, pause: float = 0.05) -> Job:
    return sh(name, STAMP.format(pause=pause), str(log))


def stamps(log: Path) -> dict[str, tuple[int, int]]:
    """name -> (start ns, end ns) from a STAMP log."""
    starts: dict[str, int] = {}
    ends: dict[str, int] = {}
    for line in log.read_text().splitlines():
        name, what, value = line.split()
        (starts if what == "start" else ends)[name] = int(value)
    assert starts.keys() == ends.keys(), log.read_text()
    return {name: (starts[name], ends[name]) for name in starts}


def runs(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def ids_by_name(wfc: WorkflowController, wf_id: int) -> dict[str, int]:
    ids = {}
    for job in wfc.workflow(wf_id).jobs:
        assert job.name is not None and job.job_id is not None
        assert job.name not in ids, f"duplicate job name {job.name!r}"
        ids[job.name] = job.job_id
    return ids


def elements(wfc: WorkflowController, wf_id: int) -> dict[int, tuple[Any, ...]]:
    """job id -> (id, status, queue, exit tuple, dates, drms id)."""
    return {entry[0]: tuple(entry) for entry in wfc.workflow_elements_status(wf_id)[0]}


def by_name(wfc: WorkflowController, wf_id: int) -> dict[str, tuple[Any, ...]]:
    status = elements(wfc, wf_id)
    return {name: status[job_id] for name, job_id in ids_by_name(wfc, wf_id).items()}


def run(wfc: WorkflowController, workflow: Workflow, timeout: float = 60, **options: Any) -> int:
    """Submit ``workflow``, wait for it to end; its id."""
    wf_id = wfc.submit_workflow(workflow, **options)
    wfc.wait_workflow(wf_id, timeout=timeout)
    status = wfc.workflow_status(wf_id)
    assert status == WORKFLOW_DONE, (status, wfc.workflow_elements_status(wf_id))
    return wf_id


def assert_all_done(wfc: WorkflowController, wf_id: int) -> None:
    for name, entry in by_name(wfc, wf_id).items():
        assert entry[1] == DONE, (name, entry)
        assert entry[3][:3] == (FINISHED, 0, None), (name, entry)
    assert Helper.list_failed_jobs(wf_id, wfc, include_aborted_jobs=True) == []


def named(pairs: Iterable[tuple[Any, Any]]) -> list[tuple[str, str]]:
    """(parent, child) job pairs as name pairs."""
    return [(str(parent.name), str(child.name)) for parent, child in pairs]


def assert_ran_after(wfc: WorkflowController, wf_id: int, pairs: Iterable[tuple[str, str]]) -> None:
    """Each child started (execution date) once its parent had ended (ending date)."""
    jobs = by_name(wfc, wf_id)
    for parent, child in pairs:
        ended = jobs[parent][4][2]
        started = jobs[child][4][1]
        assert ended is not None and started is not None, (jobs[parent], jobs[child])
        assert started >= ended, f"{child} started at {started}, before {parent} ended at {ended}"


def assert_stamped_after(log: Path, pairs: Iterable[tuple[str, str]]) -> None:
    times = stamps(log)
    for parent, child in pairs:
        assert times[child][0] >= times[parent][1], f"{child} began before {parent} ended"


def running(wfc: WorkflowController, job_id: int) -> bool:
    return wfc.job_status(job_id) == JobStatus.RUNNING.value


def write_file_job(name: str, text: str, path: Path) -> Job:
    return sh(name, 'printf %s "$1" > "$2"', text, str(path))


# -- chains, fans, groups, barriers ----------------------------------------------------------


def test_simple_diamond_with_groups_runs_in_dependency_order(
    wfc: WorkflowController, tmp_path: Path
) -> None:
    """soma's example_simple: job1 -> (job2, job3) -> job4, with nested groups."""
    log = tmp_path / "stamps"
    job1, job2, job3, job4 = (stamp(f"job{i}", log) for i in range(1, 5))
    group_1 = Group([job2, job3], name="group_1")
    group_2 = Group([job1, group_1], name="group_2")
    deps = [(job1, job2), (job1, job3), (job2, job4), (job3, job4)]
    workflow = Workflow([job1, job2, job3, job4], deps, root_group=[group_2, job4], name="simple")

    wf_id = run(wfc, workflow)

    assert_all_done(wfc, wf_id)
    names = named(deps)
    assert_stamped_after(log, names)
    assert_ran_after(wfc, wf_id, names)
    returned = wfc.workflow(wf_id)
    assert [getattr(e, "name", None) for e in returned.root_group or []] == ["group_2", "job4"]
    for entry in by_name(wfc, wf_id).values():
        assert USAGE.fullmatch(entry[3][3]), entry


def test_serial_jobs_never_overlap(wfc: WorkflowController, tmp_path: Path) -> None:
    """soma's example_serial_jobs: a chain of 6; each job starts after the previous ended."""
    log = tmp_path / "stamps"
    jobs = [stamp(f"s{i}", log, pause=0.1) for i in range(6)]
    deps = list(itertools.pairwise(jobs))

    wf_id = run(wfc, Workflow(jobs, deps, name="serial"))

    assert_all_done(wfc, wf_id)
    times = stamps(log)
    order = sorted(times, key=lambda name: times[name][0])
    assert order == [f"s{i}" for i in range(6)]
    for before, after in itertools.pairwise(order):
        assert times[after][0] >= times[before][1]
    assert_ran_after(wfc, wf_id, named(deps))


def test_fan_out_then_fan_in(wfc: WorkflowController, tmp_path: Path) -> None:
    box = tmp_path / "box"
    box.mkdir()
    root = write_file_job("root", "root", box / "root")
    middles = [
        sh(f"m{i}", '[ -e "$1" ] && echo "$0" > "$2"', str(box / "root"), str(box / f"m{i}"))
        for i in range(5)
    ]
    join = sh("join", 'ls "$1" > "$2"', str(box), str(tmp_path / "seen"))
    deps = [(root, m) for m in middles] + [(m, join) for m in middles]

    wf_id = run(wfc, Workflow([root, *middles, join], deps, name="fan"))

    assert_all_done(wfc, wf_id)
    assert (tmp_path / "seen").read_text().split() == ["m0", "m1", "m2", "m3", "m4", "root"]
    assert_ran_after(wfc, wf_id, [("root", f"m{i}") for i in range(5)])
    assert_ran_after(wfc, wf_id, [(f"m{i}", "join") for i in range(5)])


def test_barrier_jobs_order_their_neighbours(wfc: WorkflowController, tmp_path: Path) -> None:
    """soma's example_barrier: 7 jobs linked through 4 barrier jobs."""
    log = tmp_path / "stamps"
    jobs = [stamp(f"j{i}", log) for i in range(7)]
    bars = [BarrierJob(name=f"barrier{i}") for i in range(4)]
    deps = [
        (jobs[0], bars[0]),
        (jobs[1], bars[0]),
        (bars[0], bars[1]),
        (bars[0], bars[2]),
        (bars[1], jobs[2]),
        (bars[1], jobs[3]),
        (bars[2], jobs[4]),
        (bars[2], jobs[5]),
        (jobs[2], bars[3]),
        (jobs[3], bars[3]),
        (jobs[4], bars[3]),
        (jobs[5], bars[3]),
        (bars[3], jobs[6]),
    ]

    wf_id = run(wfc, Workflow(jobs + bars, deps, name="barrier"))

    statuses = by_name(wfc, wf_id)
    for name, entry in statuses.items():
        assert entry[1] == DONE, (name, entry)
        assert entry[3][:2] == (FINISHED, 0), (name, entry)
    first, middle = ["j0", "j1"], ["j2", "j3", "j4", "j5"]
    assert_stamped_after(log, [(a, b) for a in first for b in middle])
    assert_stamped_after(log, [(b, "j6") for b in middle])
    assert_ran_after(wfc, wf_id, [(a, b) for a in first for b in middle])
    assert_ran_after(wfc, wf_id, [(b, "j6") for b in middle])


def _example_simple(prefix: str, failing: str | None = None) -> Workflow:
    """soma's example_simple (diamond job1 -> job2, job3 -> job4), job ``failing`` raising."""
    jobs = {}
    for i in range(1, 5):
        name = f"{prefix}job{i}"
        if f"job{i}" == failing:
            jobs[i] = py(name, "raise Exception('Paf Boum Boum Bada Boum !!!')")
        else:
            jobs[i] = sh(name, 'echo "$0"')
    deps = [(jobs[1], jobs[2]), (jobs[1], jobs[3]), (jobs[2], jobs[4]), (jobs[3], jobs[4])]
    group_1 = Group([jobs[2], jobs[3]], name=f"{prefix}group_1")
    group_2 = Group([jobs[1], group_1], name=f"{prefix}group_2")
    return Workflow(list(jobs.values()), deps, root_group=[group_2, jobs[4]])


def test_multiple_sub_workflows_as_groups(wfc: WorkflowController) -> None:
    """soma's example_multiple: simple + exception in job1 + exception in job3, each merged
    as a group with add_workflow: 2 failed jobs, 6 with the aborted ones."""
    main = Workflow([], name="multiple")
    groups = [
        main.add_workflow(_example_simple("a_"), as_group="simple example"),
        main.add_workflow(_example_simple("b_", "job1"), as_group="exception in job1"),
        main.add_workflow(_example_simple("c_", "job3"), as_group="exception in job3"),
    ]
    assert all(isinstance(group, Group) for group in groups)

    wf_id = run(wfc, main)

    ids = ids_by_name(wfc, wf_id)
    failed = Helper.list_failed_jobs(wf_id, wfc)
    assert sorted(failed) == sorted([ids["b_job1"], ids["c_job3"]])
    with_aborted = Helper.list_failed_jobs(wf_id, wfc, include_aborted_jobs=True)
    aborted = ["b_job2", "b_job3", "b_job4", "c_job4"]
    assert sorted(with_aborted) == sorted([*failed, *(ids[name] for name in aborted)])
    jobs = by_name(wfc, wf_id)
    for name in ("a_job1", "a_job2", "a_job3", "a_job4", "c_job1", "c_job2"):
        assert jobs[name][1] == DONE, jobs[name]
    for name in ("b_job1", "c_job3"):
        assert jobs[name][1] == FAILED and jobs[name][3][:3] == (FINISHED, 1, None)
    for name in aborted:
        assert jobs[name][1] == FAILED and jobs[name][3] == (NOT_RUN, None, None, None)
    returned = wfc.workflow(wf_id)
    assert [g.name for g in returned.root_group or [] if isinstance(g, Group)] == [
        "simple example",
        "exception in job1",
        "exception in job3",
    ]


def test_group_dependencies_through_barrier_hubs(wfc: WorkflowController, tmp_path: Path) -> None:
    """first -> second (groups added with add_workflow) -> last: every job of a group
    starts after every job of the group before it has ended."""
    log = tmp_path / "stamps"
    first = Workflow([stamp("f0", log), stamp("f1", log)])
    second = Workflow([stamp("s0", log), stamp("s1", log)])
    main = Workflow([], name="groups")
    first_group = main.add_workflow(first, as_group="first")
    second_group = main.add_workflow(second, as_group="second")
    last = stamp("last", log)
    main.jobs.append(last)
    assert first_group is not None and second_group is not None
    main.add_dependencies([(first_group, second_group), (second_group, last)])

    wf_id = run(wfc, main)

    assert_all_done(wfc, wf_id)
    names = ids_by_name(wfc, wf_id)
    assert {"first_output", "second_input", "second_output"} <= names.keys()
    pairs = [(a, b) for a in ("f0", "f1") for b in ("s0", "s1")]
    pairs += [("s0", "last"), ("s1", "last")]
    assert_stamped_after(log, pairs)
    assert_ran_after(wfc, wf_id, pairs)


def test_two_hundred_jobs_random_dag(wfc: WorkflowController) -> None:
    """200 jobs, random dependencies (seeded): every job started after all its parents ended."""
    rng = random.Random(20240611)
    jobs = [Job(["true"], name=f"n{i}") for i in range(200)]
    deps = []
    for index in range(1, 200):
        for parent in rng.sample(range(max(0, index - 30), index), k=min(index, rng.randint(0, 3))):
            deps.append((jobs[parent], jobs[index]))
    assert len(deps) > 200

    wf_id = run(wfc, Workflow(jobs, deps, name="dag200"))

    assert_all_done(wfc, wf_id)
    assert_ran_after(wfc, wf_id, named(deps))


# -- failures ------------------------------------------------------------------------------


def test_exception_in_a_job_aborts_its_descendants_only(
    wfc: WorkflowController, tmp_path: Path
) -> None:
    """soma's example_simple_exception1 plus an independent branch."""
    workflow = _example_simple("", "job1")
    independent = sh("independent", 'echo ok > "$1"', str(tmp_path / "independent"))
    workflow.jobs.append(independent)
    assert workflow.root_group is not None
    workflow.root_group.append(independent)

    wf_id = run(wfc, workflow)

    ids = ids_by_name(wfc, wf_id)
    jobs = by_name(wfc, wf_id)
    assert jobs["job1"][1] == FAILED
    assert jobs["job1"][3][:3] == (FINISHED, 1, None)
    assert isinstance(jobs["job1"][3][3], str) and USAGE.fullmatch(jobs["job1"][3][3])
    for name in ("job2", "job3", "job4"):
        assert jobs[name][1] == FAILED and jobs[name][3] == (NOT_RUN, None, None, None)
        assert jobs[name][4][1] is None  # never started
    assert jobs["independent"][1] == DONE
    assert (tmp_path / "independent").read_text() == "ok\n"
    assert Helper.list_failed_jobs(wf_id, wfc) == [ids["job1"]]
    assert sorted(Helper.list_failed_jobs(wf_id, wfc, include_aborted_jobs=True)) == sorted(
        ids[name] for name in ("job1", "job2", "job3", "job4")
    )
    stdout, stderr = tmp_path / "out", tmp_path / "err"
    wfc.retrieve_job_stdouterr(ids["job1"], str(stdout), str(stderr))
    assert stderr.read_text().splitlines()[-1] == "Exception: Paf Boum Boum Bada Boum !!!"
    assert stdout.read_text() == ""


def test_command_not_found_fails_that_job_only(wfc: WorkflowController, tmp_path: Path) -> None:
    missing = Job(["swf_no_such_command_42", "arg"], name="missing")
    below = sh("below", 'echo ran > "$1"', str(tmp_path / "below"))
    other = sh("other", 'echo ok > "$1"', str(tmp_path / "other"))

    wf_id = run(wfc, Workflow([missing, below, other], [(missing, below)]))

    ids = ids_by_name(wfc, wf_id)
    jobs = by_name(wfc, wf_id)
    assert jobs["missing"][1] == FAILED
    assert jobs["missing"][3][0] == FINISHED and jobs["missing"][3][1] != 0
    assert jobs["below"][1] == FAILED and jobs["below"][3][0] == NOT_RUN
    assert not (tmp_path / "below").exists()
    assert jobs["other"][1] == DONE and (tmp_path / "other").read_text() == "ok\n"
    stderr = tmp_path / "err"
    wfc.retrieve_job_stdouterr(ids["missing"], str(tmp_path / "out"), str(stderr))
    assert "swf_no_such_command_42" in stderr.read_text()
    assert Helper.list_failed_jobs(wf_id, wfc) == [ids["missing"]]
    log = io.StringIO()
    wfc.log_failed_workflow(wf_id, log)
    assert f"job {ids['missing']}" in log.getvalue()
    assert "swf_no_such_command_42" in log.getvalue()


# -- environment and parameters --------------------------------------------------------------

ENV_NAMES = ("JOB_ENV1", "WF_ENV1", "WF_ENV2", MARK_VARIABLE)
SHOW_ENV = (
    "import json, os, sys\n"
    f"json.dump({{k: os.environ.get(k) for k in {ENV_NAMES!r}}}, open(sys.argv[1], 'w'))"
)
ENV_BUILDER = (
    "import json\nprint(json.dumps({'JOB_ENV1': 'ciseaux', 'WF_ENV2': 'caillou', "
    "'WF_ENV1': 'feuille'}))"
)


def test_an_openmp_job_gets_its_cpus_as_threads_unless_its_env_says_otherwise(
    wfc: WorkflowController, tmp_path: Path
) -> None:
    """OMP_NUM_THREADS is an OpenMP job's cpu_per_node on every resource (its threads
    default to every CPU of the node otherwise); the job's or workflow's env wins. Other
    jobs get none from swf (a cluster may set its own: see the clusters' probes)."""
    info = {"config_name": "OpenMP", "nodes_number": 1, "cpu_per_node": 2}
    show = 'echo "${OMP_NUM_THREADS:-none}" > "$1"'
    given = sh("given", show, str(tmp_path / "given"), parallel_job_info=info)
    own = sh(
        "own", show, str(tmp_path / "own"), parallel_job_info=info, env={"OMP_NUM_THREADS": "1"}
    )
    mpi = sh("mpi", show, str(tmp_path / "mpi"), parallel_job_info={**info, "config_name": "MPI"})
    plain = sh("plain", show, str(tmp_path / "plain"))
    assert_all_done(wfc, run(wfc, Workflow([given, own, mpi, plain])))
    seen = {name: (tmp_path / name).read_text().split() for name in ("given", "own", "mpi")}
    assert seen["given"] == ["2"] and seen["own"] == ["1"]
    ambient = [os.environ.get("OMP_NUM_THREADS", "none")]
    if (tmp_path / "plain").read_text().split() == ambient:  # not PBS Pro: it sets ncpus
        assert seen["mpi"] == ambient, "only OpenMP jobs get it from swf"


def test_environment_precedence(
    wfc: WorkflowController, tmp_path: Path, facade_guard: ProcessGuard
) -> None:
    """soma's test_workflow_env: env_builder_code < workflow env < job env, all on top of
    the environment the engine got from the user (a variable of this process included)."""
    assert os.environ[MARK_VARIABLE] == facade_guard.mark
    results: dict[str, dict[str, Path]] = {}
    workflows = []
    for variant in ("without_env", "with_env"):
        out = {name: tmp_path / f"{variant}_{name}.json" for name in ("job1", "job2")}
        results[variant] = out
        job1 = py("job1", SHOW_ENV, str(out["job1"]), env={"JOB_ENV1": "bidule"})
        job2 = py("job2", SHOW_ENV, str(out["job2"]))
        if variant == "with_env":
            workflows.append(
                Workflow([job1, job2], env={"WF_ENV1": "truc"}, env_builder_code=ENV_BUILDER)
            )
        else:
            workflows.append(Workflow([job1, job2]))

    for workflow in workflows:
        assert_all_done(wfc, run(wfc, workflow))

    mark = facade_guard.mark

    def seen(variant: str, job: str) -> dict[str, str | None]:
        loaded: dict[str, str | None] = json.loads(results[variant][job].read_text())
        return loaded

    assert seen("without_env", "job1") == {
        "JOB_ENV1": "bidule",
        "WF_ENV1": None,
        "WF_ENV2": None,
        MARK_VARIABLE: mark,
    }
    assert seen("without_env", "job2") == {
        "JOB_ENV1": None,
        "WF_ENV1": None,
        "WF_ENV2": None,
        MARK_VARIABLE: mark,
    }
    assert seen("with_env", "job1") == {
        "JOB_ENV1": "bidule",
        "WF_ENV1": "truc",
        "WF_ENV2": "caillou",
        MARK_VARIABLE: mark,
    }
    assert seen("with_env", "job2") == {
        "JOB_ENV1": "ciseaux",
        "WF_ENV1": "truc",
        "WF_ENV2": "caillou",
        MARK_VARIABLE: mark,
    }


def test_dynamic_outputs_feed_a_downstream_command(wfc: WorkflowController, tmp_path: Path) -> None:
    producer = py(
        "producer",
        "import json, os\n"
        "json.dump({'x': 'hello world', 'n': 3}, open(os.environ['SOMAWF_OUTPUT_PARAMS'], 'w'))",
        has_outputs=True,
    )
    consumer = py(
        "consumer",
        "import sys; open(sys.argv[1], 'w').write(sys.argv[2] + '|' + sys.argv[3])",
        str(tmp_path / "consumed"),
        "%(x)s",
        "%(n)s",
        param_dict={"x": "unset", "n": 0},
    )
    links = {consumer: {"x": [(producer, "x")], "n": [(producer, "n")]}}
    workflow = Workflow([producer, consumer], param_links=links, name="outputs")
    assert workflow.dependencies == [(producer, consumer)]  # implied by the link

    wf_id = run(wfc, workflow)

    assert_all_done(wfc, wf_id)
    assert (tmp_path / "consumed").read_text() == "hello world|3"
    ids = ids_by_name(wfc, wf_id)
    assert wfc.get_job_output_params(ids["producer"]) == {"x": "hello world", "n": 3}
    assert wfc.get_job_output_params(ids["consumer"]) is None
    assert_ran_after(wfc, wf_id, [("producer", "consumer")])


def test_job_with_outputs_but_no_output_file_fails(wfc: WorkflowController) -> None:
    silent = Job(["true"], name="silent", has_outputs=True)
    after = Job(["true"], name="after", param_dict={"x": ""})
    links = {after: {"x": [(silent, "x")]}}

    wf_id = run(wfc, Workflow([silent, after], param_links=links))

    jobs = by_name(wfc, wf_id)
    assert jobs["silent"][1] == FAILED
    assert jobs["after"][1] == FAILED and jobs["after"][3][0] == NOT_RUN


def _list_producer(items: list[str]) -> Job:
    return py("producer", PRODUCE, *items, has_outputs=True)


def _upper(name: str) -> Job:
    return py(
        name,
        UPPER,
        param_dict={"input": "nothing"},
        has_outputs=True,
        use_input_params_file=True,
    )


def _recorder(name: str, show: str, result: Path, initial: Any) -> Job:
    return py(
        name,
        RECORD,
        param_dict={show: initial, "show": show, "result": str(result)},
        use_input_params_file=True,
    )


def _recorded(path: Path) -> Any:
    return json.loads(path.read_text())


def test_map_reduce_with_link_functions(wfc: WorkflowController, tmp_path: Path) -> None:
    """soma's example_dynamic_outputs_with_mapreduce."""
    producer = _list_producer(["alpha", "beta"])
    job2_0, job2_1 = _upper("job2_0"), _upper("job2_1")
    reducer = _recorder("reduce", "inputs", tmp_path / "reduced", [])
    links = {
        job2_0: {"input": [(producer, "outputs", ("list_to_sequence", 0))]},
        job2_1: {"input": [(producer, "outputs", ("list_to_sequence", 1))]},
        reducer: {
            "inputs": [
                (job2_0, "output", ("sequence_to_list", 0)),
                (job2_1, "output", ("sequence_to_list", 1)),
            ]
        },
    }
    group = Group([job2_0, job2_1], name="group_1")
    workflow = Workflow(
        [producer, job2_0, job2_1, reducer],
        root_group=[producer, group, reducer],
        param_links=links,
    )

    wf_id = run(wfc, workflow)

    assert_all_done(wfc, wf_id)
    assert _recorded(tmp_path / "reduced") == ["ALPHA", "BETA"]
    ids = ids_by_name(wfc, wf_id)
    assert wfc.get_job_output_params(ids["job2_1"]) == {"output": "BETA"}


def test_map_reduce_with_map_and_reduce_jobs(wfc: WorkflowController, tmp_path: Path) -> None:
    """soma's example_dynamic_outputs_with_mapreduce_jobs (outputs checked against
    soma-workflow 6.0.13's MapJob/ReduceJob)."""
    producer = _list_producer(["alpha", "beta"])
    job2_0, job2_1 = _upper("job2_0"), _upper("job2_1")
    final = _recorder("final", "inputs", tmp_path / "reduced", [])
    map_job = MapJob(name="map")
    reduce_job = ReduceJob()
    links = {
        map_job: {"inputs": [(producer, "outputs")]},
        job2_0: {"input": [(map_job, "output_0")]},
        job2_1: {"input": [(map_job, "output_1")]},
        reduce_job: {
            "input_0": [(job2_0, "output")],
            "input_1": [(job2_1, "output")],
            "lengths": [(map_job, "lengths")],
        },
        final: {"inputs": [(reduce_job, "outputs")]},
    }
    workflow = Workflow(
        [producer, job2_0, job2_1, final, map_job, reduce_job],
        root_group=[producer, map_job, Group([job2_0, job2_1], name="group_1"), reduce_job, final],
        param_links=links,
    )

    wf_id = run(wfc, workflow)

    jobs = by_name(wfc, wf_id)
    assert all(entry[1] == DONE for entry in jobs.values()), jobs
    assert _recorded(tmp_path / "reduced") == ["ALPHA", "BETA"]
    ids = ids_by_name(wfc, wf_id)
    kinds = {job.name: type(job) for job in wfc.workflow(wf_id).jobs}
    assert kinds["map"] is MapJob and kinds["reduce"] is ReduceJob and kinds["final"] is Job
    assert wfc.get_job_output_params(ids["map"]) == {
        "output_0": "alpha",
        "output_1": "beta",
        "lengths": [2],
    }
    assert wfc.get_job_output_params(ids["reduce"]) == {
        "input_0": "ALPHA",
        "input_1": "BETA",
        "outputs": ["ALPHA", "BETA"],
    }
    assert_ran_after(wfc, wf_id, [("producer", "map"), ("job2_1", "reduce"), ("reduce", "final")])


ITEMS = ["i0", "i1", "i2", "i3", "i4", "i5"]


def test_leave_one_out_with_job_and_with_link_functions(
    wfc: WorkflowController, tmp_path: Path
) -> None:
    """soma's example_dynamic_outputs_with_loo and _with_loo_jobs, side by side."""
    producer = _list_producer(ITEMS)
    loo = LeaveOneOutJob(param_dict={"index": 2})
    train_job = _recorder("train_job", "inputs", tmp_path / "train_job", [])
    test_job = _recorder("test_job", "input", tmp_path / "test_job", "")
    train_fn = _recorder("train_fn", "inputs", tmp_path / "train_fn", [])
    test_fn = _recorder("test_fn", "input", tmp_path / "test_fn", "")
    links = {
        loo: {"inputs": [(producer, "outputs")]},
        train_job: {"inputs": [(loo, "train")]},
        test_job: {"input": [(loo, "test")]},
        train_fn: {"inputs": [(producer, "outputs", ("list_all_but_one", 2))]},
        test_fn: {"input": [(producer, "outputs", ("list_to_sequence", 2))]},
    }
    workflow = Workflow([producer, loo, train_job, test_job, train_fn, test_fn], param_links=links)

    wf_id = run(wfc, workflow)

    assert all(entry[1] == DONE for entry in by_name(wfc, wf_id).values())
    expected_train = ["i0", "i1", "i3", "i4", "i5"]  # soma-workflow 6.0.13's result
    for variant in ("job", "fn"):
        assert _recorded(tmp_path / f"train_{variant}") == expected_train
        assert _recorded(tmp_path / f"test_{variant}") == "i2"
    ids = ids_by_name(wfc, wf_id)
    assert wfc.get_job_output_params(ids["leave_one_out"]) == {
        "train": expected_train,
        "test": "i2",
    }


def test_cross_validation_with_job_and_with_link_functions(
    wfc: WorkflowController, tmp_path: Path
) -> None:
    """soma's example_dynamic_outputs_with_cv and _with_cv_jobs (4 folds, fold 1)."""
    producer = _list_producer(ITEMS)
    fold = CrossValidationFoldJob(param_dict={"nfolds": 4, "fold": 1})
    recorders = {
        name: _recorder(name, "inputs", tmp_path / name, [])
        for name in ("train_job", "test_job", "train_fn", "test_fn")
    }
    links = {
        fold: {"inputs": [(producer, "outputs")]},
        recorders["train_job"]: {"inputs": [(fold, "train")]},
        recorders["test_job"]: {"inputs": [(fold, "test")]},
        recorders["train_fn"]: {"inputs": [(producer, "outputs", ("list_cv_train_fold", 1, 4))]},
        recorders["test_fn"]: {"inputs": [(producer, "outputs", ("list_cv_test_fold", 1, 4))]},
    }
    workflow = Workflow([producer, fold, *recorders.values()], param_links=links)

    wf_id = run(wfc, workflow)

    assert all(entry[1] == DONE for entry in by_name(wfc, wf_id).values())
    # soma-workflow 6.0.13's split of 6 items in 4 folds, fold 1
    expected = {"train": ["i0", "i1", "i4", "i5"], "test": ["i2", "i3"]}
    for variant in ("job", "fn"):
        for part in ("train", "test"):
            assert _recorded(tmp_path / f"{part}_{variant}") == expected[part]
    ids = ids_by_name(wfc, wf_id)
    assert wfc.get_job_output_params(ids["cross_validation"]) == expected


# -- paths -----------------------------------------------------------------------------------


def test_temporary_paths_are_shared_then_removed_with_the_workflow(
    wfc: WorkflowController, tmp_path: Path
) -> None:
    temp_file = TemporaryPath(suffix=".txt")
    temp_dir = TemporaryPath(is_directory=True)
    where = tmp_path / "where"
    writer = sh(
        "writer",
        'echo payload > "$1"; echo inside > "$2/f"; echo "$1" > "$3"; echo "$2" >> "$3"',
        temp_file,
        temp_dir,
        str(where),
        referenced_output_files=[temp_file, temp_dir],
    )
    reader = sh(
        "reader",
        'cat "$1" "$2/f" > "$3"',
        temp_file,
        temp_dir,
        str(tmp_path / "read"),
        referenced_input_files=[temp_file, temp_dir],
    )

    wf_id = run(wfc, Workflow([writer, reader], [(writer, reader)]))

    assert_all_done(wfc, wf_id)
    assert (tmp_path / "read").read_text() == "payload\ninside\n"
    file_path, dir_path = (Path(line) for line in where.read_text().splitlines())
    assert file_path.name.endswith(".txt") and file_path.is_file()
    assert dir_path.is_dir()
    assert wfc.delete_workflow(wf_id) is True
    assert not file_path.exists() and not dir_path.exists()
    assert wf_id not in wfc.workflows()
    with pytest.raises(UnknownObjectError):
        wfc.workflow_status(wf_id)


def test_shared_resource_paths_are_translated_or_fail_their_job(
    site: Site, wfc: WorkflowController, tmp_path: Path
) -> None:
    """A SharedResourcePath is found through the resource's translation files; one whose
    uuid they do not know fails its job before it starts, with the reason in its stderr,
    and the rest of the workflow goes on."""
    (site.data_root / "data" / "known.txt").write_text("known content\n")
    known = SharedResourcePath("known.txt", TRANSLATION_NAMESPACE, DATA_UUID)
    unknown = SharedResourcePath("x.txt", TRANSLATION_NAMESPACE, "no_such_uuid")
    reads = Job(["cat", unknown], name="reads", referenced_input_files=[unknown])
    below = sh("below", COUNT, str(tmp_path / "below"))
    other = sh(
        "other", 'cat "$1" > "$2"', known, str(tmp_path / "other"), referenced_input_files=[known]
    )

    wf_id = run(wfc, Workflow([reads, below, other], [(reads, below)]))

    jobs = by_name(wfc, wf_id)
    assert jobs["reads"][1] == FAILED and jobs["reads"][4][1] is None, jobs["reads"]
    assert jobs["below"][1] == FAILED and jobs["below"][3][0] == NOT_RUN
    assert jobs["other"][1] == DONE
    assert (tmp_path / "other").read_text() == "known content\n"
    err = tmp_path / "err"
    wfc.retrieve_job_stdouterr(ids_by_name(wfc, wf_id)["reads"], str(tmp_path / "out"), str(err))
    assert "no_such_uuid" in err.read_text()
    # soma-workflow's rule: a job that could not be started is "aborted", listed as
    # failed only with include_aborted_jobs (like the jobs below it)
    assert jobs["reads"][3] == (ExitStatus.EXIT_ABORTED.value, None, None, None)
    ids = ids_by_name(wfc, wf_id)
    assert Helper.list_failed_jobs(wf_id, wfc) == []
    with_aborted = Helper.list_failed_jobs(wf_id, wfc, include_aborted_jobs=True)
    assert sorted(with_aborted) == sorted([ids["reads"], ids["below"]])


# -- control: stop, restart, kill ------------------------------------------------------------


def test_stop_then_restart_runs_only_what_did_not_finish(
    wfc: WorkflowController, tmp_path: Path
) -> None:
    flag = tmp_path / "go"
    first = sh("first", COUNT, str(tmp_path / "first"))
    long1 = sh("long1", COUNT_THEN_WAIT, str(tmp_path / "long1"), str(flag))
    long2 = sh("long2", COUNT_THEN_WAIT, str(tmp_path / "long2"), str(flag))
    after = sh("after", COUNT, str(tmp_path / "after"))
    workflow = Workflow(
        [first, long1, long2, after], [(first, long1), (first, long2), (long1, after)]
    )
    wf_id = wfc.submit_workflow(workflow)
    ids = ids_by_name(wfc, wf_id)
    assert wait_until(lambda: running(wfc, ids["long1"]) and running(wfc, ids["long2"]), 30), (
        by_name(wfc, wf_id)
    )
    assert wait_until(lambda: runs(tmp_path / "long1") == runs(tmp_path / "long2") == 1, 30)

    assert wfc.stop_workflow(wf_id) is True

    jobs = by_name(wfc, wf_id)
    assert wfc.workflow_status(wf_id) == WORKFLOW_DONE
    assert jobs["first"][1] == DONE
    for name in ("long1", "long2"):
        assert jobs[name][1] == FAILED and jobs[name][3][0] == KILLED, jobs[name]
    assert jobs["after"][1] == FAILED and jobs["after"][3][0] == NOT_RUN
    assert Helper.list_failed_jobs(wf_id, wfc) == []
    killed = Helper.list_failed_jobs(wf_id, wfc, include_user_killed_jobs=True)
    assert sorted(killed) == sorted([ids["long1"], ids["long2"]])

    flag.touch()
    assert wfc.restart_workflow(wf_id) is True
    wfc.wait_workflow(wf_id, timeout=60)

    assert_all_done(wfc, wf_id)
    assert [runs(tmp_path / name) for name in ("first", "long1", "long2", "after")] == [1, 2, 2, 1]
    assert wfc.restart_workflow(wf_id) is False  # nothing left to restart
    assert runs(tmp_path / "first") == 1


def test_restart_after_a_fix_runs_the_failed_job_and_what_it_blocked(
    wfc: WorkflowController, tmp_path: Path
) -> None:
    """The usual repair loop: a job fails for want of a file; once the file is there,
    restart_workflow runs it and its aborted descendants, and nothing that succeeded."""
    needed = tmp_path / "needed"
    fragile = sh("fragile", 'echo run >> "$1"; [ -e "$2" ] || exit 5', str(tmp_path / "fragile"))
    fragile.command.append(str(needed))
    below = sh("below", COUNT, str(tmp_path / "below"))
    sibling = sh("sibling", COUNT, str(tmp_path / "sibling"))
    root = sh("root", COUNT, str(tmp_path / "root"))
    workflow = Workflow(
        [root, fragile, below, sibling], [(root, fragile), (fragile, below), (root, sibling)]
    )

    wf_id = run(wfc, workflow)
    ids = ids_by_name(wfc, wf_id)
    assert Helper.list_failed_jobs(wf_id, wfc) == [ids["fragile"]]
    assert wfc.job_termination_status(ids["fragile"])[:2] == (FINISHED, 5)  # type: ignore[index]
    assert wfc.job_status(ids["below"]) == FAILED

    needed.touch()
    assert wfc.restart_workflow(wf_id) is True
    wfc.wait_workflow(wf_id, timeout=60)

    assert_all_done(wfc, wf_id)
    counts = [runs(tmp_path / name) for name in ("root", "fragile", "below", "sibling")]
    assert counts == [1, 2, 1, 1]
    assert_ran_after(wfc, wf_id, [("fragile", "below")])


def test_restart_while_other_jobs_still_run(wfc: WorkflowController, tmp_path: Path) -> None:
    flag, fix = tmp_path / "go", tmp_path / "fix"
    fragile = sh("fragile", 'echo run >> "$1"; [ -e "$2" ] || exit 3', str(tmp_path / "fragile"))
    fragile.command.append(str(fix))
    below = sh("below", COUNT, str(tmp_path / "below"))
    long = sh("long", COUNT_THEN_WAIT, str(tmp_path / "long"), str(flag))
    wf_id = wfc.submit_workflow(Workflow([fragile, below, long], [(fragile, below)]))
    ids = ids_by_name(wfc, wf_id)
    assert wait_until(lambda: wfc.job_status(ids["below"]) == FAILED, 30)
    assert wait_until(lambda: running(wfc, ids["long"]), 30)

    fix.touch()
    assert wfc.restart_workflow(wf_id) is True
    assert wait_until(lambda: wfc.job_status(ids["below"]) == DONE, 30), by_name(wfc, wf_id)
    assert running(wfc, ids["long"])  # untouched by the restart
    flag.touch()
    wfc.wait_workflow(wf_id, timeout=60)

    assert_all_done(wfc, wf_id)
    assert [runs(tmp_path / name) for name in ("fragile", "below", "long")] == [2, 1, 1]


def test_stop_with_jobs_waiting_for_a_slot(wfc: WorkflowController, tmp_path: Path) -> None:
    """More jobs than slots: stop kills the running ones, the others never start; a
    restart runs them all."""
    flag = tmp_path / "go"
    total = CPU_NB + 2
    jobs = [sh(f"w{i}", COUNT_THEN_WAIT, str(tmp_path / f"w{i}"), str(flag)) for i in range(total)]
    wf_id = wfc.submit_workflow(Workflow(jobs))
    assert wait_until(lambda: sum(runs(tmp_path / f"w{i}") for i in range(total)) == CPU_NB, 30)
    time.sleep(0.3)  # a job started beyond the slots would show up here
    assert sum(runs(tmp_path / f"w{i}") for i in range(total)) == CPU_NB

    assert wfc.stop_workflow(wf_id) is True

    exits = [entry[3][0] for entry in by_name(wfc, wf_id).values()]
    assert sorted(exits) == sorted([KILLED] * CPU_NB + [NOT_RUN] * 2)
    flag.touch()
    assert wfc.restart_workflow(wf_id) is True
    wfc.wait_workflow(wf_id, timeout=60)
    assert_all_done(wfc, wf_id)
    assert sorted(runs(tmp_path / f"w{i}") for i in range(total)) == [1, 1] + [2] * CPU_NB


def test_deleting_a_running_workflow_kills_its_jobs(
    wfc: WorkflowController, tmp_path: Path
) -> None:
    pids_file = tmp_path / "pids"
    sleeper = sh("sleeper", 'echo $$ >> "$1"; sleep 100 & echo $! >> "$1"; wait', str(pids_file))
    never = sh("never", COUNT, str(tmp_path / "never"))
    wf_id = wfc.submit_workflow(Workflow([sleeper, never], [(sleeper, never)]))
    assert wait_until(lambda: runs(pids_file) == 2, 30)
    processes = {}
    for line in pids_file.read_text().split():
        process = psutil.Process(int(line))
        processes[process.pid] = process.create_time()
    try:
        assert wfc.delete_workflow(wf_id) is True

        assert wf_id not in wfc.workflows()
        assert wait_until(lambda: not any(_alive(*item) for item in processes.items()), 10)
        assert not (tmp_path / "never").exists()
        with pytest.raises(UnknownObjectError):
            wfc.wait_workflow(wf_id, timeout=1)
    finally:
        for pid, created in processes.items():
            if _alive(pid, created):
                os.kill(pid, signal.SIGKILL)


def test_stop_jobs_and_restart_jobs(wfc: WorkflowController, tmp_path: Path) -> None:
    flag = tmp_path / "go"
    waiter = sh("waiter", COUNT_THEN_WAIT, str(tmp_path / "waiter"), str(flag))
    child = sh("child", COUNT, str(tmp_path / "child"))
    loner = sh("loner", COUNT, str(tmp_path / "loner"))
    wf_id = wfc.submit_workflow(Workflow([waiter, child, loner], [(waiter, child)]))
    ids = ids_by_name(wfc, wf_id)
    assert wait_until(lambda: runs(tmp_path / "waiter") == 1, 30)

    assert wfc.stop_jobs(wf_id, [ids["waiter"]]) is True

    wfc.wait_workflow(wf_id, timeout=30)
    jobs = by_name(wfc, wf_id)
    assert jobs["waiter"][1] == FAILED and jobs["waiter"][3][0] == KILLED
    assert jobs["child"][1] == FAILED and jobs["child"][3][0] == NOT_RUN
    assert jobs["loner"][1] == DONE

    flag.touch()
    assert wfc.restart_jobs(wf_id, [ids["waiter"]]) is True
    wfc.wait_workflow(wf_id, timeout=60)
    assert_all_done(wfc, wf_id)
    assert [runs(tmp_path / n) for n in ("waiter", "child", "loner")] == [2, 1, 1]

    assert wfc.restart_jobs(wf_id, [ids["loner"]]) is True  # a DONE job runs again
    wfc.wait_workflow(wf_id, timeout=60)
    assert_all_done(wfc, wf_id)
    assert [runs(tmp_path / n) for n in ("waiter", "child", "loner")] == [2, 1, 2]


TREE = (
    'echo $$ >> "$1"\n'
    "sh -c \"echo \\$\\$ >> '$1'; sleep 100 & echo \\$! >> '$1'; wait\" &\n"
    'sleep 100 & echo $! >> "$1"\n'
    'setsid sleep 100 & echo $! >> "$1"\n'
    "wait\n"
)


def _alive(pid: int, created: float) -> bool:
    try:
        process = psutil.Process(pid)
        return process.create_time() == created and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def test_stopping_a_job_kills_its_children_and_grandchildren(
    wfc: WorkflowController, tmp_path: Path
) -> None:
    pids_file = tmp_path / "pids"
    tree = sh("tree", TREE, str(pids_file))
    wf_id = wfc.submit_workflow(Workflow([tree]))
    assert wait_until(lambda: runs(pids_file) == 5, 30), pids_file.read_text()
    processes = {}
    for line in pids_file.read_text().split():
        process = psutil.Process(int(line))
        processes[process.pid] = process.create_time()
    try:
        assert all(_alive(pid, created) for pid, created in processes.items())

        assert wfc.stop_workflow(wf_id) is True

        assert wait_until(lambda: not any(_alive(*item) for item in processes.items()), 10)
        job = by_name(wfc, wf_id)["tree"]
        assert job[1] == FAILED and job[3][0] == KILLED
    finally:
        for pid, created in processes.items():
            if _alive(pid, created):
                os.kill(pid, signal.SIGKILL)


def test_wait_with_timeout_returns_in_time(wfc: WorkflowController, tmp_path: Path) -> None:
    flag = tmp_path / "go"
    waiter = sh("waiter", COUNT_THEN_WAIT, str(tmp_path / "count"), str(flag))
    wf_id = wfc.submit_workflow(Workflow([waiter]))
    job_id = ids_by_name(wfc, wf_id)["waiter"]

    began = time.monotonic()
    wfc.wait_workflow(wf_id, timeout=0.5)
    waited = time.monotonic() - began
    assert 0.45 <= waited < 5, waited
    assert wfc.workflow_status(wf_id) != WORKFLOW_DONE

    began = time.monotonic()
    wfc.wait_job([job_id], timeout=0.3)
    assert 0.25 <= time.monotonic() - began < 5
    assert wfc.job_status(job_id) != DONE

    flag.touch()
    wfc.wait_job([job_id], timeout=30)
    assert wfc.job_status(job_id) == DONE


# -- output files, queries, lifetime ---------------------------------------------------------

BIG = 100 * 1024 * 1024


def test_a_job_printing_100_mb(wfc: WorkflowController, tmp_path: Path) -> None:
    chatty = sh("chatty", f"yes 0123456789abcde | head -c {BIG}; echo done >&2")

    wf_id = run(wfc, Workflow([chatty]))

    assert_all_done(wfc, wf_id)
    stdout, stderr = tmp_path / "out", tmp_path / "err"
    wfc.retrieve_job_stdouterr(ids_by_name(wfc, wf_id)["chatty"], str(stdout), str(stderr))
    assert stdout.stat().st_size == BIG
    with stdout.open("rb") as stream:
        assert stream.read(32) == b"0123456789abcde\n" * 2
        stream.seek(-16, os.SEEK_END)
        assert stream.read() == b"0123456789abcde\n"
    assert stderr.read_text() == "done\n"
    stdout.unlink()


def test_job_files_options(wfc: WorkflowController, tmp_path: Path) -> None:
    """stdin, join_stderrout, working_directory, and stdout/stderr files of the user's."""
    (tmp_path / "input.txt").write_text("from stdin\n")
    work = tmp_path / "work"
    work.mkdir()
    joined = sh(
        "joined",
        'cat; echo "to err" >&2; pwd',
        stdin=str(tmp_path / "input.txt"),
        join_stderrout=True,
        working_directory=str(work),
    )
    separate = sh(
        "separate",
        'echo "to out"; echo "to err" >&2',
        stdout_file=str(tmp_path / "mine.out"),
        stderr_file=str(tmp_path / "mine.err"),
    )

    wf_id = run(wfc, Workflow([joined, separate]))

    assert_all_done(wfc, wf_id)
    ids = ids_by_name(wfc, wf_id)
    out, err = tmp_path / "out", tmp_path / "err"
    wfc.retrieve_job_stdouterr(ids["joined"], str(out), str(err))
    assert out.read_text() == f"from stdin\nto err\n{work}\n"
    assert err.read_text() == ""
    assert (tmp_path / "mine.out").read_text() == "to out\n"
    assert (tmp_path / "mine.err").read_text() == "to err\n"
    wfc.retrieve_job_stdouterr(ids["separate"], str(out), str(err))
    assert out.read_text() == "to out\n" and err.read_text() == "to err\n"


def test_file_transfers_are_used_in_place_on_the_local_resource(
    wfc: WorkflowController, tmp_path: Path
) -> None:
    source, target = tmp_path / "in.txt", tmp_path / "out.txt"
    source.write_text("transferred\n")
    incoming = FileTransfer(True, str(source), name="incoming")
    outgoing = FileTransfer(False, str(target), name="outgoing")
    copy = Job(
        ["cp", incoming, outgoing],
        name="copy",
        referenced_input_files=[incoming],
        referenced_output_files=[outgoing],
    )
    workflow = Workflow([copy])
    wf_id = wfc.submit_workflow(workflow)
    Helper.transfer_input_files(wf_id, wfc)
    wfc.wait_workflow(wf_id, timeout=60)
    Helper.transfer_output_files(wf_id, wfc)

    assert_all_done(wfc, wf_id)
    assert target.read_text() == "transferred\n"


def test_several_threads_share_one_controller(wfc: WorkflowController, tmp_path: Path) -> None:
    """Clients are often threaded (GUIs, pipelines): concurrent calls on one controller."""
    results: dict[int, int] = {}
    errors: list[BaseException] = []

    def client(index: int) -> None:
        try:
            log = tmp_path / f"log{index}"
            jobs = [sh(f"t{index}_{i}", 'echo "$0" >> "$1"', str(log)) for i in range(5)]
            chain = list(itertools.pairwise(jobs))
            wf_id = wfc.submit_workflow(Workflow(jobs, chain, name=f"thread{index}"))
            for _ in range(20):
                wfc.workflow_status(wf_id)
                wfc.workflow_elements_status(wf_id)
            wfc.wait_workflow(wf_id, timeout=60)
            results[index] = wf_id
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=client, args=(index,)) for index in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)

    assert errors == []
    assert sorted(results) == list(range(6)) and len(set(results.values())) == 6
    for index, wf_id in results.items():
        assert_all_done(wfc, wf_id)
        expected = [f"t{index}_{i}" for i in range(5)]
        assert (tmp_path / f"log{index}").read_text().split() == expected
        assert wfc.workflows([wf_id])[wf_id][0] == f"thread{index}"


ODD_ARGUMENTS = [
    "a b",
    "'q'",
    '"dq"',
    "$HOME",
    "*",
    "; echo injected",
    "é ü 漢字",
    "",
    "line\nbreak",
    "tab\there",
    "back\\slash",
    "%s",
]


def test_arguments_and_environment_reach_the_job_verbatim(
    wfc: WorkflowController, tmp_path: Path
) -> None:
    """No shell between the command list and the process: every argument arrives as
    written (spaces, quotes, globs, newlines, empty), and so do odd environment values."""
    argv_file, env_file = tmp_path / "argv.json", tmp_path / "env.txt"
    show_argv = py(
        "argv",
        "import json, sys; json.dump(sys.argv[2:], open(sys.argv[1], 'w'))",
        str(argv_file),
        *ODD_ARGUMENTS,
    )
    odd_value = "x y\nz é $HOME"
    show_env = sh("env", 'printf %s "$ODD" > "$1"', str(env_file), env={"ODD": odd_value})

    wf_id = run(wfc, Workflow([show_argv, show_env], name="odd é"))

    assert_all_done(wfc, wf_id)
    assert json.loads(argv_file.read_text()) == ODD_ARGUMENTS
    assert env_file.read_text() == odd_value
    assert wfc.workflows([wf_id])[wf_id][0] == "odd é"
    assert wfc.workflow(wf_id).jobs[0].command[4:] == ODD_ARGUMENTS


def test_queries_of_a_finished_workflow(wfc: WorkflowController, tmp_path: Path) -> None:
    good = sh("good", 'echo "to out"; echo "to err" >&2')
    bad = sh("bad", 'echo "bad news" >&2; exit 7')
    workflow = Workflow([good, bad], name="ignored")

    expires = datetime.now().replace(microsecond=0) + timedelta(days=2)
    wf_id = run(wfc, workflow, name="queried", expiration_date=expires)

    assert workflow.wf_id == wf_id
    ids = ids_by_name(wfc, wf_id)
    assert wfc.workflows([wf_id]) == {wf_id: ("queried", expires)}
    short = wfc.workflow_elements_status(wf_id, with_drms_id=False)
    assert [len(entry) for entry in short[0]] == [5, 5]
    assert short[2] == WORKFLOW_DONE
    assert wf_id in wfc.workflows()
    assert wfc.jobs() == {} and wfc.transfers() == {}
    returned = wfc.workflow(wf_id)
    assert returned.wf_id == wf_id and [j.name for j in returned.jobs] == ["good", "bad"]
    assert [j.command for j in returned.jobs] == [good.command, bad.command]

    assert wfc.workflow_status(wf_id) == WORKFLOW_DONE
    assert wfc.job_status(ids["good"]) == DONE and wfc.job_status(ids["bad"]) == FAILED
    good_exit = wfc.job_termination_status(ids["good"])
    bad_exit = wfc.job_termination_status(ids["bad"])
    assert good_exit is not None and good_exit[:3] == (FINISHED, 0, None)
    assert bad_exit is not None and bad_exit[:3] == (FINISHED, 7, None)
    assert USAGE.fullmatch(good_exit[3] or ""), good_exit

    out, err = tmp_path / "out", tmp_path / "err"
    wfc.retrieve_job_stdouterr(ids["good"], str(out), str(err))
    assert out.read_text() == "to out\n" and err.read_text() == "to err\n"
    log = io.StringIO()
    wfc.log_failed_workflow(wf_id, log)
    assert f"job {ids['bad']}" in log.getvalue() and "bad news" in log.getvalue()
    assert f"job {ids['good']}" not in log.getvalue()

    later = datetime.now().replace(microsecond=0) + timedelta(days=3)
    assert wfc.change_workflow_expiration_date(wf_id, later) is True
    assert wfc.workflows([wf_id])[wf_id][1] == later
    assert wfc.change_workflow_expiration_date(wf_id, datetime(2000, 1, 1)) is False
    assert wfc.workflows([wf_id])[wf_id][1] == later

    assert wfc.delete_workflow(wf_id) is True
    assert wf_id not in wfc.workflows()
    for query in (wfc.workflow_status, wfc.workflow, wfc.workflow_elements_status):
        with pytest.raises(UnknownObjectError):
            query(wf_id)
    with pytest.raises(UnknownObjectError):
        wfc.job_status(ids["good"])


UNKNOWN = 987_654_321


def test_unknown_ids_raise_unknown_object_error(wfc: WorkflowController, tmp_path: Path) -> None:
    wf_id = run(wfc, Workflow([Job(["true"], name="one")]))
    job_id = ids_by_name(wfc, wf_id)["one"]
    other_id = run(wfc, Workflow([Job(["true"], name="two")]))
    foreign_job = ids_by_name(wfc, other_id)["two"]
    calls: list[tuple[str, Callable[[], object]]] = [
        ("workflow", lambda: wfc.workflow(UNKNOWN)),
        ("workflow_status", lambda: wfc.workflow_status(UNKNOWN)),
        ("workflow_elements_status", lambda: wfc.workflow_elements_status(UNKNOWN)),
        ("job_status", lambda: wfc.job_status(UNKNOWN)),
        ("job_termination_status", lambda: wfc.job_termination_status(UNKNOWN)),
        ("get_job_output_params", lambda: wfc.get_job_output_params(UNKNOWN)),
        ("retrieve", lambda: wfc.retrieve_job_stdouterr(UNKNOWN, str(tmp_path / "o"))),
        ("stop_workflow", lambda: wfc.stop_workflow(UNKNOWN)),
        ("restart_workflow", lambda: wfc.restart_workflow(UNKNOWN)),
        ("delete_workflow", lambda: wfc.delete_workflow(UNKNOWN)),
        ("wait_workflow", lambda: wfc.wait_workflow(UNKNOWN, timeout=1)),
        ("wait_job", lambda: wfc.wait_job([UNKNOWN], timeout=1)),
        ("expiration", lambda: wfc.change_workflow_expiration_date(UNKNOWN, None)),
        ("stop_jobs/job", lambda: wfc.stop_jobs(wf_id, [UNKNOWN])),
        ("restart_jobs/job", lambda: wfc.restart_jobs(wf_id, [UNKNOWN])),
        ("stop_jobs/workflow", lambda: wfc.stop_jobs(UNKNOWN, [job_id])),
        ("restart_jobs/workflow", lambda: wfc.restart_jobs(UNKNOWN, [job_id])),
    ]
    wrong: list[str] = []
    for label, call in calls:
        try:
            call()
            wrong.append(f"{label}: no error")
        except UnknownObjectError as error:
            if str(UNKNOWN) not in str(error):
                wrong.append(f"{label}: message does not name the id: {error}")
    assert wrong == []
    for control in (wfc.stop_jobs, wfc.restart_jobs):  # a job of another workflow
        with pytest.raises(UnknownObjectError, match=f"{foreign_job}.*{wf_id}"):
            control(wf_id, [foreign_job])
    assert wfc.workflow_status(wf_id) == WORKFLOW_DONE  # the engine is unharmed
    assert wfc.job_status(foreign_job) == DONE


def test_a_cycle_is_refused_at_submit_and_nothing_is_stored(wfc: WorkflowController) -> None:
    a, b, c = (Job(["true"], name=n) for n in ("a", "b", "c"))
    before = wfc.workflows()
    with pytest.raises(WorkflowError, match=r"cycle: 'a' -> 'b' -> 'c' -> 'a'"):
        wfc.submit_workflow(Workflow([a, b, c], [(a, b), (b, c), (c, a)]))
    assert wfc.workflows() == before


def test_an_invalid_job_is_refused_at_submit_and_nothing_is_stored(
    wfc: WorkflowController,
) -> None:
    before = wfc.workflows()
    holed = Job(["echo", None], name="holed")  # type: ignore[list-item]
    with pytest.raises(JobError, match=r"holed.*command item 1"):
        wfc.submit_workflow(Workflow([holed]))
    assert wfc.workflows() == before


def _structurally_invalid(case: str) -> tuple[Workflow, str]:
    """A workflow naming a job that is not (or twice) in its jobs; the culprit's name."""
    member, stranger = Job(["true"], name="member"), Job(["true"], name="stranger")
    stranger.has_outputs = True
    if case == "dependency":
        return Workflow([member], [(member, stranger)]), "stranger"
    if case == "param link":
        return Workflow([member], param_links={member: {"x": [(stranger, "x")]}}), "stranger"
    if case == "group":
        return Workflow([member], root_group=[Group([member, stranger], name="g")]), "stranger"
    return Workflow([member, member]), "member"


@pytest.mark.parametrize("case", ["dependency", "param link", "group", "duplicate"])
def test_a_job_outside_the_workflow_is_refused_at_submit(
    case: str, wfc: WorkflowController
) -> None:
    workflow, culprit = _structurally_invalid(case)
    before = wfc.workflows()
    with pytest.raises(WorkflowError, match=culprit):
        wfc.submit_workflow(workflow)
    assert wfc.workflows() == before


# -- soma-workflow JSON files ----------------------------------------------------------------


def _load_fixture(name: str, site: Site, tmp_path: Path) -> Workflow:
    if name == "c_job_options":
        # its job writes in /tmp/swf_example_wd: a private copy uses a directory of ours
        text = (FIXTURES / f"{name}.json").read_text()
        copy = tmp_path / f"{name}.json"
        copy.write_text(text.replace("/tmp/swf_example_wd", str(tmp_path / "wd")))
        (tmp_path / "wd").mkdir()
        return Helper.unserialize(copy)
    if name == "d_special_paths":
        # its SharedResourcePath (MyApp, data_dir_uuid) is translated by the site's
        # configuration (PATH_TRANSLATION_FILES) to site.data_root / "data"
        source = site.data_root / "data" / "subject01" / "t1.nii"
        source.parent.mkdir(parents=True, exist_ok=True)
        source.write_text("t1 image\n")
    return Helper.unserialize(FIXTURES / f"{name}.json")


FIXTURE_NAMES = [
    "a_chain_group",
    "b_barrier",
    "c_job_options",
    "d_special_paths",
    "e_fanout_1000",
]


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_soma_json_fixture_runs(name: str, site: Site, tmp_path: Path) -> None:
    wfc = site.controller
    workflow = _load_fixture(name, site, tmp_path)

    wf_id = run(wfc, workflow, timeout=90)

    jobs = by_name(wfc, wf_id)
    ids = ids_by_name(wfc, wf_id)
    if name != "d_special_paths":
        assert_all_done(wfc, wf_id)
    if name == "a_chain_group":
        assert_ran_after(wfc, wf_id, [("step1", "step2"), ("step2", "step3")])
        out = tmp_path / "out"
        wfc.retrieve_job_stdouterr(ids["step2"], str(out))
        assert out.read_text() == "step2\n"
    elif name == "b_barrier":
        assert_ran_after(wfc, wf_id, [("a1", "barrier"), ("a2", "barrier"), ("barrier", "b1")])
    elif name == "c_job_options":
        wd = tmp_path / "wd"
        assert (wd / "job.out").read_text() == f"foo_value 42\n{wd}\n"
        assert (wd / "job.err").read_text() == ""
    elif name == "d_special_paths":
        assert jobs["copy_to_tmp"][1] == DONE, jobs
        copies = list((site.home / "tmp" / str(wf_id)).glob("*.nii"))
        assert [path.read_text() for path in copies] == ["t1 image\n"]
        assert jobs["process"][1] == FAILED and jobs["process"][3][:2] == (FINISHED, 127)
        err = tmp_path / "err"
        wfc.retrieve_job_stdouterr(ids["process"], str(tmp_path / "out"), str(err))
        assert "process" in err.read_text() and "not found" in err.read_text()
        assert jobs["show_report"][1] == FAILED and jobs["show_report"][3][0] == NOT_RUN
        assert Helper.list_failed_jobs(wf_id, wfc) == [ids["process"]]
        assert DATA_UUID in (site.home / "translations.txt").read_text()
    else:
        assert len(jobs) == 1002
        assert_ran_after(wfc, wf_id, [("root", "m0"), ("m999", "join"), ("m500", "join")])
        join_start = jobs["join"][4][1]
        assert all(entry[4][2] <= join_start for n, entry in jobs.items() if n != "join")
    wfc.delete_workflow(wf_id)


def test_a_workflow_written_by_helper_serialize_runs_the_same(
    wfc: WorkflowController, tmp_path: Path
) -> None:
    """Helper.serialize then Helper.unserialize keeps groups, param links and functions."""
    producer = _list_producer(["alpha", "beta"])
    upper = _upper("upper")
    gather = _recorder("gather", "inputs", tmp_path / "gathered", [])
    links = {
        upper: {"input": [(producer, "outputs", ("list_to_sequence", 1))]},
        gather: {"inputs": [(upper, "output", ("sequence_to_list", 0))]},
    }
    workflow = Workflow(
        [producer, upper, gather],
        root_group=[producer, Group([upper, gather], name="after")],
        param_links=links,
        name="written",
    )
    path = tmp_path / "workflow.json"
    Helper.serialize(path, workflow)

    wf_id = run(wfc, Helper.unserialize(path))

    assert_all_done(wfc, wf_id)
    assert _recorded(tmp_path / "gathered") == ["BETA"]
    assert wfc.workflows([wf_id])[wf_id][0] == "written"
    assert [getattr(e, "name", None) for e in wfc.workflow(wf_id).root_group or []] == [
        "producer",
        "after",
    ]


# -- clients come and go ---------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["embedded", "daemon"])
def test_disconnect_leaves_the_workflow_running(
    mode: str, site_factory: Callable[[str], Site], tmp_path: Path
) -> None:
    """A client that disconnects mid-run; the next one sees the same workflow finish."""
    fresh = site_factory(mode)
    flag = tmp_path / "go"
    waiter = sh("waiter", COUNT_THEN_WAIT, str(tmp_path / "waiter"), str(flag))
    after = sh("after", COUNT, str(tmp_path / "after"))
    wf_id = fresh.controller.submit_workflow(Workflow([waiter, after], [(waiter, after)]))
    ids = ids_by_name(fresh.controller, wf_id)
    assert wait_until(lambda: runs(tmp_path / "waiter") == 1, 30)

    fresh.controller.disconnect()
    flag.touch()
    controller = fresh.reconnect()

    controller.wait_workflow(wf_id, timeout=60)
    assert_all_done(controller, wf_id)
    assert ids_by_name(controller, wf_id) == ids
    assert [runs(tmp_path / n) for n in ("waiter", "after")] == [1, 1]

    other = controller.submit_workflow(Workflow([Job(["true"], name="other")]))
    controller.wait_workflow(other, timeout=30)
    assert sorted(controller.workflows()) == sorted([wf_id, other])
    assert Helper.delete_all_workflows(controller) is True
    assert controller.workflows() == {}


@pytest.mark.parametrize("site", ["daemon"], indirect=True)
def test_a_job_that_ends_while_no_engine_runs(
    site_factory: Callable[[str], Site], site: Site, tmp_path: Path
) -> None:
    """Daemon mode: the engine stops mid-run; the job goes on and ends; the engine the
    next client starts learns how it ended, and runs the rest, without running it again."""
    fresh = site_factory("daemon")
    flag, ended = tmp_path / "go", tmp_path / "ended"
    waiter = sh("waiter", COUNT_THEN_WAIT + '; echo end > "$3"', str(tmp_path / "waiter"))
    waiter.command += [str(flag), str(ended)]
    after = sh("after", COUNT, str(tmp_path / "after"))
    wf_id = fresh.controller.submit_workflow(Workflow([waiter, after], [(waiter, after)]))
    ids = ids_by_name(fresh.controller, wf_id)
    assert wait_until(lambda: runs(tmp_path / "waiter") == 1, 30)
    first_engine = fresh.engine_pid()

    assert stop_engine(fresh.home) is True
    flag.touch()
    assert wait_until(ended.exists, 30)
    controller = fresh.reconnect()

    controller.wait_workflow(wf_id, timeout=60)
    assert_all_done(controller, wf_id)
    assert ids_by_name(controller, wf_id) == ids
    assert [runs(tmp_path / n) for n in ("waiter", "after")] == [1, 1]
    assert fresh.engine_pid() not in (None, first_engine)


def test_class_wide_isolated_light_mode(
    facade_guard: ProcessGuard, monkeypatch: pytest.MonkeyPatch
) -> None:
    """soma-workflow's switch: ``WorkflowController.isolated_light_mode = dir`` makes every
    controller built without arguments embed its engine, with its state in ``dir``."""
    home = facade_guard.new_home("embedded")
    monkeypatch.setattr(WorkflowController, "isolated_light_mode", str(home))
    try:
        with marked_environment(facade_guard), WorkflowController() as controller:
            wf_id = run(controller, Workflow([Job(["true"], name="one")]))
            assert_all_done(controller, wf_id)
            assert not (home / "engine.json").exists()  # no daemon: the engine is ours
        assert (home / "swf.db").exists()
    finally:
        shutdown_host(StateLayout(home / "jobhost"))


def _wait_across_an_engine_stop(fresh: Site, box: Path) -> None:
    """One round: a client waits on a running workflow while its engine is stopped."""
    box.mkdir()
    flag = box / "go"
    waiter = sh("waiter", COUNT_THEN_WAIT, str(box / "waiter"), str(flag))
    after = sh("after", COUNT, str(box / "after"))
    wf_id = fresh.controller.submit_workflow(Workflow([waiter, after], [(waiter, after)]))
    assert wait_until(lambda: runs(box / "waiter") == 1, 30)
    outcome: list[BaseException | None] = []

    def wait() -> None:
        try:
            fresh.controller.wait_workflow(wf_id, timeout=60)
            outcome.append(None)
        except BaseException as error:
            outcome.append(error)

    thread = threading.Thread(target=wait)
    thread.start()
    try:
        time.sleep(0.3)  # the wait is in the engine
        assert stop_engine(fresh.home) is True
    finally:
        flag.touch()
        thread.join(60)
    assert not thread.is_alive()
    if outcome[0] is not None:
        raise outcome[0]
    assert_all_done(fresh.controller, wf_id)
    assert [runs(box / n) for n in ("waiter", "after")] == [1, 1]


@pytest.mark.parametrize("site", ["daemon"], indirect=True)
def test_a_wait_in_progress_survives_an_engine_restart(
    site_factory: Callable[[str], Site], site: Site, tmp_path: Path
) -> None:
    """Daemon mode: the engine stops while a client waits; the client's link restarts it
    and the wait returns once the workflow is done, as if nothing happened."""
    fresh = site_factory("daemon")
    for round_number in range(3):
        _wait_across_an_engine_stop(fresh, tmp_path / f"round{round_number}")


SUBMITTER = """
import json, os, signal, sys
from pathlib import Path
from swf_entry.client import Job, Workflow
from swf_entry.composition import ClientOptions, open_controller

home, config, runs, flag, how = sys.argv[1:6]
controller = open_controller(ClientOptions(home=Path(home), config_file=Path(config)))
script = 'sleep 0.2; while [ ! -e "$2" ]; do sleep 0.02; done; echo "$0" >> "$1"'
jobs = [Job(["sh", "-c", script, f"j{i}", runs, flag], name=f"j{i}") for i in range(4)]
workflow = Workflow(jobs, [(jobs[0], jobs[1]), (jobs[1], jobs[2]), (jobs[2], jobs[3])])
wf_id = controller.submit_workflow(workflow, name="orphaned")
ids = {job.name: job.job_id for job in controller.workflow(wf_id).jobs}
print(json.dumps({"wf_id": wf_id, "ids": ids}), flush=True)
if how == "crash":
    os.kill(os.getpid(), signal.SIGKILL)
sys.exit(3)
"""


@pytest.mark.parametrize("site", ["daemon"], indirect=True)
@pytest.mark.parametrize("how", ["exit", "crash"])
def test_a_client_that_exits_after_submitting(how: str, site: Site, tmp_path: Path) -> None:
    """Daemon mode: the workflow outlives the process that submitted it (its jobs wait
    for a file the test creates once the client has gone)."""
    runs_file, flag = tmp_path / "runs", tmp_path / "go"
    arguments = [str(site.home), str(site.config_file), str(runs_file), str(flag), how]
    client = subprocess.run(
        [PY, "-c", SUBMITTER, *arguments],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    client_gone = datetime.now()
    assert client.returncode == (3 if how == "exit" else -signal.SIGKILL), client.stderr
    submitted = json.loads(client.stdout)
    wf_id = submitted["wf_id"]
    assert site.controller.workflow_status(wf_id) != WORKFLOW_DONE
    flag.touch()

    controller = site.connect()
    try:
        controller.wait_workflow(wf_id, timeout=60)
        assert_all_done(controller, wf_id)
        assert ids_by_name(controller, wf_id) == submitted["ids"]
        assert controller.workflows([wf_id])[wf_id][0] == "orphaned"
        assert runs_file.read_text().split() == ["j0", "j1", "j2", "j3"]
        last_end = by_name(controller, wf_id)["j3"][4][2]
        assert last_end > client_gone  # it went on after its client had gone
    finally:
        controller.disconnect()
    assert site.controller.workflow_status(wf_id) == WORKFLOW_DONE
