"""``swf mpi-run`` under a real ``mpirun -n 3`` (one engine rank, two worker ranks).

Workflows are written with the Python API, saved in soma-workflow's JSON format and run
by the runner; the test process then reads the store the runner wrote through the
Python API (as a login node would), and jobs prove what happened by writing files.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from swf_domain.status import ExitStatus, JobStatus, WorkflowStatus
from swf_entry.client import BarrierJob, Group, Helper, Job, Workflow
from tests.integration.mpi_fixtures import (
    MARK_VARIABLE,
    MPIRUN,
    SWF,
    MpiGuard,
    controller,
    ids_by_name,
    jobs_by_name,
    kill_group,
    mpi,
    mpi_command,
    runner_info,
    running_controller,
    wait_until,
)

__all__ = ["mpi"]  # the fixture, imported for pytest

pytestmark = pytest.mark.timeout(240)

PY = sys.executable
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "soma-json"
DONE = JobStatus.DONE.value
FAILED = JobStatus.FAILED.value
FINISHED = ExitStatus.FINISHED_REGULARLY.value
NOT_RUN = ExitStatus.EXIT_NOTRUN.value
USAGE = re.compile(r"cput=\S+ mem=\S+ walltime=\S+")
RANK_ID = re.compile(r"rank[12]:\d+")


def py(name: str, code: str, *args: str, **options: object) -> Job:
    return Job([PY, "-c", code, *args], name=name, **options)  # type: ignore[arg-type]


def save(workflow: Workflow, directory: Path) -> Path:
    path = directory / "workflow.json"
    Helper.serialize(str(path), workflow)
    return path


def swf(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SWF), "--home", str(home), *args], capture_output=True, text=True, timeout=60
    )


# -- what behaves as on local cores --------------------------------------------------------


SHOW_ENV = (
    "import json, os, sys; json.dump({k: os.environ.get(k) for k in sys.argv[2:]},"
    " open(sys.argv[1], 'w')); print(os.getcwd())"
)


def test_job_options_outputs_and_failures_as_on_local_cores(mpi: MpiGuard, tmp_path: Path) -> None:
    work = tmp_path / "wd"
    work.mkdir()
    env_json = tmp_path / "env.json"
    env = py(
        "env",
        SHOW_ENV,
        str(env_json),
        "FOO",
        "WF",
        "PMI_RANK",
        "PMI_FD",
        MARK_VARIABLE,
        env={"FOO": "bar"},
        working_directory=str(work),
        stdout_file=str(tmp_path / "env.out"),
        stderr_file=str(tmp_path / "env.err"),
    )
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
    wide = Job(
        ["sh", "-c", f"echo $$ > {tmp_path}/wide.pid; sleep 0.3"],
        name="wide",
        parallel_job_info={"config_name": "native", "nodes_number": 1, "cpu_per_node": 2},
    )
    too_wide = Job(
        ["true"],
        name="too_wide",
        parallel_job_info={"config_name": "native", "nodes_number": 2, "cpu_per_node": 2},
    )
    barrier = BarrierJob(name="barrier")
    crash = Job(["sh", "-c", "echo boom >&2; exit 3"], name="crash")
    below = Job(["true"], name="below")
    missing = Job(["no-such-command-swf"], name="missing")
    jobs = [env, producer, consumer, wide, too_wide, barrier, crash, below, missing]
    workflow = Workflow(
        jobs,
        dependencies=[(env, barrier), (wide, barrier), (barrier, crash), (crash, below)],
        root_group=[Group([env, producer, consumer], name="first"), *jobs[3:]],
        param_links={consumer: {"x": [(producer, "x")], "n": [(producer, "n")]}},
        env={"WF": "wf-value"},
        name="features",
    )
    home = tmp_path / "home"

    result = mpi.run(mpi_command(home, save(workflow, tmp_path), "--cores-per-rank", "2"))

    assert result.returncode == 1, result.stderr  # crash, below, missing and too_wide failed
    wfc = controller(home)
    wf_id = wfc.workflows()  # one workflow, named after the workflow
    (wf_id,) = list(wf_id)
    assert wfc.workflow_status(wf_id) == WorkflowStatus.DONE.value
    jobs_now = jobs_by_name(wfc, wf_id)
    for name in ("env", "producer", "consumer", "wide", "barrier"):
        assert jobs_now[name][1] == DONE, (name, jobs_now[name])
        assert jobs_now[name][3][:3] == (FINISHED, 0, None), (name, jobs_now[name])
    for name in ("env", "producer", "consumer", "wide"):
        assert USAGE.fullmatch(jobs_now[name][3][3] or ""), jobs_now[name]
        assert RANK_ID.fullmatch(jobs_now[name][5] or ""), jobs_now[name]
    assert json.loads(env_json.read_text()) == {
        "FOO": "bar",
        "WF": "wf-value",
        "PMI_RANK": None,  # the launcher's variables about the worker rank are not passed on
        "PMI_FD": None,
        MARK_VARIABLE: mpi.mark,  # the user's own environment is
    }
    assert (tmp_path / "env.out").read_text() == f"{work}\n"
    assert (tmp_path / "consumed").read_text() == "hello world|3"
    ids = ids_by_name(wfc, wf_id)
    assert wfc.get_job_output_params(ids["producer"]) == {"x": "hello world", "n": 3}
    assert jobs_now["crash"][1] == FAILED and jobs_now["crash"][3][:2] == (FINISHED, 3)
    assert jobs_now["below"][1] == FAILED and jobs_now["below"][3][0] == NOT_RUN
    assert jobs_now["missing"][1] == FAILED and jobs_now["missing"][3][:2] == (FINISHED, 127)
    assert jobs_now["too_wide"][1] == FAILED
    out, err = tmp_path / "o", tmp_path / "e"
    wfc.retrieve_job_stdouterr(ids["too_wide"], str(out), str(err))
    assert "needs 4 cores; the widest worker rank has 2" in err.read_text()
    wfc.retrieve_job_stdouterr(ids["missing"], str(out), str(err))
    assert "not found" in err.read_text()
    failed = set(Helper.list_failed_jobs(wf_id, wfc, include_aborted_jobs=True))
    assert failed == {ids["crash"], ids["below"], ids["missing"], ids["too_wide"]}
    wfc.disconnect()


# -- soma-workflow's JSON files --------------------------------------------------------------


def _fixture(name: str, tmp_path: Path) -> tuple[Path, list[str]]:
    """The fixture file to run, and the global options it needs."""
    source = FIXTURES / f"{name}.json"
    if name == "c_job_options":
        (tmp_path / "wd").mkdir()
        copy = tmp_path / f"{name}.json"
        copy.write_text(source.read_text().replace("/tmp/swf_example_wd", str(tmp_path / "wd")))
        return copy, []
    if name == "d_special_paths":
        data = tmp_path / "shared" / "data"
        (data / "subject01").mkdir(parents=True)
        (data / "subject01" / "t1.nii").write_text("t1 image\n")
        (tmp_path / "shared" / "out").mkdir()
        translations = tmp_path / "translations.txt"
        translations.write_text(f"data_dir_uuid {data}\noutput_dir_uuid {tmp_path}/shared/out\n")
        config = tmp_path / "swf.cfg"
        config.write_text(f"[mpi]\nPATH_TRANSLATION_FILES = MyApp{{{translations}}}\n")
        return source, ["--config", str(config)]
    return source, []


@pytest.mark.parametrize(
    "name", ["a_chain_group", "b_barrier", "c_job_options", "d_special_paths", "e_fanout_1000"]
)
def test_soma_json_fixture_runs_under_mpirun(name: str, mpi: MpiGuard, tmp_path: Path) -> None:
    file, global_options = _fixture(name, tmp_path)
    home = tmp_path / "home"
    command = mpi_command(home, file)
    command[command.index("--home") : command.index("--home")] = global_options

    result = mpi.run(command)

    wfc = controller(home) if not global_options else None
    if wfc is None:
        from swf_entry.composition import ClientOptions, open_controller

        wfc = open_controller(ClientOptions(home=home, config_file=Path(global_options[1])))
    (wf_id,) = list(wfc.workflows())
    jobs = jobs_by_name(wfc, wf_id)
    if name == "d_special_paths":
        assert result.returncode == 1, result.stderr
        assert jobs["copy_to_tmp"][1] == DONE, jobs
        assert jobs["process"][1] == FAILED and jobs["process"][3][:2] == (FINISHED, 127)
        assert jobs["show_report"][3][0] == NOT_RUN
    else:
        assert result.returncode == 0, result.stderr
        assert {entry[1] for entry in jobs.values()} == {DONE}, jobs
    if name == "a_chain_group":
        ends = {n: jobs[n][4] for n in ("step1", "step2", "step3")}
        assert ends["step1"][2] <= ends["step2"][1] and ends["step2"][2] <= ends["step3"][1]
    elif name == "c_job_options":
        wd = tmp_path / "wd"
        assert (wd / "job.out").read_text() == f"foo_value 42\n{wd}\n"
    elif name == "e_fanout_1000":
        assert len(jobs) == 1002
        join_start = jobs["join"][4][1]
        assert all(entry[4][2] <= join_start for n, entry in jobs.items() if n != "join")
        used = {entry[5].split(":")[0] for n, entry in jobs.items() if entry[5]}
        assert used == {"rank1", "rank2"}  # both workers took part
    wfc.disconnect()


# -- resume after the allocation is killed ------------------------------------------------


MARKED = "import sys, time; open(sys.argv[1], 'a').write('ran\\n'); time.sleep(float(sys.argv[2]))"


@pytest.mark.parametrize("rank0_cores", ["0", "1"])
def test_resume_after_kill_9_of_the_whole_allocation(
    rank0_cores: str, mpi: MpiGuard, tmp_path: Path
) -> None:
    """Nothing that ended well runs twice; what was running runs again; the rest follows
    (rank 0's own job slots, when asked, go with the allocation's process group)."""
    marks = tmp_path / "marks"
    marks.mkdir()
    first = [py(f"a{i}", MARKED, str(marks / f"a{i}"), "0.15") for i in range(24)]
    last = py("last", MARKED, str(marks / "last"), "0")
    workflow = Workflow([*first, last], dependencies=[(job, last) for job in first], name="r")
    file, home = save(workflow, tmp_path), tmp_path / "home"
    options = ("--rank0-cores", rank0_cores)
    process = mpi.start(mpi_command(home, file, *options), tmp_path / "run1.log")
    wfc = running_controller(home)
    assert wait_until(lambda: len(list(wfc.workflows())) == 1, 60)
    (wf_id,) = list(wfc.workflows())

    def done_count() -> int:
        return sum(entry[1] == DONE for entry in jobs_by_name(wfc, wf_id).values())

    assert wait_until(lambda: done_count() >= 6, 60)

    kill_group(process)

    done_before = {n for n, entry in jobs_by_name(wfc, wf_id).items() if entry[1] == DONE}
    assert 6 <= len(done_before) < 25
    assert wfc.workflow_status(wf_id) != WorkflowStatus.DONE.value

    result = mpi.run(mpi_command(home, file, *options))

    assert result.returncode == 0, (result.stdout, result.stderr)
    jobs = jobs_by_name(wfc, wf_id)
    assert {entry[1] for entry in jobs.values()} == {DONE}
    for name in done_before:
        assert (marks / name).read_text() == "ran\n", name  # not run again
    for name in jobs:
        assert (marks / name).read_text().count("ran") >= 1, name
    assert list(wfc.workflows()) == [wf_id]  # resumed, not submitted again
    wfc.disconnect()


def test_the_end_of_the_allocation_ends_the_jobs_and_the_resume_reruns_them(
    mpi: MpiGuard, tmp_path: Path
) -> None:
    """SIGTERM (a batch system's warning before the walltime) reaches every rank: the
    workers end their jobs' process trees, rank 0 records what it can and leaves."""
    release = tmp_path / "release"
    jobs = [Job(["sh", "-c", f"test -f {release} || sleep 60"], name=f"s{i}") for i in range(4)]
    file, home = save(Workflow(jobs, name="walltime"), tmp_path), tmp_path / "home"
    process = mpi.start(mpi_command(home, file), tmp_path / "run.log")
    wfc = running_controller(home)
    assert wait_until(lambda: len(list(wfc.workflows())) == 1, 60)
    (wf_id,) = list(wfc.workflows())
    assert wait_until(
        lambda: sum(e[1] == "running" for e in jobs_by_name(wfc, wf_id).values()) == 2, 30
    )

    process.send_signal(signal.SIGTERM)

    assert process.wait(timeout=30) != 0
    assert (runner_info(home) or {})["ended_at"] is not None, (tmp_path / "run.log").read_text()
    assert wait_until(lambda: not mpi.survivors(), 10), mpi.survivors()  # no job outlived it
    assert DONE not in {entry[1] for entry in jobs_by_name(wfc, wf_id).values()}
    release.write_text("")

    result = mpi.run(mpi_command(home, file))

    assert result.returncode == 0, result.stderr
    assert {entry[1] for entry in jobs_by_name(wfc, wf_id).values()} == {DONE}
    wfc.disconnect()


def test_a_sigterm_while_the_workflow_is_submitted_still_ends_cleanly(
    mpi: MpiGuard, tmp_path: Path
) -> None:
    """The walltime's warning may come while rank 0 still stores a big workflow: rank 0
    then finishes storing it, records the end and leaves (it used to die at once of the
    signal, leaving ``runner.json`` saying it still ran)."""
    jobs = [Job(["true"], name=f"t{i}") for i in range(3000)]
    file, home = save(Workflow(jobs, name="early"), tmp_path), tmp_path / "home"
    process = mpi.start(mpi_command(home, file), tmp_path / "run.log")
    assert wait_until(lambda: runner_info(home) is not None, 60)  # before the submission

    process.send_signal(signal.SIGTERM)

    assert process.wait(timeout=60) != 0
    assert (runner_info(home) or {})["ended_at"] is not None, (tmp_path / "run.log").read_text()
    assert wait_until(lambda: not mpi.survivors(), 10), mpi.survivors()


# -- watched and steered from outside ----------------------------------------------------


def test_status_stop_and_restart_from_outside_while_it_runs(mpi: MpiGuard, tmp_path: Path) -> None:
    flag = tmp_path / "fixed"
    fragile = Job(["sh", "-c", f"test -f {flag}"], name="fragile")
    after = Job(["true"], name="after")
    release = tmp_path / "release"
    slow = Job(["sh", "-c", f"while [ ! -f {release} ]; do sleep 0.05; done"], name="slow")
    workflow = Workflow([fragile, after, slow], dependencies=[(fragile, after)], name="steer")
    file, home = save(workflow, tmp_path), tmp_path / "home"
    process = mpi.start(mpi_command(home, file), tmp_path / "run.log")
    wfc = running_controller(home)
    assert wait_until(lambda: len(list(wfc.workflows())) == 1, 60)
    (wf_id,) = list(wfc.workflows())
    ids = ids_by_name(wfc, wf_id)
    assert wait_until(lambda: wfc.job_status(ids["fragile"]) == FAILED, 30)
    status = swf(home, "status", "steer", "--json")
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["status"] == WorkflowStatus.IN_PROGRESS.value
    assert (runner_info(home) or {})["ended_at"] is None

    flag.write_text("")
    restarted = swf(home, "restart", "steer")  # while `slow` still runs

    assert restarted.returncode == 0, restarted.stderr
    assert wait_until(lambda: wfc.job_status(ids["after"]) == DONE, 30)
    assert wfc.workflow_status(wf_id) == WorkflowStatus.IN_PROGRESS.value  # `slow` runs on
    release.write_text("")
    assert wfc.wait_workflow(wf_id, timeout=60) is not False
    assert process.wait(timeout=30) == 0
    jobs = jobs_by_name(wfc, wf_id)
    assert {name: entry[1] for name, entry in jobs.items()} == dict.fromkeys(jobs, DONE)
    assert (runner_info(home) or {})["ended_at"] is not None

    # A second run of a finished workflow does nothing; then stop one that runs.
    slow_again = Workflow([Job(["sleep", "30"], name="long")], name="stopme")
    file2 = tmp_path / "stop.json"
    Helper.serialize(str(file2), slow_again)
    process = mpi.start(mpi_command(home, file2), tmp_path / "run2.log")
    assert wait_until(lambda: "stopme" in swf(home, "list").stdout, 60)
    assert wait_until(lambda: "running" in swf(home, "status", "stopme").stdout, 30)

    stopped = swf(home, "stop", "stopme")

    assert stopped.returncode == 0, stopped.stderr
    assert process.wait(timeout=30) == 1  # the runner ends with its workflow, not all done
    (long_job,) = json.loads(swf(home, "status", "stopme", "--json", "--jobs").stdout)["jobs"]
    assert long_job["exit_status"] == ExitStatus.USER_KILLED.value
    refused = swf(home, "restart", "stopme")
    assert refused.returncode == 5 and "mpi-run" in refused.stderr  # no runner: says how
    wfc.disconnect()


# -- time limits, retries and a dying worker -----------------------------------------------


def test_time_limit_and_attempts_per_job(mpi: MpiGuard, tmp_path: Path) -> None:
    counter = tmp_path / "tries"
    flaky = Job(
        ["sh", "-c", f"echo try >> {counter}; test $(wc -l < {counter}) -ge 2"], name="flaky"
    )
    stuck = Job(["sleep", "60"], name="stuck")
    workflow = Workflow([flaky, stuck], name="limits")
    file, home = save(workflow, tmp_path), tmp_path / "home"

    started = time.monotonic()
    result = mpi.run(mpi_command(home, file, "--nb_attempt_per_job", "2", "--job-timeout", "1.5"))

    assert time.monotonic() - started < 40
    assert result.returncode == 1, result.stderr
    wfc = controller(home)
    (wf_id,) = list(wfc.workflows())
    jobs = jobs_by_name(wfc, wf_id)
    assert jobs["flaky"][1] == DONE and counter.read_text() == "try\ntry\n"
    assert jobs["stuck"][1] == FAILED
    assert jobs["stuck"][3][:3] == (ExitStatus.FINISHED_TERM_SIG.value, None, signal.SIGTERM)
    err = tmp_path / "err"
    wfc.retrieve_job_stdouterr(ids_by_name(wfc, wf_id)["stuck"], str(tmp_path / "o"), str(err))
    assert "ran past its time limit of 1.5 s: killed" in err.read_text()
    shown = json.loads(swf(home, "status", "limits", "--json", "--jobs").stdout)["jobs"]
    attempts = {job["name"]: job["attempt"] for job in shown}
    assert attempts == {"flaky": 2, "stuck": 2}  # the engine's retries, as on local cores
    wfc.disconnect()


@pytest.mark.parametrize("attempts", [1, 2])
def test_a_silent_worker_rank_fails_its_jobs_naming_rank_and_host(
    attempts: int, mpi: MpiGuard, tmp_path: Path
) -> None:
    """A worker rank that stops answering (a hung node: SIGSTOP here) is taken for dead;
    its job ends FAILED with the rank and host in its stderr, the other rank does the rest
    (with attempts left, the job runs again there).

    A rank killed outright cannot be shown here: MPICH's launcher then ends the whole
    allocation, and the resume covers it (test_resume_after_kill_9_of_the_whole_allocation).
    """
    jobs = [Job(["sleep", "3"], name=f"s{i}") for i in range(2)]
    after = [Job(["true"], name=f"t{i}") for i in range(6)]
    workflow = Workflow(jobs + after, name="silent")
    file, home = save(workflow, tmp_path), tmp_path / "home"
    options = ("--worker-timeout", "1.5", "--nb_attempt_per_job", str(attempts))
    process = mpi.start(mpi_command(home, file, *options), tmp_path / "run.log")
    wfc = running_controller(home)
    assert wait_until(lambda: len(list(wfc.workflows())) == 1, 60)
    (wf_id,) = list(wfc.workflows())
    ids = ids_by_name(wfc, wf_id)
    assert wait_until(lambda: all(wfc.job_status(ids[f"s{i}"]) == "running" for i in (0, 1)), 30)
    holder = {ids[f"s{i}"]: jobs_by_name(wfc, wf_id)[f"s{i}"][5] for i in (0, 1)}
    victim_job = next(job_id for job_id, where in holder.items() if where.startswith("rank2"))
    workers = {w["rank"]: w for w in (runner_info(home) or {})["details"]["workers"]}

    os.kill(workers[2]["pid"], signal.SIGSTOP)

    try:
        assert wait_until(lambda: (runner_info(home) or {}).get("ended_at") is not None, 60)
    finally:
        os.kill(workers[2]["pid"], signal.SIGCONT)  # it wakes, finds its stop order, leaves
    # Whether rank 2 wakes before or after rank 0 has finalized decides how MPICH's
    # launcher reports it (rank 0's code, or rank 2's own error): only "not 0" is sure,
    # and only when a job failed.
    code = process.wait(timeout=30)
    states = jobs_by_name(wfc, wf_id)
    by_id = {entry[0]: entry for entry in states.values()}
    if attempts == 2:
        assert by_id[victim_job][1] == DONE and by_id[victim_job][5].startswith("rank1:")
        shown = json.loads(swf(home, "status", "silent", "--json", "--jobs").stdout)["jobs"]
        assert {job["id"]: job["attempt"] for job in shown}[victim_job] == 2, shown
        assert {entry[1] for entry in states.values()} == {DONE}
        wfc.disconnect()
        return
    assert code != 0, (tmp_path / "run.log").read_text()
    assert by_id[victim_job][1] == FAILED
    assert by_id[victim_job][3][0] == ExitStatus.EXIT_UNDETERMINED.value
    err = tmp_path / "err"
    wfc.retrieve_job_stdouterr(victim_job, str(tmp_path / "o"), str(err))
    host = workers[2]["host"]
    reason = f"MPI worker rank 2 on host {host} stopped answering (nothing heard from it for 1.5 s)"
    assert reason in err.read_text()
    others = [entry for entry in states.values() if entry[0] != victim_job]
    assert {entry[1] for entry in others} == {DONE}, states  # the other rank did the rest
    wfc.disconnect()


# -- rank 0 runs jobs too when asked ----------------------------------------------------------


PARENT = "import os, sys, time; open(sys.argv[1], 'w').write(str(os.getppid())); time.sleep(0.05)"


@pytest.mark.parametrize("ranks", [1, 2])
def test_rank0_runs_jobs_in_a_child_process_when_asked(
    ranks: int, mpi: MpiGuard, tmp_path: Path
) -> None:
    """--rank0-cores: jobs run beside the engine, spawned by a child of rank 0 (never by
    the engine's own process); with one rank, rank 0 alone runs the workflow."""
    parents = tmp_path / "parents"
    parents.mkdir()
    jobs = [py(f"j{i}", PARENT, str(parents / f"j{i}")) for i in range(30)]
    file, home = save(Workflow(jobs, name="rank0"), tmp_path), tmp_path / "home"

    result = mpi.run(
        mpi_command(home, file, "--rank0-cores", "1", "--cores-per-rank", "1", ranks=ranks)
    )

    assert result.returncode == 0, result.stderr
    info = runner_info(home) or {}
    workers = {w["rank"]: w for w in info["details"]["workers"]}
    assert sorted(workers) == list(range(ranks))
    assert workers[0]["pid"] != info["pid"]  # a child process, not the engine's
    wfc = controller(home)
    (wf_id,) = list(wfc.workflows())
    states = jobs_by_name(wfc, wf_id)
    assert {entry[1] for entry in states.values()} == {DONE}
    on_rank0 = [name for name, entry in states.items() if entry[5].startswith("rank0:")]
    assert on_rank0 if ranks == 2 else len(on_rank0) == 30
    for name in on_rank0:
        assert int((parents / name).read_text()) == workers[0]["pid"], name
    if ranks == 2:
        assert len(on_rank0) < 30  # rank 1 took its share
    wfc.disconnect()


# -- soma-workflow's own runner command line -------------------------------------------------


def test_soma_runner_command_line_runs_unchanged(
    mpi: MpiGuard, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``python -m soma_workflow.MPI_workflow_runner RESOURCE --workflow=F`` and ``-r ID``
    with soma's options, on a resource with SCHEDULER_TYPE = mpi and MPI_JOB_TIMEOUT."""
    state, flag, marks = tmp_path / "state", tmp_path / "fixed", tmp_path / "marks"
    config = tmp_path / "soma.cfg"
    config.write_text(
        f"[mpires]\nSCHEDULER_TYPE = mpi\nSOMA_WORKFLOW_DIR = {state}\nMPI_JOB_TIMEOUT = 1\n"
    )
    monkeypatch.setenv("SOMA_WORKFLOW_CONFIG", str(config))
    quick = Job(["sh", "-c", f"echo ran >> {marks}"], name="quick")
    slow = Job(["sh", "-c", f"test -f {flag} || sleep 30"], name="slow")
    file = save(Workflow([quick, slow], name="somaspell"), tmp_path)
    soma = [str(MPIRUN), "-n", "3", PY, "-m", "soma_workflow.MPI_workflow_runner", "mpires"]

    first = mpi.run([*soma, f"--workflow={file}", "--nb_attempt_per_job=2", "--log_level=30"])

    assert first.returncode == 1, first.stderr  # `slow` ran past MPI_JOB_TIMEOUT, twice
    status = [str(SWF), "-r", "mpires", "status", "somaspell", "--json", "--jobs"]
    shown = json.loads(subprocess.run(status, capture_output=True, text=True).stdout)
    jobs = {job["name"]: job for job in shown["jobs"]}
    assert (jobs["quick"]["status"], jobs["quick"]["attempt"]) == (DONE, 1)
    assert (jobs["slow"]["status"], jobs["slow"]["attempt"]) == (FAILED, 2)
    assert jobs["slow"]["exit_status"] == ExitStatus.FINISHED_TERM_SIG.value
    flag.write_text("")

    again = mpi.run([*soma, "-r", str(shown["id"])])

    assert again.returncode == 0, again.stderr
    shown = json.loads(subprocess.run(status, capture_output=True, text=True).stdout)
    assert {job["status"] for job in shown["jobs"]} == {DONE}
    assert marks.read_text() == "ran\n"  # what ended well did not run again
    refused = mpi.run([*soma, "--workflow=x.json", "--deploy_epd=env.tar"])
    assert refused.returncode != 0 and "not supported" in refused.stderr


def test_rank0_s_job_process_killed_fails_its_jobs_at_once_naming_it(
    mpi: MpiGuard, tmp_path: Path
) -> None:
    jobs = [Job(["sleep", "2"], name=f"s{i}") for i in range(2)]
    after = [Job(["true"], name=f"t{i}") for i in range(4)]
    file, home = save(Workflow(jobs + after, name="child"), tmp_path), tmp_path / "home"
    options = ("--rank0-cores", "1", "--cores-per-rank", "1", "--worker-timeout", "60")
    process = mpi.start(mpi_command(home, file, *options, ranks=2), tmp_path / "run.log")
    wfc = running_controller(home)
    assert wait_until(lambda: len(list(wfc.workflows())) == 1, 60)
    (wf_id,) = list(wfc.workflows())
    ids = ids_by_name(wfc, wf_id)
    assert wait_until(lambda: all(wfc.job_status(ids[f"s{i}"]) == "running" for i in (0, 1)), 30)
    where = {name: jobs_by_name(wfc, wf_id)[name][5] for name in ("s0", "s1")}
    victim = next(name for name, rank in where.items() if rank.startswith("rank0:"))
    child = next(w for w in (runner_info(home) or {})["details"]["workers"] if w["rank"] == 0)

    os.kill(child["pid"], signal.SIGKILL)

    assert process.wait(timeout=30) == 1, (tmp_path / "run.log").read_text()  # long before 60 s
    states = jobs_by_name(wfc, wf_id)
    assert states[victim][1] == FAILED
    err = tmp_path / "err"
    wfc.retrieve_job_stdouterr(ids[victim], str(tmp_path / "o"), str(err))
    reason = f"MPI worker rank 0 on host {child['host']} left (its process ended)"
    assert reason in err.read_text()
    others = {name: entry[1] for name, entry in states.items() if name != victim}
    assert set(others.values()) == {DONE}, states  # rank 1 did the rest
    wfc.disconnect()
