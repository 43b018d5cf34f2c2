"""The job wrapper: runs ONE task of a batch on a compute node and writes its end file.

Run as a standalone script (``python3 wrapper.py TABLE_FILE INDEX_VARIABLE``) by the batch
script of an array job; it imports nothing from swf, so a compute node only needs a Python 3
interpreter and the shared file system. The task is found in the table file (written
by the engine) by the array index the batch system put in ``INDEX_VARIABLE``; the command
is an argv list that is exec'ed directly — never through a shell — so no user data is ever
interpreted.

The end file (Nextflow's ``.exitcode`` idea, with more in it) says exactly how the task
ended without the cluster's accounting: start and end time, exit value or terminating
signal, CPU time, max RSS, host. It is written atomically (temporary file + rename), so a
reader never sees half of one. Signals the batch system sends before killing (SIGTERM on
``scancel`` or at the time limit, SIGUSR1/2, SIGINT) are passed on to the task's process
group, so the end file records the signal that ended it.

Kept compatible with Python 3.7 (compute nodes may run an older interpreter than the
engine): no walrus, no ``match``, no builtin generics at run time.
"""

from __future__ import annotations

import contextlib
import marshal
import os
import signal
import sys
import time
from typing import Any

# Only cheap modules: a task's overhead is this interpreter's start-up (subprocess and
# socket would add about 15 ms per task; fork/exec below is all that is needed).
COMMAND_NOT_FOUND = 127
COMMAND_NOT_EXECUTABLE = 126
_FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1, signal.SIGUSR2, signal.SIGHUP)
#: Blocked from the start of ``run``; what it waits for: a signal to forward, or the end.
_WAITED = (*_FORWARDED, signal.SIGCHLD)
#: The batch's "started" marker, next to its table (read by ``jobdir.read_started``).
STARTED = "started"
#: Where SLURM, PBS / Torque and Grid Engine put the job's id (the first one set wins).
_JOB_ID_VARIABLES = ("SLURM_ARRAY_JOB_ID", "SLURM_JOB_ID", "PBS_JOBID", "JOB_ID")


def _write_atomically(path: str, data: dict[str, Any]) -> None:
    """Temporary file + rename: a reader sees the whole record or none. No fsync: it
    costs a disk round trip per task, and a record lost with its node is a task that
    vanished, which the engine reports as such."""
    temporary = f"{path}.tmp{os.getpid()}"
    with open(temporary, "w") as stream:
        stream.write(_json_object(data))
    os.replace(temporary, path)


def _json_object(data: dict[str, Any]) -> str:
    """A flat record (numbers, None, plain strings) as JSON, without importing ``json``:
    that import (and its ``re``) would triple the wrapper's start-up time."""
    return "{" + ", ".join(f"{_json_value(k)}: {_json_value(v)}" for k, v in data.items()) + "}"


def _json_value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return '"' + "".join(c if c >= " " else f"\\u{ord(c):04x}" for c in text) + '"'


def _say(task: dict[str, Any], message: str) -> None:
    """A reason for the user, in the task's stderr (or stdout when they are joined)."""
    path = task.get("stderr") or task.get("stdout")
    if path:  # never through a symlink a job planted in swf's job files
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW
        descriptor = os.open(path, flags, 0o666)
        try:
            os.write(descriptor, (message.rstrip("\n") + "\n").encode())
        finally:
            os.close(descriptor)


def _redirect(path: str | None, flags: int, target: int) -> None:
    descriptor = os.open(path or os.devnull, flags, 0o666)
    os.dup2(descriptor, target)
    os.close(descriptor)


def _exec_task(task: dict[str, Any]) -> None:
    """In the forked child: own session, files, directory, then exec (never returns)."""
    code = COMMAND_NOT_FOUND
    try:
        os.setsid()
        # Blocked by the parent since before the fork; exec keeps the mask, so the task
        # gets them back here. One sent meanwhile waits in the parent's sigwaitinfo and is
        # forwarded once the child's pid is known: none is lost, none is half-handled.
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _WAITED)
        write = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
        if task.get("private"):  # swf's default files: a planted symlink is not followed
            write |= os.O_NOFOLLOW
        _redirect(task.get("stdin"), os.O_RDONLY, 0)
        _redirect(task.get("stdout"), write, 1)
        if task.get("stderr"):
            _redirect(task["stderr"], write, 2)
        else:
            os.dup2(1, 2)
        if task.get("cwd"):
            os.chdir(task["cwd"])
        env = dict(os.environ)
        env.update(task.get("env") or {})
        argv = [str(arg) for arg in task["argv"]]
        os.execvpe(argv[0], argv, env)
    except BaseException as error:  # the child must never return
        missing = isinstance(error, FileNotFoundError)
        code = COMMAND_NOT_FOUND if missing else COMMAND_NOT_EXECUTABLE
        what = "command not found" if missing else "cannot execute"
        with contextlib.suppress(BaseException):
            reason = getattr(error, "strerror", None) or error
            os.write(2, f"swf: {task['argv'][0]}: {what} ({reason})\n".encode())
    os._exit(code)


def _forward(pid: int, signum: int) -> None:
    """Pass a signal on to the task and everything it started (its own session)."""
    try:
        os.killpg(pid, signum)
    except OSError:  # no session of its own yet: the task itself
        with contextlib.suppress(OSError):
            os.kill(pid, signum)


def _pending_forwarded() -> int | None:
    """A signal that came after the block and before the fork: the task never starts."""
    if not signal.sigpending() & set(_FORWARDED):
        return None
    info = signal.sigtimedwait(_FORWARDED, 0)
    return info.si_signo if info is not None else None


def _wait(pid: int, received: list[int]) -> tuple[int, Any]:
    """Wait for the task's end, forwarding signals meanwhile.

    Synchronous (``sigwaitinfo`` on blocked signals), not Python handlers: a handler runs
    between bytecodes, so a signal that came just before ``wait4`` blocked was only
    forwarded once the task had ended by itself (seen: ``sleep 60`` ran in full after a
    ``scancel``). Here a signal is either pending or forwarded, never in between."""
    while True:
        signum = signal.sigwaitinfo(_WAITED).si_signo
        if signum != signal.SIGCHLD:
            received.append(signum)
            _forward(pid, signum)
            continue
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            return status, usage


def run(task: dict[str, Any]) -> dict[str, Any]:
    """Run the task; return the end record."""
    signal.pthread_sigmask(signal.SIG_BLOCK, _WAITED)  # first: see ``_wait``
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # a batch system's SIG_IGN would reap it
    start = time.time()
    record: dict[str, Any] = {"job": task.get("job"), "start": start, "host": os.uname()[1]}
    early = _pending_forwarded()
    if early is not None:  # killed before it started: it never runs
        record.update(exit_value=None, signal=early, cpu=0.0, maxrss_kb=0)
        record.update(end=time.time(), received=early)
        return record
    pid = os.fork()
    if pid == 0:
        _exec_task(task)
    received: list[int] = []
    status, usage = _wait(pid, received)
    record.update(
        exit_value=os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
        signal=os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
        cpu=usage.ru_utime + usage.ru_stime,
        maxrss_kb=usage.ru_maxrss,
        end=time.time(),
        received=received[0] if received else None,
    )
    return record


def _index(index_variable: str, count: int) -> int:
    """The task's index: from the batch system's variable; a one-task batch may go as a
    plain job without one (PBS Pro refuses a one-element ``-J`` range)."""
    value = os.environ.get(index_variable) if index_variable != "-" else "0"
    if value is None and count == 1:
        return 0
    if value is None:
        raise SystemExit(f"swf wrapper: {index_variable} is not set in a {count}-task batch")
    return int(value)


def _cluster_id() -> str:
    """The array job's id as the engine records it: a PBS sub-job's ``12[3].server``
    becomes the array's ``12[].server`` (no ``re``: start-up time)."""
    value = next((os.environ[n] for n in _JOB_ID_VARIABLES if os.environ.get(n)), "")
    opened, closed = value.find("["), value.find("]")
    if 0 <= opened < closed and value[opened + 1 : closed].isdigit():
        value = value[: opened + 1] + value[closed:]
    return value


def mark_started(directory: str) -> None:
    """Leave the batch's "started" marker (with the cluster's id) before any task runs
    its command: an engine that lost the submission's answer then knows the batch ran
    even once the cluster has forgotten it, and never submits it again. One ``stat``
    per task once the marker exists; tasks racing to write it write the same text."""
    path = os.path.join(directory, STARTED)
    if not os.path.exists(path):
        temporary = f"{path}.tmp{os.getpid()}"
        with open(temporary, "w") as stream:
            stream.write(_cluster_id())
        os.replace(temporary, path)


def main(argv: list[str]) -> int:
    table_file, index_variable = argv[1], argv[2]
    with open(table_file, "rb") as stream:
        table = marshal.load(stream)  # written by the engine (jobdir.py); no json import
    task = table["tasks"][_index(index_variable, len(table["tasks"]))]
    mark_started(os.path.dirname(table_file))
    record = run(task)
    record["wall"] = record["end"] - record["start"]
    _write_atomically(task["end"], record)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
