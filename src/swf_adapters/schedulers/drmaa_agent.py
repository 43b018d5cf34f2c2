"""The DRMAA agent: the process that holds the engine's DRMAA session (``python -m
swf_adapters.schedulers.drmaa_agent CONTACT_FILE``; why a process: see ``drmaa``).

It answers the engine's requests (one JSON line each on stdin: ``hello``, ``runBulkJobs``,
``adopt``, ``control``, ``stats``) and PUSHES what changes, unasked, as ``changes`` lines:
a task started (its wrapper log appeared) or ended (``wait`` returned it, or, for an
earlier engine's task, its end file appeared). The engine therefore never asks about a
job: its cost per job is the one change it reads, whatever the queue holds. What only
the engine's log should hear (an expected DRMAA refusal) goes as ``log`` lines; the
agent's stderr, the user's terminal, is kept for real errors.

- ``wait(JOB_IDS_SESSION_ANY)`` in one thread reaps ends (a burst in one message);
- a watcher scans the batch directories of the followed tasks for wrapper logs (a start)
  and end files (an end ``wait`` did not give: an earlier engine's task, an end without
  usage): one listing per batch directory, at an interval that grows while nothing moves;
  it also says when a DRMAA call has waited on qmaster too long (``problem``);
- while tasks are followed and no end comes, one ``jobStatus`` every ``HEARTBEAT``
  seconds is the heartbeat that notices a silent qmaster (nothing else would ask it
  anything); an earlier engine's task without an end file is asked about the same way,
  one at a time.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shlex
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

from swf_adapters.schedulers.batch.jobdir import CLUSTER_ID

#: DRMAA's error code for "no usage information was returned for the completed job":
#: Grid Engine's answer to ``wait`` for a task that was deleted before it ran.
NO_RUSAGE = 24
#: Sets the wrapper's 0-based index from SGE_TASK_ID (1-based); the log shows the start.
REMOTE = 'i=$((SGE_TASK_ID - 1)); SWF_TASK_INDEX=$i exec /bin/sh "$0" >>"${0%/*}/$i.log" 2>&1'
#: Seconds between two heartbeat calls to qmaster while tasks are queued.
HEARTBEAT = 10.0
#: Seconds a DRMAA call may wait on qmaster before the engine says it is waiting for it.
SILENCE = 10.0
_T = TypeVar("_T")


@dataclass(slots=True)
class Task:
    """One array task the agent follows until it ends."""

    directory: str
    index: int
    #: Submitted by an earlier agent: its end may come from its end file only.
    adopted: bool
    started: bool = False


class Agent:
    """Holds the DRMAA session; serves requests, pushes changes (see the module doc)."""

    def __init__(self, contact_file: Path, write: Callable[[str], None]) -> None:
        import drmaa

        self.drmaa = drmaa
        self.session = drmaa.Session()
        self.contact_file = contact_file
        self._write = write
        # One agent per job directory at a time: the agent of a killed engine finishes
        # the request it was serving (and records its job id) before a new one starts.
        self._owner = open(contact_file.with_suffix(".lock"), "a")  # noqa: SIM115 (held)
        fcntl.flock(self._owner, fcntl.LOCK_EX)
        self._attach()
        self._lock = threading.Condition()
        self._output = threading.Lock()
        #: DRMAA job id (``12.3``) -> the task, until it ended.
        self.tasks: dict[str, Task] = {}
        #: DRMAA calls that reached qmaster, by name (the bench reads them: ``stats``).
        self.calls: Counter[str] = Counter()
        #: Calls waiting on qmaster now: thread id -> (call name, since when).
        self._waiting: dict[int, tuple[str, float]] = {}
        self._problem = ""
        self._beats = 0

    def _attach(self) -> None:
        contact = self.contact_file.read_text().strip() if self.contact_file.exists() else ""
        try:
            self.session.initialize(contact or None)
        except self.drmaa.errors.DrmaaException:
            self.session.initialize()  # the old session is gone: its jobs end by end files
        _write_atomically(self.contact_file, str(self.session.contact))

    # -- requests -----------------------------------------------------------------------

    def serve(self, requests: IO[str]) -> None:
        for target in (self._wait_loop, self._watch_loop):
            threading.Thread(target=target, daemon=True).start()
        for line in requests:
            message = json.loads(line)
            try:
                stdout = getattr(self, "op_" + message["op"])(*message["args"])
                answer = {"rc": 0, "stdout": stdout}
            except Exception as error:  # the answer carries DRMAA's refusal, typed
                answer = {"rc": 1, "stderr": f"{type(error).__name__}: {error}"}
            self._emit({"serial": message["serial"], **answer})

    def op_hello(self) -> str:
        return str(self.session.contact)

    def op_stats(self) -> str:
        return json.dumps(dict(self.calls))

    def op_runBulkJobs(self, text: str) -> str:
        request = json.loads(text)
        template = self.session.createJobTemplate()
        try:
            _fill(template, request)
            ids = self._call(
                "runBulkJobs", self.session.runBulkJobs, template, 1, request["count"], 1
            )
        finally:
            self.session.deleteJobTemplate(template)
        cluster_id = str(ids[0]).split(".", 1)[0]
        directory = str(Path(request["script"]).parent)
        # Recorded here, not only by the engine: an engine killed during this call finds it.
        _write_atomically(Path(directory, CLUSTER_ID), cluster_id)
        self._follow({str(i): Task(directory, _index(str(i)), False) for i in ids})
        return cluster_id

    def op_adopt(self, directory: str, *job_ids: str) -> str:
        self._follow({i: Task(directory, _index(i), True) for i in job_ids})
        return ""

    def op_control(self, *job_ids: str) -> str:
        """Terminates whole arrays (``12``) or tasks (``12.3``); gone ones are ignored.
        The terminated tasks are reported ended at once: ``wait`` may never return them
        (Grid Engine has no usage for a task killed before it ran: error code 24)."""
        terminate = self.drmaa.JobControlAction.TERMINATE
        for job_id in job_ids:
            with contextlib.suppress(self.drmaa.errors.InvalidJobException):
                self._call("control", self.session.control, job_id, terminate)
        with self._lock:
            gone = [i for i in self.tasks if i in job_ids or i.partition(".")[0] in job_ids]
        self._report(dict.fromkeys(gone, ("finished", "terminated by swf")))
        return ""

    def _follow(self, tasks: dict[str, Task]) -> None:
        with self._lock:
            for job_id, task in tasks.items():
                self.tasks.setdefault(job_id, task)
            self._lock.notify_all()

    # -- ends: the wait thread ----------------------------------------------------------

    def _wait_loop(self) -> None:
        last_beat = time.monotonic()
        while True:
            with self._lock:
                self._lock.wait_for(lambda: bool(self.tasks))
            ended = self._reap(timeout=2)
            if ended:
                self._report({job_id: ("finished", reason) for job_id, reason in ended.items()})
            elif time.monotonic() - last_beat >= self._beat_interval():
                last_beat = time.monotonic()
                self._heartbeat()

    def _beat_interval(self) -> float:
        """``HEARTBEAT``; once a second while an earlier engine's tasks are followed."""
        with self._lock:
            adopted = any(task.adopted for task in self.tasks.values())
        return 1.0 if adopted else HEARTBEAT

    def _reap(self, timeout: float) -> dict[str, str]:
        """Ends ``wait`` returns: the first within ``timeout``, then the burst behind it."""
        errors = self.drmaa.errors
        ended: dict[str, str] = {}
        try:
            while True:
                info = self._call(
                    "wait", self.session.wait, self.drmaa.Session.JOB_IDS_SESSION_ANY, timeout
                )
                ended[str(info.jobId)] = _reason(info)
                timeout = self.drmaa.Session.TIMEOUT_NO_WAIT
        except errors.ExitTimeoutException:
            pass
        except errors.InvalidJobException:  # none of this session's: adopted ones only
            time.sleep(0.0 if ended else 1.0)
        except Exception as error:  # qmaster busy or gone, or an end without its usage:
            self._wait_failed(error)  # the end files, the heartbeat and kills report those
            time.sleep(0.2)
        return ended

    def _wait_failed(self, error: Exception) -> None:
        """Say why ``wait`` failed: on the user's terminal, unless it is the expected
        end without usage of a task killed before it ran (a held or queued job deleted),
        which goes to the engine's log at debug level."""
        text = f"DRMAA wait: {type(error).__name__}: {error}"
        if _no_usage(error):
            self._emit({"op": "log", "level": "debug", "text": text})
        else:
            _log_stderr(text)

    def _heartbeat(self) -> None:
        """One status call while tasks are followed and no end came: the only way to
        notice a silent qmaster when nothing is submitted; for an earlier engine's
        task, how it is found gone (one at a time, in turn)."""
        with self._lock:
            waiting = list(self.tasks.items())
        adopted = [(i, t) for i, t in waiting if t.adopted]
        if not waiting:
            return
        self._beats += 1
        job_id = (adopted or waiting)[self._beats % len(adopted or waiting)][0]
        state = self._job_status(job_id)
        if state is not None:
            self._report({job_id: state})

    def _job_status(self, job_id: str) -> tuple[str, str] | None:
        states = self.drmaa.JobState
        try:
            state = self._call("jobStatus", self.session.jobStatus, job_id)
        except self.drmaa.errors.InvalidJobException:
            return ("finished", "no longer known to Grid Engine")
        except self.drmaa.errors.DrmaaException as error:
            _log_stderr(f"DRMAA jobStatus: {error}")
            return None
        if state in (states.DONE, states.FAILED):
            return ("finished", str(state))
        return None

    # -- starts: the watcher ------------------------------------------------------------

    def _watch_loop(self) -> None:
        interval = 0.2
        while True:
            time.sleep(interval)
            changes = self._scan()
            if changes:
                self._report(changes)
            interval = 0.2 if changes else min(interval * 1.5, 2.0)
            self._say_problem()

    def _scan(self) -> dict[str, tuple[str, str]]:
        """Tasks that started (log file) or ended (end file: an earlier engine's task, or
        an end ``wait`` did not return) since the last scan: one directory listing per
        batch directory of the followed tasks."""
        with self._lock:
            watched = list(self.tasks.items())
        names: dict[str, set[str]] = {}
        changes: dict[str, tuple[str, str]] = {}
        for job_id, task in watched:
            listed = names.get(task.directory)
            if listed is None:
                listed = names[task.directory] = _listing(task.directory)
            if f"{task.index}.end" in listed:
                changes[job_id] = ("finished", "ended")
            elif not task.started and f"{task.index}.log" in listed:
                changes[job_id] = ("running", "r")
        return changes

    def _say_problem(self) -> None:
        now = time.monotonic()
        with self._lock:
            stuck = [(name, now - since) for name, since in self._waiting.values()]
        slow = [(name, waited) for name, waited in stuck if waited >= SILENCE]
        text = ""
        if slow:
            name, waited = max(slow, key=lambda item: item[1])
            text = f"qmaster has not answered DRMAA {name} for {waited:.0f} s"
        if text != self._problem and (text == "" or self._problem == ""):
            self._problem = text
            self._emit({"op": "problem", "text": text})

    # -- helpers ------------------------------------------------------------------------

    def _report(self, changes: dict[str, tuple[str, str]]) -> None:
        """Apply ``changes`` to what the agent follows, and push them to the engine."""
        if not changes:
            return
        with self._lock:
            for job_id, (state, _reason) in changes.items():
                task = self.tasks.get(job_id)
                if state == "finished":
                    self.tasks.pop(job_id, None)
                elif task is not None:
                    task.started = True
        self._emit({"op": "changes", "changes": changes})

    def _call(self, name: str, function: Callable[..., _T], *args: Any) -> _T:
        """A DRMAA call that reaches qmaster: counted, and timed while it waits."""
        me = threading.get_ident()
        with self._lock:
            self.calls[name] += 1
            self._waiting[me] = (name, time.monotonic())
        try:
            return function(*args)
        finally:
            with self._lock:
                self._waiting.pop(me, None)

    def _emit(self, message: dict[str, Any]) -> None:
        with self._output:
            self._write(json.dumps(message) + "\n")


def _fill(template: Any, request: dict[str, Any]) -> None:
    """The job template of one batch: tasks run the batch script through ``REMOTE``."""
    template.remoteCommand = "/bin/sh"
    template.args = ["-c", REMOTE, request["script"]]
    template.workingDirectory = str(Path(request["script"]).parent)
    template.outputPath = ":/dev/null"
    template.joinFiles = True
    template.jobName = request["name"]
    template.nativeSpecification = " ".join(shlex.quote(a) for a in request["native"])
    template.jobEnvironment = request.get("env", {})


def _index(job_id: str) -> int:
    """The wrapper's 0-based index of DRMAA task ``12.3`` (``12`` alone: task 1)."""
    return int(job_id.partition(".")[2] or 1) - 1


def _listing(directory: str) -> set[str]:
    with contextlib.suppress(OSError):
        return set(os.listdir(directory))
    return set()


def _reason(info: Any) -> str:
    """DRMAA's job info in the words a user reads in the job's stderr when it is lost."""
    if info.wasAborted:
        return "aborted (killed or never started)"
    if info.hasSignal:
        return f"killed by signal {info.terminatedSignal}"
    return f"exited with {info.exitStatus}" if info.hasExited else "ended"


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _no_usage(error: Exception) -> bool:
    """DRMAA_ERRNO_NO_RUSAGE, which drmaa-python raises as a bare ``Exception``."""
    return type(error) is Exception and str(error).startswith(f"code {NO_RUSAGE}:")


def _log_stderr(text: str) -> None:
    print(f"swf drmaa agent: {text}", file=sys.stderr, flush=True)


def _stdout(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m swf_adapters.schedulers.drmaa_agent CONTACT_FILE", file=sys.stderr)
        return 2
    try:
        agent = Agent(Path(argv[1]), _stdout)
    except Exception as error:  # libdrmaa did not load, the session did not open
        print(json.dumps({"op": "fatal", "error": f"{type(error).__name__}: {error}"}))
        return 1
    agent.serve(sys.stdin)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
