"""The ``swf`` command line, end to end: the real console script in subprocesses, a real
engine daemon, job host and SQLite database in a private home, real jobs.

Each test asserts what a user (or a script) relies on: the exit code documented in
``swf_entry.cli.app``, the text printed, and the JSON shapes documented in README.md.
"""

from __future__ import annotations

import copy
import json
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.integration.cli_fixtures import (
    FIXTURES,
    SwfHome,
    summary_count,
    swf_home,
    wait_until,
)

pytestmark = pytest.mark.timeout(180)

COMMANDS = [
    "validate",
    "submit",
    "list",
    "status",
    "wait",
    "logs",
    "stop",
    "restart",
    "delete",
    "stop-jobs",
    "restart-jobs",
    "run",
    "map",
    "joblog",
    "demo",
    "engine start",
    "engine stop",
    "engine status",
    "config show",
]

WORKFLOW_KEYS = {"id", "name", "status", "queue", "counts", "total"}
JOB_KEYS = {
    "id",
    "name",
    "status",
    "exit_status",
    "exit_value",
    "term_signal",
    "submitted",
    "started",
    "ended",
    "scheduler_job_id",
    "attempt",
}

#: prepare -> 3 measures (group "analysis") -> report; every job writes to stdout and
#: stderr, and appends to a marker file to count its runs.
PIPELINE = """
def job(name, text):
    marker = FILES / f"{name}.runs"
    script = f"echo {text}-out; echo {text}-err >&2; echo run >> {marker}"
    return Job(["sh", "-c", script], name=name)

prepare = job("prepare", "prepared")
measures = [job(f"measure_{i}", f"measured{i}") for i in range(3)]
report = job("report", "reported")
analysis = Group(measures, name="analysis")
dependencies = [(prepare, m) for m in measures] + [(m, report) for m in measures]
workflow = Workflow(
    [prepare, *measures, report],
    dependencies=dependencies,
    root_group=[prepare, analysis, report],
    name="pipeline",
)
"""

#: ok -> check -> after; check fails until the file "fixed" exists.
FAILING = """
def counted(name, test):
    marker = FILES / f"{name}.runs"
    return Job(["sh", "-c", f"echo run >> {marker}; {test}"], name=name)

ok = counted("ok", "true")
check = counted(
    "check",
    f"echo checking; test -f {FILES / 'fixed'} || {{ echo 'fixed is missing' >&2; exit 3; }}",
)
after = counted("after", "true")
workflow = Workflow([ok, check, after], dependencies=[(ok, check), (check, after)], name="failing")
"""

#: Two parallel slow jobs, and a third one after the first.
SLOW = """
slow = [Job(["sleep", "600"], name=f"slow{i}") for i in range(2)]
later = Job(["sh", "-c", "echo later"], name="later")
workflow = Workflow([*slow, later], dependencies=[(slow[0], later)], name="slow")
"""


@pytest.fixture(scope="module")
def home() -> Iterator[SwfHome]:
    """One home (and engine daemon) shared by the tests that do not need a fresh one."""
    with swf_home() as shared:
        yield shared


@pytest.fixture()
def fresh_home() -> Iterator[SwfHome]:
    with swf_home() as private:
        yield private


def assert_one_clear_line(err: str, *mentions: str) -> None:
    """An error is one line on stderr, without a traceback, naming its culprit."""
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: "), err
    assert "Traceback" not in err
    for mention in mentions:
        assert mention in lines[0], err


# -- help ------------------------------------------------------------------------------


@pytest.mark.parametrize("command", COMMANDS)
def test_help_of_every_command_has_an_example(fresh_home: SwfHome, command: str) -> None:
    result = fresh_home.swf(*command.split(), "--help", expect=0)
    assert f"Usage: swf {command}" in result.out
    assert "Example: swf " in result.out, result.out
    assert not (fresh_home.root / "swf.db").exists(), "--help must not touch the engine"


def test_top_level_help_lists_every_command(fresh_home: SwfHome) -> None:
    result = fresh_home.swf("--help", expect=0)
    for command in {name.split()[0] for name in COMMANDS}:
        assert re.search(rf"^\s+{command}\s", result.out, re.MULTILINE), command
    assert "swf demo" in result.out


def test_bad_usage_exits_2(fresh_home: SwfHome) -> None:
    assert fresh_home.swf("no-such-command").code == 2
    assert fresh_home.swf("status").code == 2  # missing argument
    assert fresh_home.swf("run", "x.json", "--on-interrupt", "maybe").code == 2
    assert fresh_home.swf("delete").code == 2  # neither an id nor --all


# -- demo ------------------------------------------------------------------------------


def test_demo_runs_seven_jobs(home: SwfHome) -> None:
    scratch = home.files / "demo"
    result = home.swf("demo", "--directory", str(scratch), expect=0)
    assert summary_count(result.out, "done") == 7, result.out
    assert summary_count(result.out, "failed") is None
    assert "workflow_done" in result.out
    assert "values=80000" in (scratch / "summary.txt").read_text()


# -- submit and read ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def pipeline(home: SwfHome) -> str:
    """The id of a finished PIPELINE workflow submitted under the name "pipe-a"."""
    file = home.python_workflow("pipeline.py", PIPELINE)
    result = home.swf("submit", str(file), "--name", "pipe-a", expect=0)
    workflow_id = result.out.strip()
    assert workflow_id.isdigit(), str(result)
    home.swf("wait", workflow_id, "--timeout", "60", expect=0)
    return workflow_id


def test_submit_json_shape(home: SwfHome) -> None:
    file = home.python_workflow("pipeline_json.py", PIPELINE)
    document = home.swf("submit", str(file), "--json", expect=0).json()
    assert set(document) == {"id", "name", "jobs"}
    assert isinstance(document["id"], int)
    assert document["name"] == "pipeline"  # the workflow's own name without --name
    assert document["jobs"] == 5
    home.swf("wait", str(document["id"]), "--timeout", "60", expect=0)


def test_status_by_id_and_by_name(home: SwfHome, pipeline: str) -> None:
    by_id = home.swf("status", pipeline, expect=0)
    by_name = home.swf("status", "pipe-a", expect=0)
    assert by_id.out == by_name.out
    assert f"workflow {pipeline} pipe-a" in by_id.out
    assert summary_count(by_id.out, "done") == 5, by_id.out
    assert "workflow_done" in by_id.out


def test_status_jobs_lists_every_job(home: SwfHome, pipeline: str) -> None:
    out = home.swf("status", pipeline, "--jobs", expect=0).out
    for name in ("prepare", "measure_0", "measure_1", "measure_2", "report"):
        assert re.search(rf"│ {name}\s+│ done\s+│ 0\s+│ \d\d:\d\d:\d\d │ \d\d:", out), out


def test_status_tree_shows_the_group(home: SwfHome, pipeline: str) -> None:
    out = home.swf("status", "pipe-a", "--tree", expect=0).out
    assert "analysis (3 done)" in out, out
    group_line = out.splitlines().index(next(x for x in out.splitlines() if "analysis (" in x))
    members = out.splitlines()[group_line + 1 : group_line + 4]
    assert all("measure_" in line and "done" in line for line in members), out


def test_status_json_shape(home: SwfHome, pipeline: str) -> None:
    plain = home.swf("status", pipeline, "--json", expect=0).json()
    assert set(plain) == WORKFLOW_KEYS
    assert plain["id"] == int(pipeline)
    assert plain["name"] == "pipe-a"
    assert plain["counts"] == {"done": 5}
    assert plain["total"] == 5
    detailed = home.status(pipeline)
    assert set(detailed) == WORKFLOW_KEYS | {"jobs", "transfers"}
    assert detailed["transfers"] == []
    assert all(set(job) == JOB_KEYS for job in detailed["jobs"])
    assert {job["exit_value"] for job in detailed["jobs"]} == {0}


def test_list_json_shape(home: SwfHome, pipeline: str) -> None:
    rows = home.swf("list", "--json", expect=0).json()
    assert isinstance(rows, list)
    dates = {"expiration", "submitted", "started", "ended"}
    assert all(set(row) == WORKFLOW_KEYS | dates for row in rows)
    mine = next(row for row in rows if row["id"] == int(pipeline))
    assert mine["name"] == "pipe-a"
    assert mine["status"] == "workflow_done"
    assert mine["counts"] == {"done": 5}
    assert mine["submitted"] <= mine["started"] <= mine["ended"]  # ISO dates sort as text
    human = home.swf("list", expect=0).out
    assert re.search(rf"│ {pipeline}\s+│ pipe-a\s+│ workflow_done\s+│ 5\s+│ 5\s+│ 0 ", human)


def test_wait_json_of_a_finished_workflow(home: SwfHome, pipeline: str) -> None:
    document = home.swf("wait", "pipe-a", "--json", expect=0).json()
    assert set(document) == WORKFLOW_KEYS | {"jobs", "timed_out"}
    assert document["timed_out"] is False
    assert len(document["jobs"]) == 5


def test_logs_stdout_and_stderr(home: SwfHome, pipeline: str) -> None:
    assert home.swf("logs", pipeline, "measure_1", expect=0).out == "measured1-out\n"
    assert home.swf("logs", "pipe-a", "report", "--stderr", expect=0).out == "reported-err\n"
    job_id = next(job["id"] for job in home.status(pipeline)["jobs"] if job["name"] == "prepare")
    assert home.swf("logs", pipeline, str(job_id), expect=0).out == "prepared-out\n"


def test_logs_follow_a_job_that_has_not_started_yet(home: SwfHome) -> None:
    file = home.python_workflow(
        "follow.py",
        """
        first = Job(["sleep", "1.5"], name="first")
        # 'café' split across two writes: bytes are copied as they are.
        text = "printf 'caf\\\\303'; sleep 0.4; printf '\\\\251 and more\\\\n'"
        second = Job(["sh", "-c", text], name="second")
        workflow = Workflow([first, second], dependencies=[(first, second)])
        """,
    )
    workflow_id = home.swf("submit", str(file), expect=0).out.strip()
    followed = home.swf("logs", "--follow", workflow_id, "second", expect=0)
    assert followed.out == "café and more\n"
    assert home.job_statuses(workflow_id) == {"first": "done", "second": "done"}


# -- failures and restart ----------------------------------------------------------------


def test_failed_run_then_restart_reruns_only_the_failed_jobs(home: SwfHome) -> None:
    file = home.python_workflow("failing.py", FAILING)
    result = home.swf("run", str(file))
    assert result.code == 1, str(result)
    workflow_id = re.search(r"workflow (\d+) submitted \(3 jobs\)", result.out)
    assert workflow_id, result.out
    assert summary_count(result.out, "done") == 1
    assert summary_count(result.out, "failed") == 2
    lines = result.out.splitlines()
    failed = lines.index(next(x for x in lines if x.startswith("failed check ")))
    assert "exit code 3" in lines[failed]
    assert "fixed is missing" in lines[failed + 1]  # the tail of its stderr
    assert "checking" not in result.out  # stdout is not the culprit's story
    assert any(x.startswith("failed after ") and "not run" in x for x in lines), result.out

    (home.files / "fixed").write_text("")
    restarted = home.swf("restart", workflow_id.group(1), expect=0)
    assert "restarted" in restarted.out
    home.swf("wait", workflow_id.group(1), "--timeout", "60", expect=0)
    assert (home.lines("ok.runs"), home.lines("check.runs"), home.lines("after.runs")) == (1, 2, 1)
    again = home.swf("restart", workflow_id.group(1), expect=0)
    assert "nothing to restart" in again.out


def test_names_are_shown_as_written_never_as_markup(home: SwfHome) -> None:
    """Job, group and workflow names like "a[/b]" once crashed rich's markup parser."""
    file = home.python_workflow(
        "odd.py",
        """
        odd = Job(["sh", "-c", "echo '[red]oops[/red]' >&2; exit 2"], name="a[/b] [bold]x")
        workflow = Workflow(
            [odd], root_group=[Group([odd], name="g[/i]")], name="w [italic]:smile:"
        )
        """,
    )
    run = home.swf("run", str(file))
    assert run.code == 1, str(run)
    assert "failed a[/b] [bold]x (id " in run.out
    assert "[red]oops[/red]" in run.out
    assert "w [italic]:smile:" in run.out
    submitted = re.search(r"workflow (\d+) submitted", run.out)
    assert submitted, run.out
    shown = home.swf("status", submitted.group(1), "--jobs", "--tree", expect=0).out
    assert "│ a[/b] [bold]x │ failed" in shown
    assert "g[/i] (1 failed)" in shown


def test_wait_of_a_failed_workflow_exits_1_with_the_stderr_tail(home: SwfHome) -> None:
    file = home.write(
        "fail_once.py",
        """
        from swf_domain.model import Job, Workflow
        workflow = Workflow([Job(["sh", "-c", "echo doomed >&2; exit 7"], name="doomed")])
        """,
    )
    workflow_id = home.swf("submit", str(file), expect=0).out.strip()
    result = home.swf("wait", workflow_id, "--timeout", "60")
    assert result.code == 1, str(result)
    assert "failed doomed" in result.out and "exit code 7" in result.out
    assert "doomed\n" in result.out.split("exit code 7", 1)[1]


def test_wait_timeout_exits_124(home: SwfHome) -> None:
    file = home.python_workflow("slow_wait.py", SLOW)
    workflow_id = home.swf("submit", str(file), expect=0).out.strip()
    started = time.monotonic()
    result = home.swf("wait", workflow_id, "--timeout", "0.5", "--json")
    assert result.code == 124, str(result)
    assert result.json()["timed_out"] is True
    assert time.monotonic() - started < 20
    home.swf("stop", workflow_id, expect=0)


# -- control ---------------------------------------------------------------------------


def test_stop_jobs_restart_jobs_stop_and_delete(home: SwfHome) -> None:
    file = home.python_workflow("slow.py", SLOW)
    workflow_id = home.swf("submit", str(file), "--name", "control", expect=0).out.strip()
    home.wait_for_status(workflow_id, lambda s: s["slow0"] == "running")

    assert home.swf("stop-jobs", workflow_id, "slow0", expect=0).out.strip() == "stopped 1 job(s)"
    statuses = home.wait_for_status(workflow_id, lambda s: s["slow0"] == "failed")
    assert statuses["slow1"] in ("queued_active", "running")  # only slow0 was stopped
    assert statuses["later"] not in ("running", "done")
    killed = next(job for job in home.status(workflow_id)["jobs"] if job["name"] == "slow0")
    assert killed["exit_status"] == "killed_by_user"

    assert home.swf("restart-jobs", "control", "slow0", expect=0).out.strip() == (
        "restarted 1 job(s): slow0"
    )
    back = home.wait_for_status(workflow_id, lambda s: s["slow0"] != "failed")
    assert back["slow0"] in ("submission_pending", "queued_active", "running")

    assert home.swf("stop", "control", expect=0).out.strip() == f"workflow {workflow_id} stopped"
    statuses = home.wait_for_status(workflow_id, lambda s: "running" not in s.values())
    assert set(statuses.values()) == {"failed"}
    exits = {job["name"]: job["exit_status"] for job in home.status(workflow_id)["jobs"]}
    assert exits == {
        "slow0": "killed_by_user",
        "slow1": "killed_by_user",
        "later": "aborted_before_running",
    }

    assert home.swf("delete", workflow_id, expect=0).out.strip() == "deleted 1 workflow(s)"
    gone = home.swf("status", workflow_id)
    assert gone.code == 3
    assert workflow_id not in {str(row["id"]) for row in home.swf("list", "--json").json()}


def test_delete_all(fresh_home: SwfHome) -> None:
    file = fresh_home.python_workflow("slow.py", SLOW)
    for _ in range(2):
        fresh_home.swf("submit", str(file), expect=0)
    assert len(fresh_home.swf("list", "--json", expect=0).json()) == 2
    refused = fresh_home.swf("delete", "--all", expect=2)  # no terminal to ask: needs --yes
    assert "without confirmation: add --yes" in refused.err
    assert len(fresh_home.swf("list", "--json", expect=0).json()) == 2
    deleted = fresh_home.swf("delete", "--all", "--yes", expect=0)
    assert deleted.out.strip() == "deleted 2 workflow(s)"
    assert fresh_home.swf("list", "--json", expect=0).json() == []
    assert fresh_home.swf("list", expect=0).out.strip() == "no workflows"


def test_ambiguous_name_asks_for_an_id(home: SwfHome) -> None:
    file = home.write(
        "twice.py",
        """
        from swf_domain.model import Job, Workflow
        workflow = Workflow([Job(["true"], name="t")], name="twice")
        """,
    )
    ids = [home.swf("submit", str(file), expect=0).out.strip() for _ in range(2)]
    result = home.swf("status", "twice")
    assert result.code == 3
    assert_one_clear_line(result.err, "twice", "use an id", *ids)


# -- errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "mentions"),
    [
        (("status", "999999"), ("999999",)),
        (("status", "no-such-name"), ("no-such-name",)),
        (("wait", "999999"), ("999999",)),
        (("stop", "no-such-name"), ("no-such-name",)),
        (("delete", "999999"), ("999999",)),
        (("logs", "999999", "x"), ("999999",)),
        (("status", "a[/b]"), ("a[/b]",)),  # user text is never read as markup
    ],
)
def test_unknown_workflow_exits_3_with_one_line(
    home: SwfHome, args: tuple[str, ...], mentions: tuple[str, ...]
) -> None:
    result = home.swf(*args)
    assert result.code == 3, str(result)
    assert_one_clear_line(result.err, *mentions)


def test_unknown_job_exits_3(home: SwfHome, pipeline: str) -> None:
    for args in (("logs", pipeline, "nojob"), ("stop-jobs", pipeline, "nojob", "report")):
        result = home.swf(*args)
        assert result.code == 3, str(result)
        assert_one_clear_line(result.err, "nojob", pipeline)


def test_debug_shows_the_traceback(home: SwfHome) -> None:
    result = home.swf("--debug", "status", "999999")
    assert result.code == 3  # the documented exit code, traceback or not
    assert "Traceback (most recent call last)" in result.err
    assert "UnknownObjectError: no workflow with id 999999" in result.err


def test_unusable_home_is_one_clear_line(fresh_home: SwfHome) -> None:
    blocker = fresh_home.files / "a-file"
    blocker.write_text("")
    result = fresh_home.swf("--home", str(blocker / "home"), "list")
    assert result.code == 4, str(result)
    assert_one_clear_line(result.err, str(blocker))


# -- validate --------------------------------------------------------------------------


def fixture_variant(home: SwfHome, name: str, change: object) -> Path:
    """A copy of fixture a (step1 -> step2 -> step3 in a group), changed by ``change``."""
    document = json.loads((FIXTURES / "a_chain_group.json").read_text())
    variant = copy.deepcopy(document)
    assert callable(change)
    change(variant)
    path = home.files / name
    path.write_text(json.dumps(variant, indent=1))
    return path


def test_validate_valid_files(fresh_home: SwfHome) -> None:
    for fixture in sorted(FIXTURES.glob("*.json")):
        result = fresh_home.swf("validate", str(fixture), expect=0)
        assert f"{fixture}: valid (" in result.out
    python = fresh_home.python_workflow("pipeline.py", PIPELINE)
    assert fresh_home.swf("validate", str(python), expect=0).out.strip() == (
        f"{python}: valid (5 jobs)"
    )
    document = fresh_home.swf("validate", str(python), "--json", expect=0).json()
    assert document == {"file": str(python), "valid": True, "jobs": 5, "problems": []}
    assert not (fresh_home.root / "swf.db").exists(), "validate needs no engine"


@pytest.mark.parametrize(
    ("name", "change", "mentions"),
    [
        (
            "cycle.json",
            lambda d: d["dependencies"].append(["<tuple>", 2, 0]),
            ("cycle", "'step1' -> 'step2' -> 'step3' -> 'step1'"),
        ),
        (
            "empty.json",
            lambda d: d["serialized_jobs"]["1"].update(command=[]),
            ("job 'step2'", "empty command"),
        ),
        (
            "param.json",
            lambda d: d["serialized_jobs"]["2"].update(parallel_job_info={"cpu_per_node": 0}),
            ("job 'step3'", "cpu_per_node"),
        ),
    ],
)
def test_validate_broken_json_exits_1(
    fresh_home: SwfHome, name: str, change: object, mentions: tuple[str, ...]
) -> None:
    path = fixture_variant(fresh_home, name, change)
    result = fresh_home.swf("validate", str(path))
    assert result.code == 1, str(result)
    first = result.out.splitlines()[0]
    assert first.startswith(f"{path}: ")
    for mention in mentions:
        assert mention in first, result.out
    assert result.out.splitlines()[-1] == "1 problem(s) found"


def test_what_a_workflow_file_prints_stays_off_the_json(fresh_home: SwfHome) -> None:
    file = fresh_home.python_workflow(
        "chatty.py", 'print("building...")\nworkflow = Workflow([Job(["true"], name="t")])\n'
    )
    result = fresh_home.swf("validate", str(file), "--json", expect=0)
    assert result.json()["valid"] is True
    assert result.err == "building...\n"


def test_validate_lists_every_problem(fresh_home: SwfHome) -> None:
    file = fresh_home.write(
        "broken.py",
        """
        from swf_domain.model import Job, Workflow
        a, b, c = (Job(["true"], name=n) for n in "abc")
        ghost = Job(["true"], name="ghost")
        empty = Job([], name="empty")
        param = Job(["echo"], name="param", parallel_job_info={"cpu_per_node": 0})
        workflow = Workflow(
            [a, b, c, empty, param],
            dependencies=[(a, b), (b, c), (c, a), (ghost, a)],
        )
        """,
    )
    human = fresh_home.swf("validate", str(file))
    assert human.code == 1
    assert human.out.splitlines()[-1] == "4 problem(s) found"
    document = fresh_home.swf("validate", str(file), "--json").json()
    assert document["valid"] is False and document["jobs"] == 5
    assert all(set(p) == {"error", "culprit", "message"} for p in document["problems"])
    by_culprit = {p["culprit"]: p for p in document["problems"]}
    assert set(by_culprit) == {"dependency #4", "cycle", "job 'empty'", "job 'param'"}
    assert "job 'ghost' is not in workflow.jobs" in by_culprit["dependency #4"]["message"]
    assert by_culprit["cycle"]["error"] == "WorkflowError"
    assert by_culprit["job 'empty'"]["error"] == "JobError"
    for problem in document["problems"]:
        assert f"{file}: {problem['message']}" in human.out.splitlines()


@pytest.mark.parametrize(
    ("name", "text", "mentions"),
    [
        ("bad.json", '{"name": "x",\n  "jobs": [1,\n  }', ("bad.json", "line 3, column 3")),
        ("syntax.py", "x = 1\ndef broken(:\n", ("syntax.py:2", "syntax error")),
        ("nothing.py", "x = 1\n", ("nothing.py", "found nothing")),
        ("raises.py", "raise RuntimeError('no data')\n", ("raises.py", "no data")),
        ("missing.json", "", ("missing.json", "no such file")),
    ],
)
def test_validate_unreadable_file_exits_4(
    fresh_home: SwfHome, name: str, text: str | None, mentions: tuple[str, ...]
) -> None:
    missing = name == "missing.json"
    path = fresh_home.files / name if missing else fresh_home.write(name, text or "")
    result = fresh_home.swf("validate", str(path))
    assert result.code == 4, str(result)
    assert result.out == ""
    assert_one_clear_line(result.err, *mentions)


def test_unreadable_file_is_refused_by_every_command(fresh_home: SwfHome) -> None:
    path = fresh_home.write("bad.json", '{"name": "x",\n  "jobs": [1,\n  }')
    for command in ("run", "submit"):
        result = fresh_home.swf(command, str(path))
        assert result.code == 4, str(result)
        assert_one_clear_line(result.err, "bad.json", "line 3, column 3")
    json_result = fresh_home.swf("validate", str(path), "--json")
    assert json_result.code == 4, str(json_result)
    report = json_result.json()  # still a report: scripts parse it whatever happened
    assert report["valid"] is False and report["jobs"] is None
    [problem] = report["problems"]
    assert problem["error"] == "SerializationError" and "line 3, column 3" in problem["message"]
    assert not (fresh_home.root / "engine.json").exists(), "no engine for a bad file"


def test_json_and_python_files_get_the_same_report(fresh_home: SwfHome) -> None:
    """One validation path: every problem, dependencies numbered from 1, both ends named."""
    dangling = fixture_variant(
        fresh_home, "dangling.json", lambda d: d["dependencies"].append(["<tuple>", 2, 42])
    )
    result = fresh_home.swf("validate", str(dangling), "--json")
    assert result.code == 1, str(result)
    messages = [problem["message"] for problem in result.json()["problems"]]
    number = len(json.loads(dangling.read_text())["dependencies"])
    assert messages == [
        f"dependency #{number} (job 2 ('step3') -> unknown job id 42) refers to unknown job id 42"
    ]
    several = fresh_home.write(
        "several.json",
        """
        {"jobs": [0, 1, 2],
         "serialized_jobs": {"0": {"command": ["true"], "name": "a"},
                             "1": {"command": "not a list", "name": "b"},
                             "2": {"command": [], "name": "c"}},
         "dependencies": [["<tuple>", 0, 2], ["<tuple>", 2, 9], ["<tuple>", 1, 2]]}
        """,
    )
    python = fresh_home.python_workflow(
        "several.py",
        """
        a, c = Job(["true"], name="a"), Job([], name="c")
        workflow = Workflow([a, c], dependencies=[(a, c), (c, Job(["x"], name="z"))])
        """,
    )
    reports = {
        path.suffix: fresh_home.swf("validate", str(path), "--json").json()
        for path in (several, python)
    }
    json_culprits = [problem["culprit"] for problem in reports[".json"]["problems"]]
    assert json_culprits == ["job 1 ('b')", "dependency #2", "job 'c'"]
    python_culprits = [problem["culprit"] for problem in reports[".py"]["problems"]]
    assert python_culprits == ["dependency #2", "job 'c'"]


# -- the shared fixtures, run ------------------------------------------------------------


@pytest.mark.parametrize(
    ("fixture", "jobs"),
    [("a_chain_group", 3), ("b_barrier", 5), ("e_fanout_1000", 1002)],
)
def test_run_fixture_succeeds(home: SwfHome, fixture: str, jobs: int) -> None:
    result = home.swf("run", str(FIXTURES / f"{fixture}.json"), "--json", expect=0)
    document = result.json()
    assert document["status"] == "workflow_done"
    assert document["counts"] == {"done": jobs}
    assert document["timed_out"] is False


def test_run_fixture_with_untranslated_paths_fails(home: SwfHome) -> None:
    """d uses a SharedResourcePath namespace this resource has no translation for."""
    result = home.swf("run", str(FIXTURES / "d_special_paths.json"))
    assert result.code == 1, str(result)
    assert summary_count(result.out, "failed") == 3
    assert "failed copy_to_tmp" in result.out
    assert "namespace 'MyApp' has no translation" in result.out


# -- engine and configuration -----------------------------------------------------------


def test_run_embedded_starts_no_daemon_and_refuses_to_run_beside_one(
    fresh_home: SwfHome,
) -> None:
    file = fresh_home.python_workflow("pipeline.py", PIPELINE)
    document = fresh_home.swf("run", "--embedded", "--json", str(file), expect=0).json()
    assert document["counts"] == {"done": 5}
    assert fresh_home.swf("engine", "status").code == 1  # the engine lived in `run`
    # A reader sees what the embedded engine stored, and starts no daemon for it.
    assert fresh_home.status(str(document["id"]))["counts"] == {"done": 5}
    assert fresh_home.swf("engine", "status").code == 1
    fresh_home.swf("engine", "start", expect=0)
    beside = fresh_home.swf("run", "--embedded", str(file))
    assert beside.code == 5, str(beside)
    assert_one_clear_line(beside.err, "engine daemon already runs", "swf engine stop")


def test_engine_start_status_stop(fresh_home: SwfHome) -> None:
    fresh_home.write("rel.cfg", "[res]\nCPU_NB = 1\n")
    engine = ("--config", "rel.cfg", "-r", "res", "engine")  # relative to the shell's cwd
    absent = fresh_home.swf(*engine, "status")
    assert absent.code == 1 and absent.out.strip() == "no engine running"
    assert fresh_home.swf(*engine, "status", "--json").json() is None

    started = fresh_home.swf(*engine, "start", expect=0)
    assert re.match(r"engine running \(pid \d+, socket .*engine\.sock\)", started.out)
    info = fresh_home.swf(*engine, "status", "--json", expect=0).json()
    assert {"pid", "socket", "started_at", "resource", "version"} <= set(info)
    assert info["state_dir"] == str(fresh_home.root)
    assert info["resource"] == "res"
    assert info["config_file"] == str(fresh_home.files / "rel.cfg")  # the daemon found it
    process = psutil.Process(info["pid"])
    assert process.is_running()
    human = fresh_home.swf(*engine, "status", expect=0).out
    assert re.search(rf"^pid\s+{info['pid']}\s*$", human, re.MULTILINE), human
    assert re.search(r"^since\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(up ", human, re.MULTILINE)

    again = fresh_home.swf(*engine, "start", "--json", expect=0).json()
    assert again["pid"] == info["pid"]  # one engine per home

    assert fresh_home.swf(*engine, "stop", expect=0).out.strip() == "engine stopped"
    assert wait_until(lambda: not process.is_running(), 10)
    assert fresh_home.swf(*engine, "stop", expect=0).out.strip() == "no engine was running"
    assert fresh_home.swf(*engine, "status").code == 1


def test_config_show_names_each_source(fresh_home: SwfHome) -> None:
    config = fresh_home.write("swf.cfg", "[res]\nCPU_NB = 3\nFOO_BAR = 12\n")
    document = fresh_home.swf("--config", str(config), "-r", "res", "config", "show", "--json")
    assert document.code == 0, str(document)
    shown = document.json()
    assert {"file", "resource", "values"} <= set(shown)
    assert shown["file"] == str(config) and shown["resource"] == "res"
    assert shown["values"]["cpu_nb"] == {"value": 3, "source": f"{config}:[res]:line 2"}
    assert shown["values"]["state_dir"]["value"] == str(fresh_home.root)
    assert all(set(entry) == {"value", "source"} for entry in shown["values"].values())
    assert shown["unknown_options"] == {"FOO_BAR": "12"}

    human = fresh_home.swf("--config", str(config), "-r", "res", "config", "show", expect=0)
    assert f"file: {config}" in human.out
    assert re.search(rf"│ cpu_nb\s+│ 3\s+│ {re.escape(str(config))}:\[res\]:line 2 ", human.out)
    assert "unknown option (not used): FOO_BAR = 12" in human.out
    warning = [line for line in human.err.splitlines() if line.strip()]
    assert len(warning) == 1 and warning[0].startswith("warning: ")
    assert "line 3" in warning[0] and "FOO_BAR" in warning[0]


def test_bad_config_exits_4(fresh_home: SwfHome) -> None:
    config = fresh_home.write("bad.cfg", "[res]\nCPU_NB = lots\n")
    result = fresh_home.swf("--config", str(config), "-r", "res", "list")
    assert result.code == 4, str(result)
    assert_one_clear_line(result.err, str(config), "line 2", "CPU_NB")
    assert not (fresh_home.root / "engine.json").exists()


# -- Ctrl-C during run --------------------------------------------------------------------


def interrupt_run(home: SwfHome, mode: str) -> tuple[subprocess.CompletedProcess[str], str]:
    """Start ``swf run --on-interrupt MODE`` of SLOW, SIGINT it once its jobs run."""
    # Long enough that the run has not ended when the SIGINT comes, even under load.
    seconds = "30" if mode == "stop" else "15"
    file = home.python_workflow(f"interrupted_{mode}.py", SLOW.replace('"600"', f'"{seconds}"'))
    process = home.popen("run", "--on-interrupt", mode, str(file))
    try:
        workflow_id = ""
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.match(r"workflow (\d+) submitted", line)
        assert match, line
        workflow_id = match.group(1)
        home.wait_for_status(workflow_id, lambda s: s["slow0"] == "running")
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return subprocess.CompletedProcess(process.args, process.returncode, line + out, err), (
        workflow_id
    )


def test_interrupt_with_stop_stops_the_workflow(home: SwfHome) -> None:
    completed, workflow_id = interrupt_run(home, "stop")
    assert completed.returncode == 130, completed
    assert f"workflow {workflow_id} stopped" in completed.stderr
    assert "Traceback" not in completed.stderr
    statuses = home.wait_for_status(workflow_id, lambda s: "running" not in s.values())
    assert statuses == {"slow0": "failed", "slow1": "failed", "later": "failed"}
    exits = {job["exit_status"] for job in home.status(workflow_id)["jobs"]}
    assert "killed_by_user" in exits


def test_interrupt_with_detach_leaves_it_running(home: SwfHome) -> None:
    completed, workflow_id = interrupt_run(home, "detach")
    assert completed.returncode == 130, completed
    assert f"detached: workflow {workflow_id} goes on" in completed.stderr
    assert "Traceback" not in completed.stderr
    finished = home.swf("wait", workflow_id, "--timeout", "60", "--json", expect=0).json()
    assert finished["counts"] == {"done": 3}


def test_submit_with_a_past_expiration_is_refused(home: SwfHome) -> None:
    """Issue 8: ``--expiration -1`` was accepted, then the workflow deleted a minute later."""
    file = home.python_workflow("expiring.py", PIPELINE)
    before = home.swf("list", "--json", expect=0).json()
    result = home.swf("submit", str(file), "--name", "expiring", "--expiration", "-1")
    assert result.code == 4
    assert_one_clear_line(result.err, "expiration date", "not in the future")
    assert home.swf("list", "--json", expect=0).json() == before


TRANSFERS = """
from swf_entry.client import FileTransfer, Job, Workflow
source = FileTransfer(True, str(FILES / "in.txt"), name="source")
target = FileTransfer(False, str(FILES / "out.txt"), name="target")
job = Job(["cp", source, target], name="copy", referenced_input_files=[source],
          referenced_output_files=[target])
workflow = Workflow([job], name="transfers")
"""


def test_status_and_transfer_on_the_local_resource(home: SwfHome) -> None:
    """A local resource shares the files: transfers are used in place, nothing moves."""
    (home.files / "in.txt").write_text("data")
    file = home.python_workflow("transfers.py", TRANSFERS)
    workflow_id = home.swf("submit", str(file), expect=0).out.strip()
    home.swf("wait", workflow_id, "--timeout", "60", expect=0)
    shown = home.status(workflow_id)["transfers"]
    assert [(t["is_input"], t["status"]) for t in shown] == [
        (True, "on both sides"),
        (False, "on both sides"),
    ]
    assert shown[0]["engine_path"] == shown[0]["client_path"]
    table = home.swf("status", workflow_id, "--jobs", expect=0).out
    assert "file transfers" in table and "on both sides" in table, table
    moved = home.swf("transfer", workflow_id, expect=0)
    assert f"workflow {workflow_id}: 0 transfer(s) sent" in moved.out, str(moved)
    assert (home.files / "out.txt").read_text() == "data"
