"""Starting one job process, as cheaply as Python allows.

The fast path is ``os.posix_spawn`` (vfork + exec in glibc, errors such as a missing
command reported back to the caller) with file actions for the job's stdin, stdout and
stderr and ``setsid`` so that each job leads its own session and process group: a kill
reaches the whole group at once. Bare command names are looked up on the job's PATH
like a shell does, remembering where they were found (see ``_spawn_found``).

``posix_spawn`` in Python 3.11 cannot change directory, and every job has a working
directory (its own, or where its workflow was submitted). ``subprocess.Popen(cwd=...)``
costs the host twice the CPU of ``posix_spawn`` per ``true`` job (measured: 0.41 against
0.19 ms of host CPU per job, and half the throughput on 2 cores). So the host changes
its own directory to the job's, spawns (the child inherits it), and goes back to the
directory it started in (held open: where jobs without a working directory run): the
host is one thread (see ``host``), and every path it uses itself is absolute.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import time
from collections.abc import Mapping
from typing import Any

#: Python ignores these; an ignored signal stays ignored across exec, so reset them.
_RESTORED_SIGNALS = (signal.SIGPIPE, signal.SIGXFSZ)
_OUTPUT_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
_OUTPUT_MODE = 0o666
#: ``LaunchRequest.private_outputs``: a symlink planted there by a job is not followed.
_PRIVATE_OUTPUT_FLAGS = _OUTPUT_FLAGS | os.O_NOFOLLOW

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
    private: bool = False,
) -> int:
    """Start a job in its own session; return its pid. Raises OSError if it cannot start
    (ELOOP for a symlink at a ``private`` output: ``LaunchRequest.private_outputs``)."""
    if not argv:
        raise OSError(errno.ENOENT, "empty command")
    if stderr == stdout:
        stderr = None
    flags = _PRIVATE_OUTPUT_FLAGS if private else _OUTPUT_FLAGS
    actions: list[Any] = []
    if stdin is not None:
        actions.append((os.POSIX_SPAWN_OPEN, 0, stdin, os.O_RDONLY, 0))
    actions.append((os.POSIX_SPAWN_OPEN, 1, stdout, flags, _OUTPUT_MODE))
    if stderr is None:
        actions.append((os.POSIX_SPAWN_DUP2, 1, 2))
    else:
        actions.append((os.POSIX_SPAWN_OPEN, 2, stderr, flags, _OUTPUT_MODE))
    if cwd is None:
        return _spawn_found(argv, env, actions)
    home = _start_directory()
    os.chdir(cwd)  # the child starts here (see the module docstring)
    try:
        return _spawn_found(argv, env, actions)
    finally:
        os.fchdir(home)


_home: list[int] = []


def _start_directory() -> int:
    """A descriptor of the host's starting directory, opened at the first use (before
    any change of directory), so going back needs no path that could have moved."""
    if not _home:
        flags = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
        try:
            _home.append(os.open(".", flags))
        except OSError:  # not readable (search-only): jobs without a directory run in /
            _home.append(os.open("/", flags))
    return _home[0]


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
        if error.errno == errno.ELOOP and path is not None and os.path.islink(path):
            return COMMAND_NOT_FOUND, (
                f"{label} file {path!r} is a symbolic link, in swf's own job files: not followed"
            )
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
