"""Grid Engine through DRMAA 1.0 (``SCHEDULER_TYPE = drmaa``): the engine's side.

Batching, end files, crash recovery and kills are the shared batch machinery
(``schedulers.batch``). What differs from SLURM is how calls reach the cluster: not command
lines but a DRMAA session, held by an *agent* process (``drmaa_agent``). Why a process and
not a thread: Debian's libdrmaa links jemalloc, which cannot be dlopen'ed into a running
interpreter (it must be ``LD_PRELOAD``-ed at exec), and a crash in C code must not take
the engine down.

- each batch is ONE ``runBulkJobs`` (tasks 1..n; the wrapper's 0-based index is
  ``SGE_TASK_ID - 1``); queue, parallel environment/slots and the user's options go in the
  native specification, the job name is the engine's tag; users see Grid Engine's own task
  ids (``1234.1``);
- the agent pushes what changed (a task started, a task ended: ``wait`` events, never a
  per-job status call); the engine's poll reads those changes from memory and looks at
  the changed tasks only, so its cost per job does not grow with the queue;
- the agent keeps its session's contact string in the job directory: a restarted agent
  re-attaches to the same session; an earlier engine's tasks are followed by their end
  files until they end (the job directory says what was submitted: nothing runs twice).
"""

from __future__ import annotations

import contextlib
import glob
import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from swf_adapters.schedulers.batch.adapter import BatchScheduler, BatchSettings
from swf_adapters.schedulers.batch.commands import TIMED_OUT, CommandResult, CommandRunner
from swf_adapters.schedulers.batch.jobdir import Batch
from swf_adapters.schedulers.batch.parallel import ParallelConfig
from swf_adapters.schedulers.batch.system import ArrayView, QueueView, Shape, TaskState, TaskView
from swf_adapters.schedulers.slurm import native_options
from swf_app.ports import EventSink, KnownJob, LaunchRequest, ParallelSpec
from swf_domain.errors import DRMError

_log = logging.getLogger("swf.drmaa")

#: Where Debian and the Grid Engine tarballs put things (tried after the environment).
_SGE_ROOTS = ("/var/lib/gridengine", "/opt/sge", "/usr/share/gridengine")
_LIBDRMAA = ("/usr/lib/gridengine-drmaa/lib/libdrmaa.so.1.0", "lib/*/libdrmaa.so*")
_JEMALLOC = ("/lib/*-linux-gnu/libjemalloc.so.2", "/usr/lib/*-linux-gnu/libjemalloc.so.2")
#: The agent's index variable: set by the remote command from SGE_TASK_ID (1-based).
INDEX_VARIABLE = "SWF_TASK_INDEX"


class DrmaaUnavailableError(DRMError):
    """What DRMAA needs is missing here (the message names it)."""


# -- what libdrmaa needs to load --------------------------------------------------------


def drmaa_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The variables the agent runs with (SGE_ROOT, DRMAA_LIBRARY_PATH, LD_PRELOAD), found
    from ``environ`` or the usual places; raises naming the first missing piece."""
    env = dict(environ)
    root = env.get("SGE_ROOT") or next((r for r in _SGE_ROOTS if Path(r, "default").is_dir()), "")
    if not root:
        raise DrmaaUnavailableError(
            "Grid Engine not found: set SGE_ROOT (tried " + ", ".join(_SGE_ROOTS) + ")"
        )
    env["SGE_ROOT"] = root
    cell = env.setdefault("SGE_CELL", "default")
    if not Path(root, cell).is_dir():
        raise DrmaaUnavailableError(f"SGE_ROOT={root} has no Grid Engine cell {cell!r}")
    library = env.get("DRMAA_LIBRARY_PATH") or _first(
        [p if p.startswith("/") else f"{root}/{p}" for p in _LIBDRMAA]
    )
    if not library or not Path(library).is_file():
        raise DrmaaUnavailableError(
            f"libdrmaa not found (DRMAA_LIBRARY_PATH={library or 'unset'}; under SGE_ROOT "
            f"{root} none either): install gridengine-drmaa1.0 or set DRMAA_LIBRARY_PATH"
        )
    env["DRMAA_LIBRARY_PATH"] = library
    if b"libjemalloc" in Path(library).read_bytes() and "jemalloc" not in env.get("LD_PRELOAD", ""):
        jemalloc = _first(list(_JEMALLOC))
        if jemalloc:  # jemalloc cannot be dlopen'ed late: "cannot allocate memory in static TLS"
            env["LD_PRELOAD"] = " ".join(filter(None, [env.get("LD_PRELOAD"), jemalloc]))
    return env


def drmaa_package_missing() -> str | None:
    import importlib.util

    if importlib.util.find_spec("drmaa") is None:
        return "the python 'drmaa' package is not installed (pip install 'swf[drmaa]')"
    return None


def _first(patterns: list[str]) -> str:
    for pattern in patterns:
        found = sorted(glob.glob(pattern))
        if found:
            return found[0]
    return ""


# -- the BatchSystem: "commands" are requests to the agent ------------------------------


class GridEngineDrmaa:
    """The ``BatchSystem`` of Grid Engine through a DRMAA agent (tested on SGE 8.1.9)."""

    name = "Grid Engine (DRMAA)"
    index_variable = INDEX_VARIABLE

    def __init__(
        self, parallel_environment: str = "smp", parallel_config: ParallelConfig | None = None
    ) -> None:
        #: The PE of a parallel kind the resource gives no name for (soma's ``MPI = mpi``).
        self.parallel_environment = parallel_environment
        self.parallel_config = parallel_config or ParallelConfig()

    def shape_of(self, request: LaunchRequest, default_options: Sequence[str]) -> Shape:
        """The parallel request goes first: the job's own options come after it."""
        options = native_options(request.native_specification) or tuple(default_options)
        parallel = request.parallel
        if parallel is None:
            return Shape(request.queue, 1, options, 1)
        resources = () if "-pe" in options else self._parallel_options(parallel)
        return Shape(request.queue, parallel.cpus_per_node, resources + options, parallel.nodes)

    def _parallel_options(self, parallel: ParallelSpec) -> tuple[str, ...]:
        """The resource's template (soma's ``-pe {config_name} {nodes_number}``), else
        ``-pe <the kind's PE> <nodes x cpus slots>``: the PE's allocation rule decides how
        the slots spread over hosts. Not when the job names its own PE (qsub takes one)."""
        own = self.parallel_config.request(parallel)
        if own is not None:
            return native_options(own)
        if parallel.cpus <= 1:
            return ()
        name = self.parallel_config.cluster_name(parallel.config_name)
        return ("-pe", name or self.parallel_environment, str(parallel.cpus))

    def submit_command(self, script: Path, count: int, shape: Shape, tag: str) -> list[str]:
        """What DRMAA has no attribute for (queue, slots) goes as native specification.
        The jobs get the engine's environment (as sbatch gives SLURM jobs), not the
        agent's: that one carries what libdrmaa needs (LD_PRELOAD...)."""
        native = list(shape.options)
        if shape.queue:
            native += ["-q", shape.queue]
        request = {
            "script": str(script), "count": count, "name": tag, "native": native,
            "env": dict(os.environ),
        }  # fmt: skip
        return ["runBulkJobs", json.dumps(request)]

    def parse_submitted(self, stdout: str) -> str:
        cluster_id = stdout.strip()
        if not cluster_id.isdigit():
            raise ValueError(f"runBulkJobs returned no job id: {stdout.strip()[:200]!r}")
        return cluster_id

    def status_command(self, tag: str, cluster_ids: Sequence[str] | None) -> list[str]:
        """Answered by the ``AgentRunner`` from the changes the agent pushed."""
        return ["status", tag]

    def parse_status(self, stdout: str) -> QueueView:
        """The tasks that CHANGED since the last poll (``{"12.3": [state, reason]}``)."""
        view: QueueView = {}
        for job_id, (state, reason) in json.loads(stdout or "{}").items():
            cluster_id, _, task = job_id.partition(".")
            index = int(task or 1) - 1
            view.setdefault(cluster_id, ArrayView()).tasks[index] = TaskView(
                TaskState(state), reason
            )
        return view

    def partial_status(self, returncode: int, stderr: str) -> bool:
        return False

    def task_id(self, cluster_id: str, index: int) -> str:
        """Grid Engine's own name of a task: ``1234.1`` for index 0 (SGE_TASK_ID 1)."""
        return f"{cluster_id}.{index + 1}"

    def cancel_command(self, task_ids: Sequence[str]) -> list[str]:
        return ["control", *task_ids]

    def unavailable(self, returncode: int, stderr: str) -> bool:
        return returncode == TIMED_OUT or "DrmCommunication" in stderr


# -- the scheduler: the batch machinery on the agent ------------------------------------


class DrmaaScheduler(BatchScheduler):
    """``BatchScheduler`` whose calls go to the DRMAA agent, and whose polls look only at
    the tasks the agent said changed (plus those still waiting for their end file)."""

    def __init__(
        self, settings: BatchSettings, runner: AgentRunner, parallel: ParallelConfig | None = None
    ) -> None:
        super().__init__(GridEngineDrmaa(parallel_config=parallel), settings, runner)
        self.agent = runner
        runner.on_change = self._poll_soon
        #: Tasks reported ended whose end file is not there yet: looked at every poll
        #: until it is, or until the grace delay fails them.
        self._awaiting: dict[tuple[str, int], TaskView] = {}
        self._early: dict[str, tuple[float, ArrayView]] = {}

    @property
    def problem(self) -> str | None:
        """Why the engine waits on qmaster: a call the agent saw wait, or a submission."""
        if self.agent.problem:
            return f"waiting for the {self.system.name} controller ({self.agent.problem})"
        return super().problem

    def start(self, sink: EventSink, known: Sequence[KnownJob] = ()) -> frozenset[int]:
        """The agent first (it waits for an earlier engine's agent to finish), then the
        job directory, which then holds every job id that agent obtained."""
        self.settings.job_dir.mkdir(parents=True, exist_ok=True)
        hello = self.agent.run(["hello"])
        if not hello.ok:
            raise DrmaaUnavailableError(f"the DRMAA session cannot start: {hello.message()}")
        held = super().start(sink, known)
        self._adopt_open()
        return held

    def _adopt_open(self, only: Batch | None = None) -> None:
        """The agent follows every open task (an earlier engine's, or a dead agent's),
        or those of ``only``."""
        with self._lock:
            chosen = [only] if only is not None else list(self._batches.values())
            batches = [b for b in chosen if b.cluster_id is not None]
            opened = [(b, sorted(b.open - b.ended)) for b in batches]
        for batch, indices in opened:
            ids = [self._task_id(batch, index) for index in indices]
            if ids:
                self.agent.run(["adopt", str(batch.directory), *ids])

    def _adopted(self, batch: Batch) -> None:
        """A batch found by its traces after a lost answer: the agent follows it too."""
        self._adopt_open(batch)

    def _status(self, by_script: bool = False) -> QueueView | None:
        """The pushed changes; a dead agent is started again first and re-adopts."""
        if self.agent.needs_restart():
            hello = self.agent.run(["hello"])
            if not hello.ok:
                self._set_problem(hello)
                return None
            self._adopt_open()
        return super()._status(by_script)

    def close(self) -> None:
        super().close()
        self.agent.close()

    def _candidates(self, view: QueueView) -> list[tuple[Batch, int, ArrayView | None]]:
        """The changed tasks and the ended ones still without an end file: a task the
        agent did not mention has not changed (its absence means nothing here)."""
        with self._lock:
            by_id = {b.cluster_id: b for b in self._batches.values() if b.cluster_id}
            by_name = {b.name: b for b in by_id.values()}
        chosen: dict[tuple[str, int], tuple[Batch, int, ArrayView]] = {}
        for (name, index), task in self._awaiting.items():
            if name in by_name:
                chosen[name, index] = (by_name[name], index, ArrayView(tasks={index: task}))
        for cluster_id, array in self._with_early(view).items():
            batch = by_id.get(cluster_id)
            if batch is None:
                self._early[cluster_id] = (time.monotonic(), array)
                continue
            for index in array.tasks:
                chosen[batch.name, index] = (batch, index, array)
        return self._still_open(chosen)

    def _with_early(self, view: QueueView) -> QueueView:
        """``view`` and the changes of batches not registered when they came (a change
        can overtake the engine's recording of runBulkJobs' answer); kept for a minute."""
        early, self._early = self._early, {}
        merged = dict(view)
        for cluster_id, (since, array) in early.items():
            if time.monotonic() - since < 60.0:
                newer = merged.get(cluster_id)
                merged[cluster_id] = ArrayView(
                    tasks={**array.tasks, **(newer.tasks if newer else {})}
                )
        return merged

    def _still_open(
        self, chosen: dict[tuple[str, int], tuple[Batch, int, ArrayView]]
    ) -> list[tuple[Batch, int, ArrayView | None]]:
        """The chosen tasks not ended yet; the ended-but-fileless ones are remembered."""
        self._awaiting.clear()
        found: list[tuple[Batch, int, ArrayView | None]] = []
        with self._lock:
            for key, (batch, index, array) in chosen.items():
                if index in batch.open and index not in batch.ended:
                    found.append((batch, index, array))
                    task = array.tasks[index]
                    if task.state is TaskState.FINISHED:
                        self._awaiting[key] = task
        return found


# -- the engine's side of the agent -----------------------------------------------------


class AgentRunner(CommandRunner):
    """Sends the batch machinery's requests to the agent process (started on first use)
    and returns its answers as command results; ``status`` is answered here, from the
    changes the agent pushed since the previous one (no round trip, no cluster call)."""

    def __init__(self, contact_file: Path, env: dict[str, str], timeout: float = 60.0) -> None:
        super().__init__(timeout)
        self.contact_file = contact_file
        self.env = env
        #: Called when the agent pushed changes (the scheduler polls at once).
        self.on_change: Callable[[], None] = lambda: None
        #: Why the agent could not start (libdrmaa did not load...), as it said.
        self.fatal = ""
        #: What qmaster keeps waiting (the agent says so after ``SILENCE`` seconds).
        self.problem = ""
        self._process: subprocess.Popen[str] | None = None
        self._replies: dict[int, tuple[int, str, str]] = {}
        self._changes: dict[str, list[str]] = {}
        self._answered = threading.Condition()
        self._serial = 0
        self._io = threading.Lock()
        #: The agent's output ended (it exited): nothing more will be answered.
        self._gone = True
        self._started_once = False

    def run(self, argv: list[str], timeout: float | None = None) -> CommandResult:
        with self._lock:
            self.calls[argv[0]] += 1
        if argv[0] == "status":
            return CommandResult(tuple(argv), 0, self._take_changes(), "")
        with self._answered:
            self._serial += 1
            serial = self._serial
        try:
            self._send({"serial": serial, "op": argv[0], "args": argv[1:]})
        except (OSError, DrmaaUnavailableError) as error:
            return CommandResult(tuple(argv), TIMED_OUT, "", f"DRMAA agent: {error}")
        return self._answer(argv, serial, timeout or self.timeout)

    def needs_restart(self) -> bool:
        """The agent ran and died: what it followed must be followed again."""
        return self._started_once and not self._running()

    def close(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            with contextlib.suppress(OSError):
                assert process.stdin is not None
                process.stdin.close()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def _answer(self, argv: list[str], serial: int, timeout: float) -> CommandResult:
        with self._answered:
            answered = self._answered.wait_for(
                lambda: serial in self._replies or self._gone, timeout
            )
            reply = self._replies.pop(serial, None)
        if not answered or reply is None:
            said = self.fatal or "no answer"
            return CommandResult(tuple(argv), TIMED_OUT, "", f"DRMAA agent: {said}")
        return CommandResult(tuple(argv), *reply)

    def _take_changes(self) -> str:
        with self._answered:
            changes, self._changes = self._changes, {}
        return json.dumps(changes)

    def _running(self) -> bool:
        return self._process is not None and self._process.poll() is None and not self._gone

    def _send(self, message: dict[str, Any]) -> None:
        with self._io:
            if not self._running():
                self._start()
            assert self._process is not None and self._process.stdin is not None
            self._process.stdin.write(json.dumps(message) + "\n")
            self._process.stdin.flush()

    def _start(self) -> None:
        argv = [sys.executable, "-m", "swf_adapters.schedulers.drmaa_agent",
                str(self.contact_file)]  # fmt: skip
        self._process = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=self.env,
            bufsize=1, start_new_session=True,
        )  # fmt: skip
        self._gone, self._started_once = False, True
        threading.Thread(
            target=self._read, args=(self._process,), name="swf-drmaa-agent", daemon=True
        ).start()

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self._received(json.loads(line))
        with self._answered:
            if process is self._process:  # not a newer agent's
                self._gone = True
            self._answered.notify_all()

    def _received(self, message: dict[str, Any]) -> None:
        op = message.get("op")
        if op == "changes":
            self._merge(message["changes"])
            self.on_change()
        elif op == "problem":
            self.problem = message["text"]
        elif op == "fatal":
            self.fatal = message["error"]
        elif op == "log":
            level = logging.DEBUG if message["level"] == "debug" else logging.WARNING
            _log.log(level, "%s", message["text"])
        else:
            with self._answered:
                reply = (message["rc"], message.get("stdout", ""), message.get("stderr", ""))
                self._replies[message["serial"]] = reply
                self._answered.notify_all()

    def _merge(self, changes: dict[str, list[str]]) -> None:
        """An end is never replaced by a start reported later (two agent threads)."""
        with self._answered:
            for job_id, change in changes.items():
                if self._changes.get(job_id, [""])[0] != "finished":
                    self._changes[job_id] = change
