"""Helpers for the ``swf`` command-line tests: an isolated home, running the real console
script, writing workflow files, and leaving no process behind.

Every test talks to the installed ``swf`` script (next to the test interpreter) in a
subprocess, exactly as a user would, with ``NO_COLOR=1`` and ``SWF_HOME`` pointing at a
private directory: the database, the engine daemon and the job host all live there.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from swf_adapters.schedulers.local.launcher import shutdown_host
from swf_adapters.schedulers.local.layout import StateLayout
from tests.integration.waiting import wait_until as wait_until  # re-exported

SWF = Path(sys.executable).with_name("swf")
#: soma-workflow 6.0.13's JSON files, kept in the repository.
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "soma-json"
#: Environment variables that would let the user's own setup leak into a test.
_SCRUBBED = ("SWF_CONFIG", "SOMA_WORKFLOW_CONFIG", "COLUMNS", "LINES", "SWF_HOME")


@dataclass(frozen=True, slots=True)
class Result:
    """What one ``swf`` invocation did."""

    args: tuple[str, ...]
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)

    def __str__(self) -> str:
        command = " ".join(self.args)
        return f"swf {command} -> {self.code}\n--- stdout\n{self.out}--- stderr\n{self.err}"


def default_sigint() -> None:
    """Give a child the default SIGINT disposition: a test run started in the background
    (``pytest &``, some CI runners) ignores SIGINT, and an ignored signal stays ignored
    across exec, so the child would never see the Ctrl-C the test sends."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class SwfHome:
    """An isolated ``SWF_HOME``: run ``swf`` in it, write workflow files next to it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        # Beside the state directory, not in it: no job may run in the engine's files.
        self.files = root.with_name(root.name + "-files")
        self.files.mkdir(parents=True, exist_ok=True)
        (root / "user").mkdir(exist_ok=True)

    # -- running swf -----------------------------------------------------------------

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED}
        env.update(
            NO_COLOR="1",
            SWF_HOME=str(self.root),
            HOME=str(self.root / "user"),  # no ~/.soma-workflow.cfg of the real user
        )
        env.update(extra)
        return env

    def swf(self, *args: str, timeout: float = 60.0, expect: int | None = None) -> Result:
        """Run ``swf ARGS`` to its end; with ``expect``, assert its exit code."""
        completed = subprocess.run(
            [str(SWF), *args],
            env=self.env(),
            cwd=self.files,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        result = Result(tuple(args), completed.returncode, completed.stdout, completed.stderr)
        if expect is not None:
            assert result.code == expect, str(result)
        return result

    def popen(self, *args: str) -> subprocess.Popen[str]:
        """``swf ARGS`` in the background, able to receive Ctrl-C (see ``default_sigint``)."""
        return subprocess.Popen(
            [str(SWF), *args],
            env=self.env(),
            cwd=self.files,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            preexec_fn=default_sigint,
        )

    # -- workflow files ------------------------------------------------------------------

    def write(self, name: str, text: str) -> Path:
        path = self.files / name
        path.write_text(textwrap.dedent(text).lstrip())
        return path

    def python_workflow(self, name: str, body: str) -> Path:
        """A Python workflow file; ``body`` sees Job, Group, Workflow and FILES (a Path)."""
        header = (
            "from pathlib import Path\n"
            "from swf_domain.model import Group, Job, Workflow\n"
            f"FILES = Path({str(self.files)!r})\n"
        )
        return self.write(name, header + textwrap.dedent(body))

    def lines(self, name: str) -> int:
        """How many lines a marker file has (each run of a job appends one)."""
        path = self.files / name
        return len(path.read_text().splitlines()) if path.exists() else 0

    # -- reading state ---------------------------------------------------------------

    def status(self, workflow: str) -> dict[str, Any]:
        document: dict[str, Any] = self.swf("status", workflow, "--jobs", "--json", expect=0).json()
        return document

    def job_statuses(self, workflow: str) -> dict[str, str]:
        return {job["name"]: job["status"] for job in self.status(workflow)["jobs"]}

    def wait_for_status(
        self, workflow: str, predicate: Callable[[dict[str, str]], bool], timeout: float = 20.0
    ) -> dict[str, str]:
        """Poll the job statuses until ``predicate`` holds; fail the test otherwise."""
        seen: dict[str, str] = {}

        def check() -> bool:
            nonlocal seen
            seen = self.job_statuses(workflow)
            return predicate(seen)

        assert wait_until(check, timeout, period=0.2), f"workflow {workflow}: {seen}"
        return seen

    # -- teardown --------------------------------------------------------------------

    def processes(self) -> list[psutil.Process]:
        """The engine daemon and job host of this home (their command lines name it)."""
        found = []
        marker = str(self.root)
        for process in psutil.process_iter(["cmdline"]):
            with contextlib.suppress(psutil.Error):
                if process.pid != os.getpid() and marker in " ".join(process.info["cmdline"] or ()):
                    found.append(process)
        return found

    def close(self) -> None:
        """Kill the running jobs, stop the engine and the job host: nothing is left."""
        if (self.root / "swf.db").exists():
            self.swf("delete", "--all", "--yes", timeout=60)
        if (self.root / "engine.json").exists():
            self.swf("engine", "stop", timeout=60)
        shutdown_host(StateLayout(self.root / "jobhost"))
        leftovers = self.processes()
        for process in leftovers:  # started by this test (they name its private directory)
            with contextlib.suppress(psutil.Error):
                process.send_signal(signal.SIGKILL)
        shutil.rmtree(self.root, ignore_errors=True)
        shutil.rmtree(self.files, ignore_errors=True)
        assert not leftovers, f"processes left behind: {leftovers}"


@contextlib.contextmanager
def swf_home() -> Iterator[SwfHome]:
    """A fresh home in /tmp (Unix socket paths must stay short)."""
    home = SwfHome(Path(tempfile.mkdtemp(prefix="swf-cli-", dir="/tmp")))
    try:
        yield home
    finally:
        home.close()


def summary_count(output: str, status: str) -> int | None:
    """The job count of ``status`` in a summary table, or None when absent."""
    match = re.search(rf"^\W*{re.escape(status)}\s*\W\s*(\d+)\s*\W*$", output, re.MULTILINE)
    return int(match.group(1)) if match else None
