"""Engine side: reach the job host of a state directory, starting it when none runs.

The host is started detached (its own session, output to ``host.log``) so that it
outlives the engine. Two engines racing to start it are harmless: the host that gets the
lock file serves, the other says ``busy`` and leaves, and both engines connect to the
winner. The host tells its starter it is ready through a pipe, so nobody polls for the
socket to appear.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from swf_adapters.process.detached import start_detached
from swf_adapters.schedulers.local.layout import StateLayout, is_gone, live_host, socket_address
from swf_domain.errors import DRMError

_HOST_MODULE = "swf_adapters.schedulers.local.host"
#: The directory holding the ``swf_adapters`` package, so the host imports this very code.
_SOURCE_ROOT = str(Path(__file__).resolve().parents[3])
_LOG_TAIL = 2000


def connect_to_host(
    layout: StateLayout,
    idle_timeout: float,
    kill_grace: float,
    timeout: float,
    may_launch: Callable[[], bool] = lambda: True,
) -> socket.socket:
    """A socket connected to the state directory's host, started if need be and if
    ``may_launch()`` still says so (an engine being stopped starts no host)."""
    layout.ensure()
    deadline = time.monotonic() + timeout
    while True:
        sock = try_connect(layout)
        if sock is not None:
            return sock
        if time.monotonic() > deadline:
            raise DRMError(f"cannot reach the job host of {layout.root}: see {layout.log}")
        if not may_launch():
            raise DRMError(f"no job host runs for {layout.root}, and none may be started now")
        outcome = _launch_host(layout, idle_timeout, kill_grace, deadline)
        if outcome == "busy":
            time.sleep(0.01)  # another host holds the lock: it is starting or leaving
        elif outcome != "ready":
            raise DRMError(
                f"the job host of {layout.root} failed to start: {_log_tail(layout.log)}"
            )


def try_connect(layout: StateLayout) -> socket.socket | None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        with socket_address(layout.socket) as address:
            sock.connect(address)
    except (FileNotFoundError, ConnectionRefusedError, ConnectionResetError):
        sock.close()
        return None
    return sock


def _launch_host(
    layout: StateLayout, idle_timeout: float, kill_grace: float, deadline: float
) -> str:
    """Start a host and wait for its word: ``ready``, ``busy`` or ``""`` (it failed)."""
    command = [
        sys.executable,
        "-m",
        _HOST_MODULE,
        "--state-dir",
        str(layout.root),
        "--idle-timeout",
        repr(idle_timeout),
        "--kill-grace",
        repr(kill_grace),
    ]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [_SOURCE_ROOT, env.get("PYTHONPATH")]))
    word, process = start_detached(command, layout.log, deadline, env=env)
    # The host is our child while we live: reap it whenever it leaves.
    threading.Thread(target=process.wait, name="swf-jobhost-reaper", daemon=True).start()
    return word


def _log_tail(path: Path) -> str:
    try:
        with open(path, "rb") as log:
            log.seek(0, os.SEEK_END)
            log.seek(max(0, log.tell() - _LOG_TAIL))
            return log.read().decode(errors="replace").strip() or "(empty log)"
    except OSError as error:
        return f"(no log: {error})"


def shutdown_host(layout: StateLayout, timeout: float = 10.0) -> bool:
    """Terminate the state directory's host by pid (tests, administration).

    Running jobs are left alone; a later host reports them FAILED (exit undetermined).
    Returns False when no host was running.
    """
    process = live_host(layout)
    if process is None:
        return False
    process.terminate()
    deadline = time.monotonic() + timeout
    while not is_gone(process):
        if time.monotonic() > deadline:
            process.kill()
            break
        time.sleep(0.01)
    return True
