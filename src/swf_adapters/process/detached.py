"""Starting a detached process that says, through a pipe, how its start went.

The engine daemon and the job host (and later the MPI runner and a remote engine start)
all start a process that must outlive its starter: its own session, no stdin, output to a
log. The starter must not poll for a socket to appear, so the child is handed the write end
of a pipe (``--ready-fd N``) and writes one line once it serves (``ready``), or why it
will not (``busy``, ``error ...``); a child that dies before that closes the pipe, which
reads as an empty report.
"""

from __future__ import annotations

import contextlib
import os
import select
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

READY_FD_OPTION = "--ready-fd"


def start_detached(
    command: Sequence[str],
    log: Path,
    deadline: float,
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> tuple[str, subprocess.Popen[bytes]]:
    """Start ``command`` (plus ``--ready-fd N``) in its own session, stdout and stderr
    appended to ``log`` (created 0600); its one-line report ("" if it closed the pipe
    without one, "timeout" if none came before ``deadline``) and its process."""
    read_fd, write_fd = os.pipe()
    try:
        log_fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            process = subprocess.Popen(
                [*command, READY_FD_OPTION, str(write_fd)],
                stdin=subprocess.DEVNULL,
                stdout=log_fd,
                stderr=subprocess.STDOUT,
                cwd=cwd,
                env=dict(env) if env is not None else None,
                start_new_session=True,
                pass_fds=(write_fd,),
            )
        finally:
            os.close(log_fd)
        os.close(write_fd)
        write_fd = -1
        return read_report(read_fd, deadline), process
    finally:
        os.close(read_fd)
        if write_fd >= 0:
            os.close(write_fd)


def read_report(descriptor: int, deadline: float) -> str:
    """The child's one-line report; "" if it closed the pipe without one (it died)."""
    received = b""
    while not received.endswith(b"\n"):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return "timeout"
        if not select.select([descriptor], [], [], remaining)[0]:
            continue
        chunk = os.read(descriptor, 4096)
        if not chunk:
            break
        received += chunk
    return received.decode("utf-8", "replace").strip()


def report(ready_fd: int | None, line: str) -> None:
    """Child side: tell the starter how the start went (one line), then let go of the pipe."""
    if ready_fd is None or ready_fd < 0:
        return
    with contextlib.suppress(OSError):
        os.write(ready_fd, (line.replace("\n", " ") + "\n").encode())
    with contextlib.suppress(OSError):
        os.close(ready_fd)
