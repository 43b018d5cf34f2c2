"""Starting one job process, as cheaply as Python allows.

The fast path is ``os.posix_spawn`` (vfork + exec in glibc, errors such as a missing
command reported back to the caller) with file actions for the job's stdin, stdout and
stderr and ``setsid`` so that each job leads its own session and process group: a kill
reaches the whole group at once. Bare command names are looked up on the job's PATH
like a shell does, remembering where they were found (see ``_spawn_found``).

``posix_spawn`` in Python 3.11 cannot change directory, so a job with a working directory
goes through ``subprocess.Popen(cwd=...)``, which also uses vfork + exec from C. Measured
on 2 cores with ``true``: posix_spawnp ~3100 jobs/s, Popen ~2550 jobs/s, ``posix_spawnp`` of
``/usr/bin/env -C dir`` ~1400 jobs/s (two execs). The Popen object is dropped at once with
its ``returncode`` set, so that it never waits for the child: the host's reaper alone
reaps every job (``os.wait4`` gives the rusage Popen would throw away).
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping
from typing import Any

#: Python ignores these; an ignored signal stays ignored across exec, so reset them.
_RESTORED_SIGNALS = (signal.SIGPIPE, signal.SIGXFSZ)
_OUTPUT_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
_OUTPUT_MODE = 0o666

#: (command, PATH) -> (where it was found, until when to trust that); see _spawn_found.
_resolved: dict[tuple[str, str | None], tuple[str, float]] = {}
_RESOLUTION_TTL = 2.0
_RESOLUTION_CACHE_SIZE = 1024

COMMAND_NOT_FOUND = 127
COMMAND_NOT_EXECUTABLE = 126


def spawn(
    argv: list[str],
    env: Mapping[str, str],
    stdout: str,
    stderr: str | None,
    cwd: str | None,
    stdin: str | None,
) -> int:
    """Start a job in its own session; return its pid. Raises OSError if it cannot start."""
    if not argv:
        raise OSError(errno.ENOENT, "empty command")
    if stderr == stdout:
        stderr = None
    if cwd is not None:
        return _spawn_in_directory(argv, env, stdout, stderr, cwd, stdin)
    actions: list[Any] = []
    if stdin is not None:
        actions.append((os.POSIX_SPAWN_OPEN, 0, stdin, os.O_RDONLY, 0))
    actions.append((os.POSIX_SPAWN_OPEN, 1, stdout, _OUTPUT_FLAGS, _OUTPUT_MODE))
    if stderr is None:
        actions.append((os.POSIX_SPAWN_DUP2, 1, 2))
    else:
        actions.append((os.POSIX_SPAWN_OPEN, 2, stderr, _OUTPUT_FLAGS, _OUTPUT_MODE))
    return _spawn_found(argv, env, actions)


def _spawn_found(argv: list[str], env: Mapping[str, str], actions: list[Any]) -> int:
    """``posix_spawn`` of the command, found on the job's PATH as a shell would.

    Like a shell's hash table, where a bare command name was found is remembered (for
    ``_RESOLUTION_TTL`` seconds): ``posix_spawnp`` otherwise tries an ``execve`` in every
    PATH directory before the right one, about 5 % of the cost of a short job.
    """
    command = argv[0]
    if os.sep in command:
        return os.posix_spawn(
            command, argv, env, file_actions=actions, setsid=True, setsigdef=_RESTORED_SIGNALS
        )
    path = env.get("PATH")
    key = (command, path)
    now = time.monotonic()
    cached = _resolved.get(key)
    if cached is not None and cached[1] > now:
        try:
            return os.posix_spawn(
                cached[0], argv, env, file_actions=actions, setsid=True, setsigdef=_RESTORED_SIGNALS
            )
        except OSError:
            del _resolved[key]  # moved, removed, or another cause: search again
    _search_path_of(env)
    pid = os.posix_spawnp(
        command, argv, env, file_actions=actions, setsid=True, setsigdef=_RESTORED_SIGNALS
    )
    location = shutil.which(command, path=os.defpath if path is None else path)
    if location is not None and os.path.isabs(location):  # relative PATH entries move
        if len(_resolved) >= _RESOLUTION_CACHE_SIZE:
            _resolved.clear()
        _resolved[key] = (location, now + _RESOLUTION_TTL)
    return pid


def _search_path_of(env: Mapping[str, str]) -> None:
    """Make ``posix_spawnp`` search the job's PATH: glibc reads the caller's own PATH.

    The host's PATH is set to the job's (``os.environ`` writes through to the C
    environment) only when they differ, which in practice is once per engine connection.
    """
    wanted = env.get("PATH")
    if os.environ.get("PATH") != wanted:
        if wanted is None:
            del os.environ["PATH"]
        else:
            os.environ["PATH"] = wanted


def _spawn_in_directory(
    argv: list[str],
    env: Mapping[str, str],
    stdout: str,
    stderr: str | None,
    cwd: str,
    stdin: str | None,
) -> int:
    fds: list[int] = []
    try:
        stdin_fd = None if stdin is None else _open(fds, stdin, os.O_RDONLY)
        stdout_fd = _open(fds, stdout, _OUTPUT_FLAGS)
        stderr_fd = subprocess.STDOUT if stderr is None else _open(fds, stderr, _OUTPUT_FLAGS)
        process = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=stdin_fd,
            stdout=stdout_fd,
            stderr=stderr_fd,
            start_new_session=True,
            close_fds=False,  # the host opens every descriptor close-on-exec
        )
    finally:
        for fd in fds:
            os.close(fd)
    # Never let Popen reap the job (its __del__ and later Popen calls would poll it).
    process.returncode = 0
    return process.pid


def _open(opened: list[int], path: str, flags: int) -> int:
    fd = os.open(path, flags | os.O_CLOEXEC, _OUTPUT_MODE)
    opened.append(fd)
    return fd


def explain_failure(
    argv: list[str],
    env: Mapping[str, str],
    stdout: str,
    stderr: str | None,
    cwd: str | None,
    stdin: str | None,
    error: OSError,
) -> tuple[int, str]:
    """Why a job could not start, as (shell-style exit value, message naming the culprit).

    Only runs on the failure path, so it can afford to look at every file again.
    """
    if not argv or not argv[0]:
        return COMMAND_NOT_FOUND, "empty command"
    if cwd is not None and not os.path.isdir(cwd):
        return COMMAND_NOT_FOUND, f"working directory {cwd!r} does not exist or is not a directory"
    if stdin is not None and not os.access(stdin, os.R_OK):
        return COMMAND_NOT_FOUND, f"cannot read stdin file {stdin!r}"
    for label, path in (("stdout", stdout), ("stderr", stderr)):
        if path is not None and not _writable(path):
            return COMMAND_NOT_FOUND, f"cannot write {label} file {path!r}"
    command = argv[0]
    if os.sep in command:
        location: str | None = command if cwd is None else os.path.join(cwd, command)
        found = location is not None and os.path.exists(location)
    else:
        location = shutil.which(command, path=env.get("PATH", os.defpath))
        found = location is not None
    if not found:
        return COMMAND_NOT_FOUND, f"{command}: command not found"
    if error.errno in (errno.EACCES, errno.ENOEXEC, errno.EISDIR, errno.EPERM):
        return COMMAND_NOT_EXECUTABLE, f"{command}: cannot execute: {error.strerror}"
    return COMMAND_NOT_FOUND, f"{command}: cannot start: {error.strerror or error}"


def _writable(path: str) -> bool:
    if os.path.exists(path):
        return os.access(path, os.W_OK) and not os.path.isdir(path)
    parent = os.path.dirname(path) or "."
    return os.path.isdir(parent) and os.access(parent, os.W_OK)
