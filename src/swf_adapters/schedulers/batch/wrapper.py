"""The job wrapper: runs ONE task of a batch on a compute node and writes its end file.

Run as a standalone script (``python3 wrapper.py TABLE_FILE INDEX_VARIABLE``) by the batch
script of an array job; it imports nothing from swf, so a compute node only needs a Python 3
interpreter and the shared file system. The task is found in the table file (JSON, written
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
import json
import os
import signal
import socket
import subprocess
import sys
import time
from typing import Any

COMMAND_NOT_FOUND = 127
COMMAND_NOT_EXECUTABLE = 126
_FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1, signal.SIGUSR2, signal.SIGHUP)


def _write_atomically(path: str, data: dict[str, Any]) -> None:
    temporary = f"{path}.tmp{os.getpid()}"
    with open(temporary, "w") as stream:
        json.dump(data, stream)
        stream.flush()
        os.fsync(stream.fileno())
    os.replace(temporary, path)


def _open_output(path: str | None, append: bool = False) -> Any:
    # The file is handed to the child and closed when the wrapper exits.
    return open(path, "ab" if append else "wb") if path else subprocess.DEVNULL


def _say(task: dict[str, Any], message: str) -> None:
    """A reason for the user, in the task's stderr (or stdout when they are joined)."""
    path = task.get("stderr") or task.get("stdout")
    if path:
        with open(path, "a") as stream:
            stream.write(message.rstrip("\n") + "\n")


def _start(task: dict[str, Any]) -> Any:
    env = dict(os.environ)
    env.update(task.get("env") or {})
    stdout = _open_output(task.get("stdout"))
    stderr = _open_output(task["stderr"]) if task.get("stderr") else subprocess.STDOUT
    stdin = open(task["stdin"], "rb") if task.get("stdin") else subprocess.DEVNULL  # noqa: SIM115
    return subprocess.Popen(
        task["argv"],
        stdin=stdin,
        stdout=stdout,
        stderr=stderr,
        env=env,
        cwd=task.get("cwd") or None,
        start_new_session=True,
        close_fds=True,
    )


def _forward_signals(running: list[Any], received: list[int]) -> None:
    """Installed BEFORE the task starts: a signal that comes first is not lost."""

    def forward(signum: int, _frame: Any) -> None:
        received.append(signum)
        for process in running:
            with contextlib.suppress(OSError):
                os.killpg(process.pid, signum)

    for signum in _FORWARDED:
        signal.signal(signum, forward)


def run(task: dict[str, Any]) -> dict[str, Any]:
    """Run the task; return the end record."""
    start = time.time()
    record: dict[str, Any] = {"job": task.get("job"), "start": start, "host": socket.gethostname()}
    running: list[Any] = []
    received: list[int] = []
    _forward_signals(running, received)
    if received:  # killed before it started: it never runs
        record.update(exit_value=None, signal=received[0], cpu=0.0, maxrss_kb=0, end=time.time())
        return record
    try:
        running.append(_start(task))
    except OSError as error:
        missing = isinstance(error, FileNotFoundError)
        code = COMMAND_NOT_FOUND if missing else COMMAND_NOT_EXECUTABLE
        what = "command not found" if missing else "cannot execute"
        _say(task, f"swf: {task['argv'][0]}: {what} ({error})")
        record.update(exit_value=code, signal=None, cpu=0.0, maxrss_kb=0, end=time.time())
        return record
    process = running[0]
    if received:  # came while it was starting
        with contextlib.suppress(OSError):
            os.killpg(process.pid, received[0])
    _, status, usage = os.wait4(process.pid, 0)
    end = time.time()
    record.update(
        exit_value=os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
        signal=os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
        cpu=usage.ru_utime + usage.ru_stime,
        maxrss_kb=usage.ru_maxrss,
        end=end,
        received=received[0] if received else None,
    )
    return record


def main(argv: list[str]) -> int:
    table_file, index_variable = argv[1], argv[2]
    index = int(os.environ[index_variable]) if index_variable != "-" else 0
    with open(table_file) as stream:
        table = json.load(stream)
    task = table["tasks"][index]
    record = run(task)
    record["wall"] = record["end"] - record["start"]
    _write_atomically(task["end"], record)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
