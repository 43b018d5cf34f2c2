"""Grid Engine through DRMAA 1.0 (``SCHEDULER_TYPE = drmaa``): the DRMAA-specific part only.

Batching, end files, crash recovery and kills are the shared batch machinery
(``schedulers.batch``). What differs from SLURM is how calls reach the cluster: not command
lines but a DRMAA session, held by an *agent* process (``python -m
swf_adapters.schedulers.drmaa agent``). Why a process and not a thread: Debian's libdrmaa
links jemalloc, which cannot be dlopen'ed into a running interpreter (it must be
``LD_PRELOAD``-ed at exec), and a crash in C code must not take the engine down. The agent:

- submits each batch with ONE ``runBulkJobs`` (tasks 1..n; the wrapper's 0-based index is
  ``SGE_TASK_ID - 1``); queue, parallel environment/slots and the user's options go in the
  native specification, the job name is the engine's tag;
- learns ends from a thread blocked in ``wait(JOB_IDS_SESSION_ANY, timeout)`` (no per-job
  polling); the engine's "status call" is answered from that memory, not by the cluster;
- keeps its session's contact string in the job directory: a restarted agent re-attaches
  to the same session, and jobs of an earlier engine are followed by their end files and
  ``jobStatus`` until they end (nothing is submitted twice: the job directory says what
  was submitted).
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import json
import os
import shlex
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from swf_adapters.schedulers.batch.adapter import BatchScheduler, BatchSettings
from swf_adapters.schedulers.batch.commands import TIMED_OUT, CommandResult, CommandRunner
from swf_adapters.schedulers.batch.jobdir import CLUSTER_ID
from swf_adapters.schedulers.batch.system import ArrayView, QueueView, Shape, TaskState, TaskView
from swf_adapters.schedulers.slurm import native_options
from swf_app.ports import EventSink, KnownJob, LaunchRequest
from swf_domain.errors import DRMError

#: Where Debian and the Grid Engine tarballs put things (tried after the environment).
_SGE_ROOTS = ("/var/lib/gridengine", "/opt/sge", "/usr/share/gridengine")
_LIBDRMAA = ("/usr/lib/gridengine-drmaa/lib/libdrmaa.so.1.0", "lib/*/libdrmaa.so*")
_JEMALLOC = ("/lib/*-linux-gnu/libjemalloc.so.2", "/usr/lib/*-linux-gnu/libjemalloc.so.2")
#: The agent's index variable: set by the remote command from SGE_TASK_ID (1-based).
INDEX_VARIABLE = "SWF_TASK_INDEX"
_REMOTE = 'i=$((SGE_TASK_ID - 1)); SWF_TASK_INDEX=$i exec /bin/sh "$0" >>"${0%/*}/$i.log" 2>&1'


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

    def __init__(self, parallel_environment: str = "smp") -> None:
        self.parallel_environment = parallel_environment

    def shape_of(self, request: LaunchRequest, default_options: Sequence[str]) -> Shape:
        options = native_options(request.native_specification)
        parallel = request.parallel
        nodes, cpus = (parallel.nodes, parallel.cpus_per_node) if parallel else (1, 1)
        return Shape(request.queue, cpus, options or tuple(default_options), nodes)

    def submit_command(self, script: Path, count: int, shape: Shape, tag: str) -> list[str]:
        """What DRMAA has no attribute for (queue, slots) goes as native specification.
        The jobs get the engine's environment (as sbatch gives SLURM jobs), not the
        agent's: that one carries what libdrmaa needs (LD_PRELOAD...)."""
        native = list(shape.options)
        if shape.queue:
            native += ["-q", shape.queue]
        slots = shape.cpus * shape.nodes
        if slots > 1:
            native += ["-pe", self.parallel_environment, str(slots)]
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
        return ["status", tag]

    def parse_status(self, stdout: str) -> QueueView:
        view: QueueView = {}
        for cluster_id, tasks in json.loads(stdout or "{}").items():
            array = view.setdefault(cluster_id, ArrayView())
            for index_text, (state, reason) in tasks.items():
                index = int(index_text)
                if state == "pending":
                    array.pending.append(range(index, index + 1))
                else:
                    array.tasks[index] = TaskView(TaskState(state), reason)
        return view

    def partial_status(self, returncode: int, stderr: str) -> bool:
        return False

    def task_id(self, cluster_id: str, index: int) -> str:
        return f"{cluster_id}_{index}"

    def cancel_command(self, task_ids: Sequence[str]) -> list[str]:
        return ["control", *task_ids]

    def unavailable(self, returncode: int, stderr: str) -> bool:
        return returncode == TIMED_OUT or "DrmCommunication" in stderr


def drmaa_task_id(task_id: str) -> str:
    """The batch machinery's ``123_4`` (0-based) -> DRMAA's ``123.5``; ``123`` stays."""
    cluster_id, _, index = task_id.partition("_")
    return f"{cluster_id}.{int(index) + 1}" if index else cluster_id


# -- the scheduler: the batch machinery on the agent ------------------------------------


class DrmaaScheduler(BatchScheduler):
    """``BatchScheduler`` whose calls go to the DRMAA agent; an end reported by the
    agent's ``wait`` wakes the poller at once (the poll then costs no cluster call)."""

    def __init__(self, settings: BatchSettings, runner: AgentRunner) -> None:
        super().__init__(GridEngineDrmaa(), settings, runner)
        self.agent = runner
        runner.on_end = self._poll_soon

    def start(self, sink: EventSink, known: Sequence[KnownJob] = ()) -> frozenset[int]:
        """The agent first (it waits for an earlier engine's agent to finish), then the
        job directory, which then holds every job id that agent obtained."""
        self.settings.job_dir.mkdir(parents=True, exist_ok=True)
        hello = self.agent.run(["hello"])
        if not hello.ok:
            raise DrmaaUnavailableError(f"the DRMAA session cannot start: {hello.message()}")
        held = super().start(sink, known)
        with self._lock:
            batches = [b for b in self._batches.values() if b.cluster_id is not None]
        for batch in batches:  # an earlier engine's jobs: followed until they end
            ids = [drmaa_task_id(batch.task_id(index)) for index in sorted(batch.open)]
            self.agent.run(["adopt", str(batch.directory), *ids])
        return held

    def close(self) -> None:
        super().close()
        self.agent.close()


# -- the engine's side of the agent -----------------------------------------------------


class AgentRunner(CommandRunner):
    """Sends the batch machinery's requests to the agent process (started on first use,
    restarted when it died) and returns its answers as command results."""

    def __init__(self, contact_file: Path, env: dict[str, str], timeout: float = 60.0) -> None:
        super().__init__(timeout)
        self.contact_file = contact_file
        self.env = env
        self.on_end: Callable[[], None] = lambda: None
        #: Why the agent could not start (libdrmaa did not load...), as it said.
        self.fatal = ""
        self._process: subprocess.Popen[str] | None = None
        self._replies: dict[int, tuple[int, str, str]] = {}
        self._answered = threading.Condition()
        self._serial = 0
        self._io = threading.Lock()
        #: The agent's output ended (it exited): nothing more will be answered.
        self._gone = True

    def run(self, argv: list[str], timeout: float | None = None) -> CommandResult:
        with self._lock:
            self.calls[argv[0]] += 1
        with self._answered:
            self._serial += 1
            serial = self._serial
        try:
            self._send({"serial": serial, "op": argv[0], "args": argv[1:]})
        except (OSError, DrmaaUnavailableError) as error:
            return CommandResult(tuple(argv), TIMED_OUT, "", f"DRMAA agent: {error}")
        with self._answered:
            answered = self._answered.wait_for(
                lambda: serial in self._replies or self._gone, timeout or self.timeout
            )
            reply = self._replies.pop(serial, None)
        if not answered or reply is None:
            said = self.fatal or "no answer"
            return CommandResult(tuple(argv), TIMED_OUT, "", f"DRMAA agent: {said}")
        return CommandResult(tuple(argv), *reply)

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
        argv = [sys.executable, "-m", "swf_adapters.schedulers.drmaa", "agent",
                str(self.contact_file)]  # fmt: skip
        self._process = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=self.env,
            bufsize=1, start_new_session=True,
        )  # fmt: skip
        assert self._process.stdout is not None
        self._gone = False
        threading.Thread(
            target=self._read, args=(self._process,), name="swf-drmaa-agent", daemon=True
        ).start()

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            message = json.loads(line)
            if message.get("op") == "ended":
                self.on_end()
                continue
            if message.get("op") == "fatal":
                self.fatal = message["error"]
                continue
            with self._answered:
                self._replies[message["serial"]] = (
                    message["rc"],
                    message.get("stdout", ""),
                    message.get("stderr", ""),
                )
                self._answered.notify_all()
        with self._answered:
            if process is self._process:  # not a newer agent's
                self._gone = True
            self._answered.notify_all()


# -- the agent process ------------------------------------------------------------------


class Agent:
    """Holds the DRMAA session; one request per stdin line, one answer per stdout line."""

    def __init__(self, contact_file: Path) -> None:
        import drmaa

        self.drmaa = drmaa
        self.session = drmaa.Session()
        self.contact_file = contact_file
        # One agent per job directory at a time: the agent of a killed engine finishes
        # the request it was serving (and records its job id) before a new one starts.
        self._owner = open(contact_file.with_suffix(".lock"), "a")  # noqa: SIM115 (held)
        fcntl.flock(self._owner, fcntl.LOCK_EX)
        self._attach()
        self._lock = threading.Lock()
        self._output = threading.Lock()
        self._jobs = threading.Condition(self._lock)
        #: DRMAA job id -> (its batch directory, adopted from an earlier engine), until
        #: ``wait`` reaped it; then ``ended``: job id -> how it ended.
        self.live: dict[str, tuple[str, bool]] = {}
        self.ended: dict[str, str] = {}

    def _attach(self) -> None:
        contact = self.contact_file.read_text().strip() if self.contact_file.exists() else ""
        try:
            self.session.initialize(contact or None)
        except self.drmaa.errors.DrmaaException:
            self.session.initialize()  # the old session is gone: its jobs end by end files
        _write_atomically(self.contact_file, str(self.session.contact))

    def serve(self, requests: IO[str]) -> None:
        threading.Thread(target=self._wait_loop, daemon=True).start()
        for line in requests:
            message = json.loads(line)
            try:
                stdout = getattr(self, "op_" + message["op"])(*message["args"])
                answer = {"rc": 0, "stdout": stdout}
            except Exception as error:  # the answer carries DRMAA's refusal, typed
                answer = {"rc": 1, "stderr": f"{type(error).__name__}: {error}"}
            self._emit({"serial": message["serial"], **answer})

    def op_runBulkJobs(self, text: str) -> str:
        request = json.loads(text)
        template = self.session.createJobTemplate()
        try:
            template.remoteCommand = "/bin/sh"
            template.args = ["-c", _REMOTE, request["script"]]
            template_dir = str(Path(request["script"]).parent)
            template.workingDirectory = template_dir
            template.outputPath = ":/dev/null"
            template.joinFiles = True
            template.jobName = request["name"]
            template.nativeSpecification = " ".join(shlex.quote(a) for a in request["native"])
            template.jobEnvironment = request.get("env", {})
            ids = self.session.runBulkJobs(template, 1, request["count"], 1)
        finally:
            self.session.deleteJobTemplate(template)
        cluster_id = str(ids[0]).split(".", 1)[0]
        # Recorded here, not only by the engine: an engine killed during this call finds it.
        _write_atomically(Path(template_dir, CLUSTER_ID), cluster_id)
        with self._jobs:
            self.live.update(dict.fromkeys(ids, (template_dir, False)))
            self._jobs.notify()
        return cluster_id

    def op_hello(self) -> str:
        return str(self.session.contact)

    def op_status(self, _tag: str) -> str:
        """From the batch directory first (a task runs once its log exists: the remote
        command creates it; it ended once its end file exists), else from memory; only an
        earlier engine's jobs still without an end file are asked about (jobStatus)."""
        view: dict[str, dict[str, tuple[str, str]]] = {}
        with self._lock:
            live, ended = dict(self.live), dict(self.ended)
        for job_id, (directory, adopted) in live.items():
            state = _from_files(directory, job_id)
            if adopted and state[0] != "finished":
                state = self._job_status(job_id)
            _put(view, job_id, state)
        for job_id, reason in ended.items():
            _put(view, job_id, ("finished", reason))
        return json.dumps(view)

    def op_adopt(self, directory: str, *job_ids: str) -> str:
        with self._jobs:
            for job_id in job_ids:
                if job_id not in self.ended:
                    self.live.setdefault(job_id, (directory, True))
            self._jobs.notify()
        return ""

    def op_control(self, *task_ids: str) -> str:
        terminate = self.drmaa.JobControlAction.TERMINATE
        for task_id in task_ids:
            with contextlib.suppress(self.drmaa.errors.InvalidJobException):
                self.session.control(drmaa_task_id(task_id), terminate)
        return ""

    def _job_status(self, job_id: str) -> tuple[str, str]:
        states = self.drmaa.JobState
        try:
            state = self.session.jobStatus(job_id)
        except self.drmaa.errors.InvalidJobException:
            return ("finished", "no longer known to Grid Engine")
        if state == states.RUNNING:
            return ("running", "running")
        if state in (states.DONE, states.FAILED):
            return ("finished", str(state))
        return ("pending", str(state))

    def _wait_loop(self) -> None:
        errors = self.drmaa.errors
        while True:
            with self._jobs:
                self._jobs.wait_for(lambda: bool(self.live))
            try:
                info = self.session.wait(self.drmaa.Session.JOB_IDS_SESSION_ANY, 2)
            except errors.ExitTimeoutException:
                continue
            except errors.InvalidJobException:  # none of this session's (adopted ones poll)
                time.sleep(1.0)
                continue
            except errors.DrmaaException as error:  # qmaster busy or gone: ends still
                _log_stderr(f"DRMAA wait: {error}")  # come from the end files
                time.sleep(1.0)
                continue
            with self._lock:
                self.live.pop(info.jobId, None)
                self.ended[info.jobId] = _reason(info)
            self._emit({"op": "ended", "id": info.jobId})

    def _emit(self, message: dict[str, Any]) -> None:
        with self._output:
            sys.stdout.write(json.dumps(message) + "\n")
            sys.stdout.flush()


def _put(view: dict[str, dict[str, tuple[str, str]]], job_id: str, state: tuple[str, str]) -> None:
    cluster_id, _, task = job_id.partition(".")
    view.setdefault(cluster_id, {})[str(int(task or 1) - 1)] = state


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _log_stderr(text: str) -> None:
    print(f"swf drmaa agent: {text}", file=sys.stderr, flush=True)


def _from_files(directory: str, job_id: str) -> tuple[str, str]:
    index = int(job_id.partition(".")[2] or 1) - 1
    if Path(directory, f"{index}.end").exists():
        return ("finished", "ended")
    return ("running", "r") if Path(directory, f"{index}.log").exists() else ("pending", "qw")


def _reason(info: Any) -> str:
    """DRMAA's job info in the words a user reads in the job's stderr when it is lost."""
    if info.wasAborted:
        return "aborted (killed or never started)"
    if info.hasSignal:
        return f"killed by signal {info.terminatedSignal}"
    return f"exited with {info.exitStatus}" if info.hasExited else "ended"


def main(argv: list[str]) -> int:
    if argv[1:2] != ["agent"] or len(argv) != 3:
        print("usage: python -m swf_adapters.schedulers.drmaa agent CONTACT_FILE", file=sys.stderr)
        return 2
    try:
        agent = Agent(Path(argv[2]))
    except Exception as error:  # libdrmaa did not load, the session did not open
        print(json.dumps({"op": "fatal", "error": f"{type(error).__name__}: {error}"}))
        return 1
    agent.serve(sys.stdin)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
