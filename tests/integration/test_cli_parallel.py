"""What GNU Parallel and Snakemake users reach for first, through the real ``swf`` script:
``swf map`` fan-out with GNU Parallel's replacement strings, ``swf joblog``, ``-j N``,
``--name`` and ``--resume`` (rerun only what failed), with real jobs and a real store.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.cli_fixtures import SWF, SwfHome, swf_home

pytestmark = pytest.mark.timeout(180)

JOBLOG_HEADER = [
    "Seq",
    "Host",
    "Starttime",
    "JobRuntime",
    "Send",
    "Receive",
    "Exitval",
    "Signal",
    "Command",
]


@pytest.fixture()
def home() -> Iterator[SwfHome]:
    with swf_home() as private:
        yield private


def joblog_rows(home: SwfHome, workflow: str) -> list[dict[str, str]]:
    text = home.swf("joblog", workflow, expect=0).out
    rows = list(csv.reader(io.StringIO(text), delimiter="\t"))
    assert rows[0] == JOBLOG_HEADER, text
    return [dict(zip(JOBLOG_HEADER, row, strict=True)) for row in rows[1:]]


# -- swf map: templating, without a shell -----------------------------------------------


def test_map_dry_run_prints_gnu_parallel_replacements(home: SwfHome) -> None:
    result = home.swf(
        "map", "--dry-run", "echo {#} {} {.} {/} {//} {/.}", ":::", "dir.d/a.tar.gz", "b", expect=0
    )
    assert result.out.splitlines() == [
        "echo 1 dir.d/a.tar.gz dir.d/a.tar a.tar.gz dir.d a.tar",
        "echo 2 b b b . b",
    ]
    assert not (home.root / "swf.db").exists(), "--dry-run must not touch the store"


def test_map_dry_run_sources_combine_and_number(home: SwfHome) -> None:
    result = home.swf("map", "--dry-run", "echo {1}-{2} {2.}", ":::", "a", "b", ":::", "x.1", "y.2")
    assert result.code == 0, str(result)
    assert result.out.splitlines() == [
        "echo a-x.1 x",
        "echo a-y.2 y",
        "echo b-x.1 x",
        "echo b-y.2 y",
    ]


def test_map_appends_the_input_without_replacement_and_keeps_words(home: SwfHome) -> None:
    # Several words: the shell already split them; no replacement string: {} is appended.
    result = home.swf("map", "--dry-run", "gzip", "-9", ":::", "a b", "c;d", expect=0)
    assert [shlex.split(line) for line in result.out.splitlines()] == [
        ["gzip", "-9", "a b"],
        ["gzip", "-9", "c;d"],
    ]


def test_map_inputs_from_files_and_stdin(home: SwfHome) -> None:
    listing = home.write("inputs.txt", "one\ntwo\n")
    other = home.write("more.txt", "three\n")
    from_files = home.swf("map", "--dry-run", "echo {}", "::::", str(listing), str(other))
    assert from_files.out.splitlines() == ["echo one", "echo two", "echo three"], str(from_files)
    with_a = home.swf("map", "--dry-run", "-a", str(listing), "echo {}", expect=0)
    assert with_a.out.splitlines() == ["echo one", "echo two"]
    piped = subprocess.run(
        [str(SWF), "map", "--dry-run", "--json", "echo {}"],
        input="p q\nr\n",
        capture_output=True,
        text=True,
        env=home.env(),
        cwd=home.files,
        timeout=60,
    )
    assert piped.returncode == 0, piped.stderr
    assert [job["argv"] for job in json.loads(piped.stdout)] == [["echo", "p q"], ["echo", "r"]]


def test_map_refuses_bad_input_clearly(home: SwfHome) -> None:
    no_inputs = home.swf("map", "echo {}", ":::")
    assert no_inputs.code == 4 and "followed by no argument" in no_inputs.err, str(no_inputs)
    missing = home.swf("map", "echo {}", "::::", "nowhere.txt")
    assert missing.code == 4 and "nowhere.txt" in missing.err, str(missing)
    unbalanced = home.swf("map", "echo 'oops {}", ":::", "a")
    assert unbalanced.code == 4 and "quotation" in unbalanced.err, str(unbalanced)


def test_map_runs_each_input_as_one_argument_never_through_a_shell(home: SwfHome) -> None:
    (home.files / "a b.txt").write_text("spaces\n")
    hostile = "x; touch pwned"
    result = home.swf(
        "map", "-j", "2", "--name", "copies", "cp {} {.}.copy", ":::", "a b.txt", hostile
    )
    assert result.code == 1, str(result)  # cp of the hostile name fails: no such file
    assert (home.files / "a b.copy").read_text() == "spaces\n"
    assert not (home.files / "pwned").exists(), "an input went through a shell"
    document = home.swf("status", "copies", "--jobs", "--json", expect=0).json()
    by_name = {job["name"]: job for job in document["jobs"]}
    assert by_name["a b.txt"]["status"] == "done"
    assert by_name[hostile]["status"] == "failed"
    assert by_name[hostile]["exit_value"] == 1


# -- joblog ------------------------------------------------------------------------------


def test_joblog_lists_every_job_with_exit_values_and_commands(home: SwfHome) -> None:
    result = home.swf("map", "--name", "codes", "sh -c 'sleep 0.2; exit {}'", ":::", "0", "3")
    assert result.code == 1, str(result)
    rows = joblog_rows(home, "codes")
    assert [row["Seq"] for row in rows] == ["1", "2"]
    assert [row["Exitval"] for row in rows] == ["0", "3"]
    assert [row["Signal"] for row in rows] == ["0", "0"]
    assert all(row["Host"] == ":" for row in rows)
    assert [shlex.split(row["Command"]) for row in rows] == [
        ["sh", "-c", "sleep 0.2; exit 0"],
        ["sh", "-c", "sleep 0.2; exit 3"],
    ]
    for row in rows:
        assert float(row["Starttime"]) > 1_600_000_000
        assert 0.15 <= float(row["JobRuntime"]) < 30, row
    written = home.files / "codes.log"
    home.swf("joblog", "codes", "-o", str(written), expect=0)
    assert written.read_text() == home.swf("joblog", "codes", expect=0).out


def test_joblog_of_a_job_killed_by_a_signal_and_of_one_not_run(home: SwfHome) -> None:
    file = home.python_workflow(
        "killed.py",
        """
        killed = Job(["sh", "-c", "kill -TERM $$"], name="killed")
        after = Job(["true"], name="after")
        workflow = Workflow([killed, after], dependencies=[(killed, after)], name="killed")
        """,
    )
    assert home.swf("run", str(file)).code == 1
    first, second = joblog_rows(home, "killed")
    assert first["Signal"] == "15", first
    assert (second["Exitval"], second["Starttime"]) == ("-1", "0.000")  # never ran


# -- -j, --name, --resume ---------------------------------------------------------------


def intervals(home: SwfHome, workflow: str) -> list[tuple[float, float]]:
    rows = joblog_rows(home, workflow)
    return sorted(
        (float(row["Starttime"]), float(row["Starttime"]) + float(row["JobRuntime"]))
        for row in rows
    )


def test_run_j1_runs_one_job_at_a_time_and_names_the_workflow(home: SwfHome) -> None:
    file = home.python_workflow(
        "three.py",
        """
        workflow = Workflow([Job(["sleep", "0.5"], name=f"s{i}") for i in range(3)], name="three")
        """,
    )
    result = home.swf("run", str(file), "-j", "1", "--name", "serial", expect=0)
    assert "submitted (3 jobs)" in result.out
    spans = intervals(home, "serial")
    assert len(spans) == 3
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert start >= end - 0.05, spans  # one at a time
    names = [row["name"] for row in home.swf("list", "--json", expect=0).json()]
    assert names == ["serial"]


def test_run_j2_lets_two_jobs_overlap(home: SwfHome) -> None:
    file = home.python_workflow(
        "two.py", 'workflow = Workflow([Job(["sleep", "1"], name=f"s{i}") for i in range(2)])\n'
    )
    home.swf("run", str(file), "-j", "2", "--name", "pair", expect=0)
    (_, end_a), (start_b, _) = intervals(home, "pair")
    assert start_b < end_a, "with -j 2 both jobs run at once"


def test_j_is_refused_while_a_daemon_drives_the_workflows(home: SwfHome) -> None:
    home.swf("engine", "start", expect=0)
    file = home.python_workflow("one.py", 'workflow = Workflow([Job(["true"], name="t")])\n')
    refused = home.swf("run", str(file), "-j", "2")
    assert refused.code == 5, str(refused)
    assert "swf engine stop" in refused.err


def test_resume_reruns_only_what_failed_in_the_same_workflow(home: SwfHome) -> None:
    script = "echo run >> {}.runs; test -f {}.fixed"
    args = ("map", "--name", "fix", "sh -c " + shlex.quote(script), ":::", "a", "b")
    (home.files / "a.fixed").touch()
    assert home.swf(*args).code == 1
    assert (home.lines("a.runs"), home.lines("b.runs")) == (1, 1)
    (home.files / "b.fixed").touch()
    resumed = home.swf("map", "--resume", *args[1:], expect=0)
    assert "resumed" in resumed.out, str(resumed)
    assert (home.lines("a.runs"), home.lines("b.runs")) == (1, 2)  # a is not run again
    listed = home.swf("list", "--json", expect=0).json()
    assert [row["name"] for row in listed] == ["fix"], "resume must not add a workflow"
    again = home.swf("map", "--resume", *args[1:], expect=0)
    assert "nothing to rerun" in again.out
    assert (home.lines("a.runs"), home.lines("b.runs")) == (1, 2)


def test_resume_refuses_other_commands_under_the_same_name(home: SwfHome) -> None:
    home.swf("map", "--name", "same", "true", ":::", "a", expect=0)
    changed = home.swf("map", "--name", "same", "--resume", "false", ":::", "a")
    assert changed.code == 4, str(changed)
    assert "other jobs or commands" in changed.err


def test_resume_without_a_previous_workflow_submits_it(home: SwfHome, tmp_path: Path) -> None:
    file = home.python_workflow("t.py", 'workflow = Workflow([Job(["true"], name="t")])\n')
    result = home.swf("run", str(file), "--name", "first", "--resume", expect=0)
    assert "submitted (1 jobs)" in result.out
