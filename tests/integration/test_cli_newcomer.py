"""Issue 8's CLI bugs and a newcomer's rough edges, through the real ``swf`` script: wait
timeouts as soma-workflow means them, restart-jobs' true count, unknown queues and jobless
files refused, read-only commands that start no idle engine, engine status and config show
for people, delete --all confirmation, what the demo leaves behind, logs of a job that has
not started.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from swf_adapters.transport.pyro.protocol import WIRE_PROTOCOL
from tests.integration.cli_fixtures import SwfHome, swf_home, wait_until

pytestmark = pytest.mark.timeout(180)

#: a -> b, and c alone: every job appends to its marker file.
CHAIN = """
def counted(name):
    return Job(["sh", "-c", f"echo run >> {FILES / name}.runs"], name=name)

a, b, c = counted("a"), counted("b"), counted("c")
workflow = Workflow([a, b, c], dependencies=[(a, b)], name="chain")
"""

SLEEPER = """
workflow = Workflow([Job(["sleep", "{seconds}"], name="sleeper")], name="sleeper")
"""


@pytest.fixture()
def home() -> Iterator[SwfHome]:
    with swf_home() as private:
        yield private


def engine_running(home: SwfHome) -> bool:
    return home.swf("engine", "status").code == 0


def sleeper(home: SwfHome, seconds: float) -> str:
    file = home.python_workflow(f"sleep{seconds}.py", SLEEPER.replace("{seconds}", str(seconds)))
    return home.swf("submit", str(file), expect=0).out.strip()


# -- bug 5: wait --timeout ---------------------------------------------------------------


def test_wait_with_a_negative_timeout_waits_until_the_end(home: SwfHome) -> None:
    workflow_id = sleeper(home, 1.5)
    result = home.swf("wait", workflow_id, "--timeout", "-5", expect=0)
    assert "timed out" not in result.out
    assert home.status(workflow_id)["jobs"][0]["status"] == "done"


def test_wait_with_timeout_0_looks_once(home: SwfHome) -> None:
    workflow_id = sleeper(home, 30)
    looked = home.swf("wait", workflow_id, "--timeout", "0")
    assert looked.code == 124, str(looked)
    assert "timed out" in looked.out
    as_json = home.swf("wait", workflow_id, "--timeout", "0", "--json")
    assert as_json.code == 124 and as_json.json()["timed_out"] is True
    home.swf("stop", workflow_id, expect=0)
    assert home.swf("wait", workflow_id, "--timeout", "0").code == 1  # ended: stopped job


# -- bug 6: restart-jobs -----------------------------------------------------------------


def test_restart_jobs_reruns_the_job_and_its_children_and_counts_them(home: SwfHome) -> None:
    file = home.python_workflow("chain.py", CHAIN)
    workflow_id = home.swf("submit", str(file), expect=0).out.strip()
    home.swf("wait", workflow_id, "--timeout", "60", expect=0)
    result = home.swf("restart-jobs", workflow_id, "a", expect=0)
    assert result.out.strip() == "restarted 2 job(s): a, b", str(result)
    home.swf("wait", workflow_id, "--timeout", "60", expect=0)
    assert (home.lines("a.runs"), home.lines("b.runs"), home.lines("c.runs")) == (2, 2, 1)
    only_b = home.swf("restart-jobs", workflow_id, "b", expect=0)
    assert only_b.out.strip() == "restarted 1 job(s): b"


# -- bug 7: --queue and jobless files ----------------------------------------------------


def test_submit_refuses_a_queue_the_resource_does_not_have(home: SwfHome) -> None:
    file = home.python_workflow("q.py", 'workflow = Workflow([Job(["true"], name="t")])\n')
    refused = home.swf("submit", str(file), "--queue", "nosuch")
    assert refused.code == 4, str(refused)
    assert "has no queue 'nosuch'" in refused.err and "none configured" in refused.err
    config = home.write("queues.cfg", "[here]\nQUEUES = short long\n")
    accepted = home.swf(
        "--config", str(config), "-r", "here", "submit", str(file), "--queue", "long"
    )
    assert accepted.code == 0, str(accepted)
    wrong = home.swf("--config", str(config), "-r", "here", "submit", str(file), "--queue", "lng")
    assert wrong.code == 4 and "its queues: short, long" in wrong.err, str(wrong)


def test_an_empty_workflow_file_is_refused(home: SwfHome) -> None:
    empty = home.write("empty.json", "{}")
    checked = home.swf("validate", str(empty))
    assert checked.code in (1, 4), str(checked)  # a problem found, or unreadable
    assert "empty.json" in checked.out + checked.err
    assert "valid (0 jobs)" not in checked.out
    for command in ("submit", "run"):
        result = home.swf(command, str(empty))
        assert result.code == 4, str(result)
        assert "empty.json" in result.err
    assert not (home.root / "swf.db").exists() or home.swf("list", "--json").json() == []


# -- read-only commands start no idle engine ----------------------------------------------


def test_read_only_commands_start_no_engine_with_nothing_to_do(home: SwfHome) -> None:
    other = home.write("other.cfg", "[elsewhere]\nCPU_NB = 1\n")
    assert home.swf("--config", str(other), "list", expect=0).out.strip() == "no workflows"
    assert home.swf("list", "--json", expect=0).json() == []
    assert not engine_running(home)
    assert not home.processes(), "a read-only command left a process"


def test_read_only_commands_on_ended_workflows_start_no_engine(home: SwfHome) -> None:
    file = home.python_workflow("chain.py", CHAIN)
    workflow_id = home.swf("submit", str(file), expect=0).out.strip()
    home.swf("wait", workflow_id, "--timeout", "60", expect=0)
    home.swf("engine", "stop", expect=0)
    assert home.swf("status", workflow_id, "--jobs", expect=0).out
    assert home.swf("logs", workflow_id, "a", expect=0).code == 0
    assert home.swf("joblog", workflow_id, expect=0).out.count("\n") == 4
    assert not engine_running(home)


def test_a_read_only_command_restarts_the_engine_of_unfinished_work_and_says_so(
    home: SwfHome,
) -> None:
    workflow_id = sleeper(home, 60)  # still running after the engine stopped, under load
    assert wait_until(lambda: home.job_statuses(workflow_id)["sleeper"] == "running", 30)
    home.swf("engine", "stop", expect=0)
    result = home.swf("status", workflow_id, expect=0)
    assert "started the engine daemon" in result.err, str(result)
    assert engine_running(home)


# -- engine status, config show -------------------------------------------------------------


def test_engine_status_is_for_people(home: SwfHome) -> None:
    home.swf("engine", "start", expect=0)
    text = home.swf("engine", "status", expect=0).out
    assert re.search(r"since\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(up [\d.]+s\)", text), text
    assert re.search(r"holds\s+0 workflow\(s\) loaded", text), text
    assert re.search(rf"version\s+swf \S+, link protocol {WIRE_PROTOCOL}\s*\n", text), text
    assert "{" not in text and "pid_create_time" not in text
    assert isinstance(home.swf("engine", "status", "--json", expect=0).json()["started_at"], float)


def test_config_show_names_the_file_given_and_existing_directories(home: SwfHome) -> None:
    config = home.write("mine.cfg", "[here]\nCPU_NB = 1\n")
    shown = home.swf("--config", str(config), "-r", "here", "config", "show", "--json").json()
    assert shown["values"]["config_file"] == {"value": str(config), "source": "--config"}
    home.swf("engine", "start", expect=0)
    info = home.swf("engine", "status", "--json", expect=0).json()
    own = home.swf("config", "show", "--json", expect=0).json()
    log_dir = own["values"]["engine_log_dir"]["value"]
    assert info["log_file"].startswith(log_dir + "/"), (info["log_file"], log_dir)


def test_engine_and_config_help_show_examples(home: SwfHome) -> None:
    for group in ("engine", "config"):
        text = home.swf(group, "--help", expect=0).out
        assert "Examples:" in text and f"swf {group} " in text.split("Examples:")[1], text


# -- delete --all ---------------------------------------------------------------------------


def test_delete_all_asks_and_honours_yes(home: SwfHome) -> None:
    file = home.python_workflow("chain.py", CHAIN)
    home.swf("submit", str(file), expect=0)
    refused = home.swf("delete", "--all")
    assert refused.code == 2 and "--yes" in refused.err, str(refused)
    assert len(home.swf("list", "--json", expect=0).json()) == 1
    assert home.swf("delete", "--all", "-y", expect=0).out.strip() == "deleted 1 workflow(s)"


# -- demo --------------------------------------------------------------------------------


def test_demo_says_what_it_leaves_behind(home: SwfHome) -> None:
    scratch = home.files / "demo"
    result = home.swf("demo", "--directory", str(scratch), expect=0)
    assert f"the demo's files stay in {scratch}" in result.out
    pid = home.swf("engine", "status", "--json", expect=0).json()["pid"]
    assert f"engine daemon (pid {pid}) keeps running" in result.out
    assert "swf engine stop" in result.out
    embedded = home.swf("demo", "--embedded", "--directory", str(scratch / "2"))
    assert "keeps running" not in embedded.out, str(embedded)


# -- logs ---------------------------------------------------------------------------------


def test_logs_of_a_job_that_has_not_started_says_so(home: SwfHome) -> None:
    file = home.python_workflow(
        "waiting.py",
        """
        first = Job(["sleep", "30"], name="first")
        second = Job(["echo", "hi"], name="second")
        workflow = Workflow([first, second], dependencies=[(first, second)], name="w")
        """,
    )
    workflow_id = home.swf("submit", str(file), expect=0).out.strip()
    assert wait_until(lambda: home.job_statuses(workflow_id)["first"] == "running", 30)
    result = home.swf("logs", workflow_id, "second", expect=0)
    assert result.out == ""
    assert "has not started" in result.err, str(result)


# -- the status table ------------------------------------------------------------------


def caption(out: str) -> str:
    """The summary line under a status table."""
    return next(line for line in out.splitlines() if "(workflow_" in line or "(worklflow_" in line)


def test_status_says_done_with_failures_and_keeps_the_workflow_out_of_the_jobs_column(
    home: SwfHome,
) -> None:
    file = home.python_workflow(
        "fails.py",
        """
        bad = Job(["sh", "-c", "exit 2"], name="bad")
        child = Job(["true"], name="child")
        good = Job(["true"], name="good")
        workflow = Workflow([bad, child, good], dependencies=[(bad, child)], name="fails")
        """,
    )
    workflow_id = home.swf("submit", str(file), expect=0).out.strip()
    home.swf("wait", workflow_id, "--timeout", "60")
    out = home.swf("status", workflow_id, expect=0).out
    assert caption(out).strip() == "done, 1 failed, 1 not run  (workflow_done)", out
    assert not re.search(r"│\s*workflow\s*│", out), "the workflow status is not a job count"
    assert re.search(r"┃ job status\s*┃\s*jobs ┃", out), out


def test_status_of_a_stopped_workflow_says_stopped(home: SwfHome) -> None:
    workflow_id = sleeper(home, 30)
    assert wait_until(lambda: home.job_statuses(workflow_id)["sleeper"] == "running", 30)
    home.swf("stop", workflow_id, expect=0)
    out = home.swf("status", workflow_id, expect=0).out
    assert caption(out).startswith("stopped: 1 killed"), out


def test_waiting_jobs_are_queued_in_the_cli_and_not_submitted_in_json(home: SwfHome) -> None:
    file = home.python_workflow(
        "wide.py",
        """
        workflow = Workflow([Job(["sleep", "30"], name=f"w{i}") for i in range(4)], name="wide")
        """,
    )
    config = home.write("one.cfg", "[one]\nCPU_NB = 1\n")
    on_one = ("--config", str(config), "-r", "one")
    workflow_id = home.swf(*on_one, "submit", str(file), expect=0).out.strip()
    seen = home.wait_for_status(workflow_id, lambda s: "running" in s.values())
    assert "not_submitted" in seen.values()  # soma's string in --json
    out = home.swf(*on_one, "status", workflow_id, "--jobs", expect=0).out
    assert re.search(r"│ queued\s+│\s+3 │", out), out
    assert "not_submitted" not in out
    assert "running: 0 of 4 done, 1 running, 3 queued" in caption(out)
    home.swf(*on_one, "delete", workflow_id, expect=0)
    home.swf(*on_one, "engine", "stop", expect=0)


def test_status_tree_json_nests_groups_and_jobs(home: SwfHome) -> None:
    file = home.python_workflow(
        "grouped.py",
        """
        a, b, c = (Job(["true"], name=n) for n in "abc")
        inner = Group([b], name="inner")
        outer = Group([inner, c], name="outer")
        workflow = Workflow([a, b, c], root_group=[a, outer], name="grouped")
        """,
    )
    workflow_id = home.swf("submit", str(file), expect=0).out.strip()
    home.swf("wait", workflow_id, "--timeout", "60", expect=0)
    tree = home.swf("status", workflow_id, "--tree", "--json", expect=0).json()["tree"]
    ids = {job["name"]: job["id"] for job in home.status(workflow_id)["jobs"]}
    assert tree == [
        {"job": ids["a"], "name": "a", "status": "done"},
        {
            "group": "outer",
            "counts": {"done": 2},
            "elements": [
                {
                    "group": "inner",
                    "counts": {"done": 1},
                    "elements": [{"job": ids["b"], "name": "b", "status": "done"}],
                },
                {"job": ids["c"], "name": "c", "status": "done"},
            ],
        },
    ]


def test_the_jobs_table_fits_80_columns_with_whole_dates(home: SwfHome) -> None:
    file = home.python_workflow("chain.py", CHAIN)
    workflow_id = home.swf("submit", str(file), expect=0).out.strip()
    home.swf("wait", workflow_id, "--timeout", "60", expect=0)
    env = home.env(COLUMNS="80")
    import subprocess

    from tests.integration.cli_fixtures import SWF

    shown = subprocess.run(
        [str(SWF), "status", workflow_id, "--jobs"],
        env=env,
        cwd=home.files,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert max(len(line.rstrip()) for line in lines) <= 80, shown.stdout
    rows = [line for line in lines if re.match(r"│ \d", line)]
    assert len(rows) == 3
    for row in rows:  # one line per job, both times whole
        assert len(re.findall(r"\b\d\d:\d\d:\d\d\b", row)) == 2, row
