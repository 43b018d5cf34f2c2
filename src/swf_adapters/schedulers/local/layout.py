"""Where a job host keeps its files, and how to tell whether the host is alive.

One job host per state directory (mode 0700): its socket, pid file, lock, journal and log
all live there, so two engines on two resources never share a host.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil

#: The pid file stores the host's creation time too: a pid alone may be reused.
CREATE_TIME_TOLERANCE = 0.01
_MAX_SOCKET_PATH = 100


@dataclass(frozen=True, slots=True)
class StateLayout:
    """The files of one job host, under its state directory."""

    root: Path

    @property
    def socket(self) -> Path:
        return self.root / "host.sock"

    @property
    def pid_file(self) -> Path:
        return self.root / "host.pid"

    @property
    def lock_file(self) -> Path:
        return self.root / "host.lock"

    @property
    def journal(self) -> Path:
        return self.root / "journal"

    @property
    def log(self) -> Path:
        return self.root / "host.log"

    def ensure(self) -> None:
        """Create the state directory, private to its user."""
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)


def write_pid_file(layout: StateLayout) -> None:
    """Record this process as the host (pid and creation time), atomically."""
    me = psutil.Process()
    record = json.dumps({"pid": me.pid, "create_time": me.create_time()})
    write_private(layout.pid_file, record.encode())


def write_private(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically, readable by its owner only."""
    temporary = path.with_suffix(".tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC
    fd = os.open(temporary, flags, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)
    os.replace(temporary, path)


def live_host(layout: StateLayout) -> psutil.Process | None:
    """The host process named by the pid file, if it still runs (not a reused pid)."""
    try:
        record = json.loads(layout.pid_file.read_text())
        process = psutil.Process(int(record["pid"]))
        same = abs(process.create_time() - float(record["create_time"])) < CREATE_TIME_TOLERANCE
        if same and process.status() != psutil.STATUS_ZOMBIE:
            return process
    except (OSError, ValueError, KeyError, TypeError, psutil.Error):
        pass
    return None


def is_gone(process: psutil.Process) -> bool:
    """True once ``process`` has ended (a zombie counts as ended: it runs no more)."""
    try:
        return not process.is_running() or process.status() == psutil.STATUS_ZOMBIE
    except psutil.Error:
        return True


@contextlib.contextmanager
def socket_address(path: Path) -> Iterator[str]:
    """An address for ``path`` that fits a Unix socket's ~100-byte limit.

    A longer path (deep temporary directories) is reached through the directory's
    descriptor, ``/proc/self/fd/N/name``, which Linux resolves for bind and connect.
    """
    text = str(path)
    if len(os.fsencode(text)) < _MAX_SOCKET_PATH:
        yield text
        return
    directory = os.open(path.parent, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        yield f"/proc/self/fd/{directory}/{path.name}"
    finally:
        os.close(directory)


def remove_quietly(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
