"""Helpers of the crash and concurrency suites: sites, marker workflows, outcome checks.

A *site* is one state directory (engine, job host, SQLite store) in a short directory
under /tmp (Unix socket paths are short). Every process a test starts inherits a marker
variable, so the guard finds any survivor (engine, job host, job, client), however deep in
a process tree, by its environment, and ends it by pid.

A *marker workflow* is made of ``/bin/sh`` jobs that each append their name to
``markers/<name>`` when they start, sleep, write the time they end to ``ends/<name>`` and
exit with a code decided by their name: from the files alone a test knows whether a job
ran, how many times, and whether it ended while the engine was down.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import zlib
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import pytest

from swf_adapters.schedulers.local.launcher import shutdown_host
from swf_adapters.schedulers.local.layout import StateLayout, live_host
from swf_domain.model import CommandItem
from swf_entry.client import Helper, Job, Workflow, WorkflowController
from swf_entry.composition import ClientOptions, open_controller, resource_config
from swf_entry.daemon import EngineLayout, stop_engine
from tests.integration.engine_daemon_fixtures import (
    is_engine_process,
    python_path,
    started_engine_pids,
)
from tests.integration.waiting import wait_until as wait_until  # re-exported

#: Variable every process of these suites inherits (its value is the test's root).
MARK_VARIABLE = "SWF_CRASH_SUITE_MARK"
SH = shutil.which("sh") or "/bin/sh"
#: One job: record the start, sleep, record the end time, exit with the given code.
#: Arguments are positional ($1..$4): no data is ever pasted into the script.
JOB_SCRIPT = (
    'echo "$1" >> "$2/markers/$1"; sleep "$3"; date +%s.%N > "$2/ends/$1.tmp"; '
    'mv "$2/ends/$1.tmp" "$2/ends/$1"; exit "$4"'
)
DONE = "done"
FAILED = "failed"
REGULAR = "finished_regularly"
ABORTED = "aborted_before_running"


# -- processes -------------------------------------------------------------------------


def command_line(process: psutil.Process) -> str:
    """The process's command line, "" once it has exited (a job may end between the
    listing and this read)."""
    try:
        return " ".join(process.cmdline())
    except psutil.Error:
        return ""


def marked_processes(mark: str) -> list[psutil.Process]:
    """Live processes (not this one, not zombies) whose environment carries ``mark``."""
    me = os.getpid()
    found = []
    for process in psutil.process_iter():
        if process.pid == me:
            continue
        with contextlib.suppress(psutil.Error):
            if process.status() == psutil.STATUS_ZOMBIE:
                continue
            if process.environ().get(MARK_VARIABLE) == mark:
                found.append(process)
    return found


def describe(processes: list[psutil.Process]) -> list[str]:
    described = []
    for process in processes:
        with contextlib.suppress(psutil.Error):
            described.append(f"pid {process.pid}: {' '.join(process.cmdline())[:160]}")
    return described


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


@contextlib.contextmanager
def crash_root(monkeypatch: pytest.MonkeyPatch, prefix: str = "swf-cr-") -> Iterator[Path]:
    """A private root in /tmp for one test; at the end no process of the test survives."""
    root = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    mark = str(root)
    monkeypatch.setenv(MARK_VARIABLE, mark)
    monkeypatch.setenv("PYTHONPATH", python_path())
    for name in list(os.environ):
        if name.startswith("SWF_") and name != MARK_VARIABLE:
            monkeypatch.delenv(name)  # hermetic: no CPU_NB etc. from the caller
    try:
        yield root
    finally:
        # A job host leaves a moment after being asked to: give it that moment.
        wait_until(lambda: not marked_processes(mark), 10.0, period=0.1)
        survivors = marked_processes(mark)
        leftovers = describe(survivors)
        for process in survivors:
            with contextlib.suppress(psutil.Error):
                process.kill()
        psutil.wait_procs(survivors, timeout=5)
        shutil.rmtree(root, ignore_errors=True)
        assert not leftovers, f"processes left behind: {leftovers}"


# -- sites -----------------------------------------------------------------------------


@dataclass
class Site:
    """One state directory, its configuration and the marker directories of its jobs."""

    home: Path
    config_file: Path
    #: Engine and job-host pids seen during the test (checked gone at the end).
    host_pids: set[int] = field(default_factory=set)

    @classmethod
    def create(cls, root: Path, name: str, cpu_nb: int = 2) -> Site:
        home = root / name
        home.mkdir(mode=0o700)
        for sub in ("markers", "ends"):
            (home / sub).mkdir()
        config = home / "swf.cfg"
        config.write_text(f"[crash]\nCPU_NB = {cpu_nb}\n")
        return cls(home, config)

    @property
    def options(self) -> ClientOptions:
        return ClientOptions(home=self.home, config_file=self.config_file)

    @property
    def database(self) -> Path:
        url = resource_config(self.options).database_url
        assert url.startswith("sqlite:///"), url
        return Path(url.removeprefix("sqlite:///"))

    @property
    def host_layout(self) -> StateLayout:
        return StateLayout(self.home / "jobhost")

    def daemon_controller(self) -> WorkflowController:
        controller: WorkflowController = open_controller(self.options)
        self.note_host()
        return controller

    def embedded_controller(self) -> WorkflowController:
        controller = WorkflowController(
            config=str(self.config_file), isolated_light_mode=str(self.home)
        )
        self.note_host()
        return controller

    def note_host(self) -> None:
        host = live_host(self.host_layout)
        if host is not None:
            self.host_pids.add(host.pid)

    def running_engine_pid(self, controller: WorkflowController) -> int:
        """Bring an engine up through ``controller``'s command link if none runs; its pid.

        A query is not enough: the client's queries read the store and ping the engine
        only after ``KEEP_ALIVE_INTERVAL`` seconds without a word from it, so a query soon
        after another call does not restart an engine killed in between (by design:
        monitors must stay cheap).
        """
        from swf_entry.split_link import SplitLink

        link = controller.link
        assert isinstance(link, SplitLink), link
        pinged = link.commands.ping()
        pid = self.engine_pid()
        assert pid == pinged, (pid, pinged)
        return pid

    def engine_pid(self) -> int | None:
        """The daemon's pid from ``engine.json``, if that process is our engine."""
        info_file = EngineLayout.of(self.home).info_file
        with contextlib.suppress(OSError, ValueError):
            pid = json.loads(info_file.read_text()).get("pid")
            if isinstance(pid, int) and is_engine_process(pid, self.home):
                return pid
        return None

    def locking_engine_pid(self) -> int | None:
        """The pid written in ``engine.lock`` (an engine still starting), if it runs."""
        with contextlib.suppress(OSError, ValueError):
            pid = int(EngineLayout.of(self.home).lock_file.read_text().strip() or 0)
            if pid and is_engine_process(pid, self.home):
                return pid
        return None

    def engine_pids(self) -> list[int]:
        return started_engine_pids(EngineLayout.of(self.home).state_dir)

    def engine_log(self) -> str:
        path = EngineLayout.of(self.home).log_file
        return path.read_text(errors="replace") if path.exists() else ""

    def host_log(self) -> str:
        path = self.host_layout.log
        return path.read_text(errors="replace") if path.exists() else ""

    def close(self) -> None:
        """Stop the engine and the job host; every pid seen is checked gone."""
        self.note_host()
        stop_engine(self.home)
        # An engine still starting (a client restarted it meanwhile) has no engine.json
        # yet and is not seen by stop_engine: let it get ready, then stop it too.
        deadline = time.monotonic() + 60
        while (starting := self.locking_engine_pid()) is not None:
            assert time.monotonic() < deadline, f"engine {starting} neither starts nor stops"
            if self.engine_pid() == starting:
                stop_engine(self.home)
            time.sleep(0.05)
        shutdown_host(self.host_layout)
        pids = [*self.engine_pids(), *self.host_pids]
        assert wait_until(lambda: not any(alive(pid) for pid in pids), 15.0), [
            pid for pid in pids if alive(pid)
        ]


def kill_9(pid: int) -> None:
    """SIGKILL ``pid`` and wait until it is gone."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    assert wait_until(lambda: not alive(pid), 10.0), f"pid {pid} survived SIGKILL"


def integrity(database: Path) -> str:
    """``PRAGMA integrity_check`` of the store (``ok`` when sound)."""
    connection = sqlite3.connect(database, timeout=30)
    try:
        rows = connection.execute("PRAGMA integrity_check").fetchall()
    finally:
        connection.close()
    return "\n".join(str(row[0]) for row in rows)


# -- marker workflows ------------------------------------------------------------------


@dataclass
class Plan:
    """What a marker workflow must end as: per job, its sleep, exit code and fate."""

    home: Path
    sleeps: dict[str, float]
    codes: dict[str, int]
    dependencies: list[tuple[str, str]]
    #: Jobs that must never run: descendants of a job that fails.
    aborted: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.aborted = descendants(self.dependencies, {n for n, c in self.codes.items() if c})

    @property
    def names(self) -> list[str]:
        return list(self.sleeps)

    def expected(self, name: str) -> tuple[str, str, int | None]:
        """(status, exit status, exit value) the job must end with."""
        if name in self.aborted:
            return FAILED, ABORTED, None
        code = self.codes[name]
        return (FAILED if code else DONE), REGULAR, code

    def workflow(self, name: str) -> Workflow:
        jobs = {
            job_name: Job(
                self.command(job_name, sleep),
                name=job_name,
            )
            for job_name, sleep in self.sleeps.items()
        }
        return Workflow(
            list(jobs.values()),
            dependencies=[(jobs[a], jobs[b]) for a, b in self.dependencies],
            name=name,
        )

    def command(self, name: str, sleep: float) -> list[CommandItem]:
        home, code = str(self.home), str(self.codes[name])
        return [SH, "-c", JOB_SCRIPT, "job", name, home, f"{sleep:.3f}", code]

    def save(self, name: str) -> Path:
        """The workflow in soma-workflow's JSON format (for client subprocesses)."""
        path = self.home / f"{name}.json"
        Helper.serialize(path, self.workflow(name))
        return path


def descendants(dependencies: list[tuple[str, str]], roots: set[str]) -> set[str]:
    children: dict[str, list[str]] = {}
    for parent, child in dependencies:
        children.setdefault(parent, []).append(child)
    found: set[str] = set()
    queue = deque(roots)
    while queue:
        for child in children.get(queue.popleft(), []):
            if child not in found:
                found.add(child)
                queue.append(child)
    return found


def crash_plan(home: Path, seed: int) -> Plan:
    """About 60 jobs: 4 fan-out/fan-in branches each followed by a chain, joined at the
    end, plus 2 independent chains. Sleeps (0.05-0.4 s) and failures come from ``seed``;
    a job's exit code depends only on its name and the seed."""
    dependencies: list[tuple[str, str]] = []
    names = ["src"]
    for branch in range(4):
        fan = [f"f{branch}_{i}" for i in range(8)]
        join, chain = f"j{branch}", [f"c{branch}_{k}" for k in range(3)]
        names += [*fan, join, *chain]
        dependencies += [("src", job) for job in fan] + [(job, join) for job in fan]
        dependencies += list(itertools.pairwise([join, *chain]))
    names.append("sink")
    dependencies += [(f"c{branch}_2", "sink") for branch in range(4)]
    for line in range(2):
        chain = [f"x{line}_{k}" for k in range(5)]
        names += chain
        dependencies += list(itertools.pairwise(chain))
    rng = random.Random(seed)
    sleeps = {name: round(rng.uniform(0.05, 0.4), 3) for name in names}
    codes = {name: _exit_code(seed, name) for name in names}
    if not any(codes.values()):
        codes["f1_3"] = 7  # every run exercises failure propagation
    return Plan(home, sleeps, codes, dependencies)


def _exit_code(seed: int, name: str) -> int:
    digest = zlib.crc32(f"{seed}/{name}".encode())
    return 0 if digest % 14 else 1 + (digest >> 8) % 100


def staged_plan(
    home: Path, stages: int = 4, width: int = 5, sleep: float = 0.3, prefix: str = "s"
) -> Plan:
    """``stages * width`` jobs that all succeed; each depends on two of the stage before."""
    names = [f"{prefix}{stage}_{i}" for stage in range(stages) for i in range(width)]
    dependencies = [
        (f"{prefix}{stage - 1}_{parent}", f"{prefix}{stage}_{i}")
        for stage in range(1, stages)
        for i in range(width)
        for parent in sorted({i, (i + 1) % width})
    ]
    return Plan(home, dict.fromkeys(names, sleep), dict.fromkeys(names, 0), dependencies)


# -- reading what happened -------------------------------------------------------------


def markers(home: Path, name: str) -> list[str]:
    path = home / "markers" / name
    return path.read_text().splitlines() if path.exists() else []


def end_time(home: Path, name: str) -> float | None:
    path = home / "ends" / name
    return float(path.read_text()) if path.exists() else None


def running_now(plan: Plan) -> list[str]:
    """Jobs that have started and not ended (from the marker files)."""
    return [
        name
        for name in plan.names
        if (plan.home / "markers" / name).exists() and not (plan.home / "ends" / name).exists()
    ]


def job_rows(controller: WorkflowController, workflow_id: int) -> dict[str, tuple[Any, ...]]:
    """Each job's ``workflow_elements_status`` entry, by job name."""
    names = {job.job_id: str(job.name) for job in controller.workflow(workflow_id).jobs}
    entries = controller.workflow_elements_status(workflow_id)[0]
    return {names[entry[0]]: entry for entry in entries}


def outcome_problems(
    controller: WorkflowController,
    workflow_id: int,
    plan: Plan,
    downtimes: Sequence[tuple[float, float]] = (),
) -> tuple[list[str], list[str]]:
    """(problems, jobs that ended while the engine was down) of a finished workflow.

    Every job must have run exactly once (or never, below a failure) and have the status,
    exit value and resource usage its plan says.
    """
    problems: list[str] = []
    ended_down: list[str] = []
    status = controller.workflow_status(workflow_id)
    if status != "workflow_done":
        problems.append(f"workflow status {status}")
    rows = job_rows(controller, workflow_id)
    if sorted(rows) != sorted(plan.names):
        problems.append(f"jobs {sorted(rows)} != planned {sorted(plan.names)}")
    for name in plan.names:
        entry = rows.get(name)
        if entry is None:
            continue
        problems += _job_problems(name, entry, plan)
        ended = end_time(plan.home, name)
        if ended is not None and any(down <= ended <= up for down, up in downtimes):
            ended_down.append(name)
    return problems, ended_down


def _job_problems(name: str, entry: tuple[Any, ...], plan: Plan) -> list[str]:
    status, exit_tuple, lines = entry[1], entry[3], markers(plan.home, name)
    want_status, want_exit, want_value = plan.expected(name)
    got = (status, exit_tuple[0] if exit_tuple else None, exit_tuple[1] if exit_tuple else None)
    problems = []
    if got != (want_status, want_exit, want_value):
        problems.append(f"{name}: {got} != expected {(want_status, want_exit, want_value)}")
    if name in plan.aborted:
        if lines:
            problems.append(f"{name} must not run but ran {len(lines)} time(s)")
        return problems
    if lines != [name]:
        problems.append(f"{name} ran {len(lines)} time(s) (markers {lines})")
    usage = exit_tuple[3] if exit_tuple else None
    if not (isinstance(usage, str) and "cput=" in usage):
        problems.append(f"{name}: no resource usage ({usage!r})")
    if exit_tuple and exit_tuple[2] is not None:
        problems.append(f"{name}: term signal {exit_tuple[2]}")
    return problems


# -- client subprocesses ---------------------------------------------------------------

#: argv: home config workflow.json mode(exit|hang|embedded). Prints the workflow id.
SUBMIT_SCRIPT = """
import sys, time
from pathlib import Path
from swf_entry.client import Helper, WorkflowController
from swf_entry.composition import ClientOptions, open_controller
home, config, document, mode = sys.argv[1:5]
if mode == "embedded":
    controller = WorkflowController(config=config, isolated_light_mode=home)
else:
    controller = open_controller(ClientOptions(home=Path(home), config_file=Path(config)))
if document != "-":
    print(controller.submit_workflow(Helper.unserialize(document)), flush=True)
else:
    print("resumed", flush=True)
if mode in ("hang", "embedded"):
    time.sleep(3600)
"""


def launch_client(site: Site, document: Path | None, mode: str) -> subprocess.Popen[str]:
    """A client process (see SUBMIT_SCRIPT); ``document`` None: submit nothing."""
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            SUBMIT_SCRIPT,
            str(site.home),
            str(site.config_file),
            str(document) if document is not None else "-",
            mode,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def first_line(client: subprocess.Popen[str]) -> str:
    """The first line a client printed; AssertionError with its stderr if it printed none."""
    assert client.stdout is not None
    line = client.stdout.readline().strip()
    if not line:
        client.wait(30)
        stderr = client.stderr.read() if client.stderr else ""
        raise AssertionError(f"client exited with {client.returncode}: {stderr[-3000:]}")
    return line


def start_client(site: Site, document: Path | None, mode: str) -> tuple[subprocess.Popen[str], str]:
    client = launch_client(site, document, mode)
    return client, first_line(client)


def finish_client(client: subprocess.Popen[str]) -> str:
    """Reap a client process (closing its pipes); its stderr."""
    try:
        _, stderr = client.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        client.kill()
        _, stderr = client.communicate()
    return stderr or ""
