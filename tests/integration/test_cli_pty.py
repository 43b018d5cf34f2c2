"""``swf run`` in a terminal: the live progress display, the final summary, and Ctrl-C
answered interactively. Driven through a pseudo-terminal (pexpect), as a person sees it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pexpect  # type: ignore[import-untyped]
import pytest

from tests.integration.cli_fixtures import SWF, SwfHome, default_sigint, swf_home

pytestmark = pytest.mark.timeout(120)

#: Four jobs of ~1 s, two at a time: the live display has time to refresh several times.
STEADY = """
jobs = [Job(["sleep", "1"], name=f"step{i}") for i in range(4)]
workflow = Workflow(jobs, dependencies=[(jobs[0], jobs[2]), (jobs[1], jobs[3])], name="steady")
"""

SLOW = """
workflow = Workflow([Job(["sleep", "30"], name="long")], name="long")
"""


@pytest.fixture(scope="module")
def home() -> Iterator[SwfHome]:
    with swf_home() as shared:
        yield shared


def spawn(home: SwfHome, *args: str) -> pexpect.spawn:
    env = home.env(TERM="xterm-256color")
    return pexpect.spawn(
        str(SWF),
        list(args),
        env=env,
        cwd=str(home.files),
        dimensions=(40, 120),
        encoding="utf-8",
        timeout=30,
        preexec_fn=default_sigint,
    )


def test_run_shows_live_progress_then_the_summary(home: SwfHome) -> None:
    file = home.python_workflow("steady.py", STEADY)
    child = spawn(home, "run", str(file))
    try:
        child.expect(r"workflow (\d+) submitted \(4 jobs\)")
        workflow_id = child.match.group(1)
        # The live panel: its header, its bar, the running jobs; refreshed while jobs run.
        child.expect(rf"workflow {workflow_id} steady\s+[0-3]/4 finished\s+elapsed \d+\.\ds")
        child.expect("━{20,}")
        child.expect(r"running: step\d")
        child.expect(r"[1-3]/4 finished")  # progress moved on while we watched
        child.expect(r"4/4 finished")
        # Then the summary table, and the command ends with success.
        child.expect(r"│ done\s+│\s+4 │")
        child.expect("workflow_done")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0, child.before


def test_interrupt_asks_and_stops(home: SwfHome) -> None:
    file = home.python_workflow("long.py", SLOW)
    child = spawn(home, "run", str(file))
    try:
        child.expect(r"workflow (\d+) submitted")
        workflow_id = child.match.group(1)
        child.expect(r"running: long")
        child.sendintr()
        child.expect(re.escape("Interrupted: [s]top the workflow or [d]etach (it goes on)?"))
        child.sendline("s")
        child.expect(rf"workflow {workflow_id} stopped; `swf restart {workflow_id}` resumes it")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 130
    assert "Traceback" not in (child.before or "")
    statuses = home.wait_for_status(workflow_id, lambda s: s["long"] != "running")
    assert statuses == {"long": "failed"}
    assert home.status(workflow_id)["jobs"][0]["exit_status"] == "killed_by_user"


def test_delete_all_asks_on_a_terminal(home: SwfHome) -> None:
    file = home.python_workflow("asked.py", SLOW)
    home.swf("submit", str(file), expect=0)
    count = len(home.swf("list", "--json", expect=0).json())
    child = spawn(home, "delete", "--all")
    try:
        child.expect(re.escape(f"Delete all {count} workflow(s), killing their running jobs?"))
        child.sendline("n")
        child.expect("nothing deleted")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 1
    assert len(home.swf("list", "--json", expect=0).json()) == count
    child = spawn(home, "delete", "--all")
    try:
        child.expect(re.escape("killing their running jobs?"))
        child.sendline("y")
        child.expect(rf"deleted {count} workflow\(s\)")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0
    assert home.swf("list", "--json", expect=0).json() == []
