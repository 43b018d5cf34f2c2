"""The detached local engine: how it serves, and how clients start, find and stop it.

The process main is ``python -m swf_entry.daemon`` (``ENGINE_MAIN``); everything else about
the engine process — its files, its lock, its start through a ready pipe, its Pyro server,
the client-side start / probe / stop, the link that restarts it — is here, an adapter.

One engine per state directory. The truth about "is an engine running here" is an exclusive
``fcntl.flock`` on ``DIR/engine.lock`` that the engine holds for its whole life: the kernel
drops it when the process dies, however it dies, so a stale pid file can never fool anyone.
``engine.json`` (pid, socket, start time, resource, version) only informs; clients believe an
engine is there when it answers a keyed ping on its socket.

Files in the state directory (0700):

``engine.lock``        flock held by the running engine
``engine.spawn.lock``  flock held by a client while it starts an engine (one starter at a time)
``engine.key``         the client key (0600), kept across restarts so clients reconnect
``engine.sock``        the Pyro5 Unix socket (0600); see ``EngineLayout.socket_path``
``engine.json``        where/since when it runs; written once ready, removed on clean exit
``engine.log``         the engine's stdout/stderr

The factory contract (``--factory module:function``)::

    factory(state_dir: Path, config_file: Path | None, resource_id: str | None) -> service

``service`` has the ``EngineLink`` methods and ``shutdown()`` (or ``close()``); optional
``is_idle() -> bool`` (no work running, for the idle timeout) and ``engine_stats() -> dict``
(what it holds, for ``engine_status``). Stopping the engine never kills jobs.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import psutil

from swf_adapters.process.detached import report, start_detached
from swf_adapters.transport.pyro.client import (
    EngineKeyRefused,
    EngineProtocolMismatch,
    PyroEngineLink,
)
from swf_adapters.transport.pyro.connector import LocalSocketConnector
from swf_adapters.transport.pyro.private_files import (
    ensure_private_dir,
    load_or_create_key,
    read_json,
    write_private_json,
)
from swf_adapters.transport.pyro.protocol import local_peer
from swf_adapters.transport.pyro.server import EngineServer
from swf_domain.errors import ConfigurationError, CorruptStoreError, EngineError

DEFAULT_FACTORY = "swf_entry.composition:build_engine_service"
#: The module run as the engine process (``python -m ENGINE_MAIN``).
ENGINE_MAIN = "swf_entry.daemon"
#: Seconds without client calls nor running work after which an engine exits.
DEFAULT_IDLE_TIMEOUT = 600.0
DEFAULT_START_TIMEOUT = 30.0
#: sun_path is 108 bytes on Linux; longer socket paths go to a private directory in /tmp.
MAX_SOCKET_PATH = 100
PROBE_TIMEOUT = 5.0
MAX_LOG_BYTES = 8 * 1024 * 1024

log = logging.getLogger("swf.engine.daemon")


class EngineFactory(Protocol):
    def __call__(
        self, state_dir: Path, config_file: Path | None, resource_id: str | None
    ) -> Any: ...


@dataclass(frozen=True)
class EngineEndpoint:
    """How to reach a running engine."""

    socket_path: Path
    key_file: Path
    pid: int


@dataclass(frozen=True)
class EngineLayout:
    """Where the engine of one state directory keeps its files."""

    state_dir: Path

    @classmethod
    def of(cls, state_dir: Path | str) -> EngineLayout:
        # Canonical, so every spelling of a directory finds the same socket.
        return cls(Path(state_dir).expanduser().resolve())

    @property
    def lock_file(self) -> Path:
        return self.state_dir / "engine.lock"

    @property
    def spawn_lock_file(self) -> Path:
        return self.state_dir / "engine.spawn.lock"

    @property
    def key_file(self) -> Path:
        return self.state_dir / "engine.key"

    @property
    def info_file(self) -> Path:
        return self.state_dir / "engine.json"

    @property
    def log_file(self) -> Path:
        return self.state_dir / "engine.log"

    @property
    def socket_path(self) -> Path:
        """``DIR/engine.sock``, or for a too long DIR a per-user private directory in /tmp."""
        preferred = self.state_dir / "engine.sock"
        if len(os.fsencode(preferred)) <= MAX_SOCKET_PATH:
            return preferred
        digest = hashlib.sha256(os.fsencode(self.state_dir)).hexdigest()[:24]
        return Path(tempfile.gettempdir()) / f"swf-{os.getuid()}" / f"{digest}.sock"


def _ensure_socket_dir(socket_path: Path) -> None:
    """The socket's directory must be ours and private (it may be a shared /tmp subdir)."""
    directory = socket_path.parent
    with contextlib.suppress(FileExistsError):
        directory.mkdir(mode=0o700)
    info = directory.lstat()
    if directory.is_symlink() or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise EngineError(
            f"socket directory {directory} is not a private directory of yours; remove it"
        )


def load_factory(spec: str) -> EngineFactory:
    """The callable named by ``module:function``; ConfigurationError naming ``spec`` if not."""
    module_name, _, function_name = spec.partition(":")
    if not module_name or not function_name:
        raise ConfigurationError(f"engine factory {spec!r} is not of the form module:function")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ConfigurationError(f"engine factory {spec!r}: cannot import: {error}") from None
    factory = getattr(module, function_name, None)
    if not callable(factory):
        raise ConfigurationError(f"engine factory {spec!r}: no callable {function_name!r}")
    result: EngineFactory = factory
    return result


# ---------------------------------------------------------------------------------------
# engine side
# ---------------------------------------------------------------------------------------


def take_engine_lock(layout: EngineLayout) -> int | None:
    """The locked descriptor of ``engine.lock`` (kept for the process's life), or None."""
    descriptor = os.open(layout.lock_file, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        return None
    os.ftruncate(descriptor, 0)
    os.write(descriptor, f"{os.getpid()}\n".encode())  # informs only; the flock is the truth
    return descriptor


def lock_holder(layout: EngineLayout) -> int:
    """The pid written by the engine holding the lock (0 if unknown)."""
    try:
        return int(layout.lock_file.read_text().strip() or 0)
    except (OSError, ValueError):
        return 0


def _shutdown_service(service: Any) -> None:
    stop = getattr(service, "shutdown", None) or getattr(service, "close", None)
    if callable(stop):
        try:
            stop()
        except Exception:
            log.exception("engine service shutdown failed")


@dataclass(frozen=True)
class EngineOptions:
    factory: str = DEFAULT_FACTORY
    config_file: Path | None = None
    resource_id: str | None = None
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT


def run_engine(layout: EngineLayout, options: EngineOptions, ready_fd: int | None = None) -> int:
    """Serve an engine for ``layout`` until stopped or idle; 0 also when one already runs."""
    os.umask(0o077)
    ensure_private_dir(layout.state_dir)
    lock = take_engine_lock(layout)  # held (open) until this process exits
    if lock is None:
        holder = lock_holder(layout)
        log.info(
            "an engine already runs for %s (pid %d, socket %s); not starting another",
            layout.state_dir,
            holder,
            layout.socket_path,
        )
        report(ready_fd, f"running {holder}")
        return 0
    log.info("engine starting for %s (pid %d)", layout.state_dir, os.getpid())
    layout.info_file.unlink(missing_ok=True)  # left by an engine that died
    try:
        key = load_or_create_key(layout.key_file)
        _ensure_socket_dir(layout.socket_path)
        service = load_factory(options.factory)(
            layout.state_dir, options.config_file, options.resource_id
        )
    except Exception as error:
        log.exception("engine could not start")
        report(ready_fd, f"error {type(error).__name__}: {error}")
        return 1
    info = _engine_info(layout, options)
    try:
        server = EngineServer(service, layout.socket_path, key, options.idle_timeout, info)
    except Exception as error:
        log.exception("engine could not listen on %s", layout.socket_path)
        _shutdown_service(service)
        report(ready_fd, f"error {type(error).__name__}: {error}")
        return 1
    return _serve(layout, server, service, info, ready_fd)


def _engine_info(layout: EngineLayout, options: EngineOptions) -> dict[str, Any]:
    return {
        "pid": os.getpid(),
        "pid_create_time": psutil.Process().create_time(),
        "socket": str(layout.socket_path),
        "key_file": str(layout.key_file),
        "state_dir": str(layout.state_dir),
        "log_file": str(layout.log_file),
        "started_at": time.time(),
        "resource": options.resource_id,
        "config_file": str(options.config_file) if options.config_file else None,
        "factory": options.factory,
        "idle_timeout": options.idle_timeout,
        "version": local_peer().version,
        "protocol": local_peer().protocol,
    }


def _serve(
    layout: EngineLayout,
    server: EngineServer,
    service: Any,
    info: dict[str, Any],
    ready_fd: int | None,
) -> int:
    def on_signal(signum: int, frame: object) -> None:
        server.request_stop()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, on_signal)
    reason = "error"
    try:
        write_private_json(layout.info_file, info)
        report(ready_fd, f"ready {os.getpid()}")
        log.info("engine ready on %s", layout.socket_path)
        reason = server.serve()
    finally:
        log.info("engine stopping (%s)", reason)
        server.close()
        layout.info_file.unlink(missing_ok=True)
        _shutdown_service(service)
        log.info("engine stopped")
    return 0


# ---------------------------------------------------------------------------------------
# client side: find, start, inspect, stop
# ---------------------------------------------------------------------------------------


def _probe_link(layout: EngineLayout, timeout: float = PROBE_TIMEOUT) -> PyroEngineLink:
    return PyroEngineLink(
        layout.socket_path, layout.key_file, connect_timeout=timeout, call_timeout=timeout
    )


def live_endpoint(state_dir: Path | str) -> EngineEndpoint | None:
    """The endpoint of the engine of ``state_dir`` if one answers a keyed ping, else None."""
    layout = EngineLayout.of(state_dir)
    if not layout.key_file.exists():
        return None
    link = _probe_link(layout)
    try:
        pid = link.ping()
    except (EngineKeyRefused, EngineProtocolMismatch):
        raise  # an engine is there but will never serve this client: waiting would not help
    except EngineError:
        return None
    finally:
        link.close()
    return EngineEndpoint(layout.socket_path, layout.key_file, pid)


@contextlib.contextmanager
def _spawn_lock(layout: EngineLayout, timeout: float) -> Iterator[None]:
    descriptor = os.open(layout.spawn_lock_file, os.O_RDWR | os.O_CREAT, 0o600)
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise EngineError(
                        f"another client has been starting the engine of {layout.state_dir} "
                        f"for over {timeout:.0f}s; see {layout.log_file}"
                    ) from None
                time.sleep(0.02)
        yield
    finally:
        os.close(descriptor)


def log_tail(layout: EngineLayout, max_bytes: int = 3000) -> str:
    try:
        with layout.log_file.open("rb") as stream:
            stream.seek(max(0, layout.log_file.stat().st_size - max_bytes))
            return stream.read().decode("utf-8", "replace")
    except OSError:
        return "(no engine log)"


def _start_failed(layout: EngineLayout, why: str) -> EngineError:
    return EngineError(
        f"the engine for {layout.state_dir} did not start: {why}\n"
        f"--- last lines of {layout.log_file} ---\n{log_tail(layout)}"
    )


def _unusable_state(detail: str) -> CorruptStoreError | None:
    """The engine's own report "CorruptStoreError: <file>: ..." as that typed error: its
    message names the file and what to do; the engine's log would add only a traceback."""
    name, _, message = detail.partition(": ")
    return CorruptStoreError(message) if name == CorruptStoreError.__name__ else None


def _daemon_command(layout: EngineLayout, options: EngineOptions) -> list[str]:
    command = [
        sys.executable,
        "-m",
        ENGINE_MAIN,
        "--state-dir",
        str(layout.state_dir),
        "--factory",
        options.factory,
        "--idle-timeout",
        repr(float(options.idle_timeout)),
        "--detach",
    ]
    if options.config_file is not None:
        command += ["--config", str(options.config_file)]
    if options.resource_id is not None:
        command += ["--resource", options.resource_id]
    return command


def _rotate_log(layout: EngineLayout) -> None:
    """Keep one previous log (``engine.log.1``) once the log passes MAX_LOG_BYTES."""
    with contextlib.suppress(OSError):
        if layout.log_file.stat().st_size > MAX_LOG_BYTES:
            layout.log_file.replace(layout.log_file.with_name(layout.log_file.name + ".1"))


def _launch(layout: EngineLayout, options: EngineOptions, deadline: float) -> str:
    """Start a detached engine process; its one-line start report."""
    _rotate_log(layout)
    word, launcher = start_detached(
        _daemon_command(layout, options), layout.log_file, deadline, cwd=layout.state_dir
    )
    try:
        launcher.wait(timeout=max(1.0, deadline - time.monotonic()))  # exits once forked
    except subprocess.TimeoutExpired:
        raise _start_failed(layout, f"its launcher (pid {launcher.pid}) hangs") from None
    return word


def _spawn(layout: EngineLayout, options: EngineOptions, timeout: float) -> EngineEndpoint:
    """Start an engine and return it once it answers (or the one that beat it to the lock)."""
    deadline = time.monotonic() + timeout
    while True:
        word, _, detail = _launch(layout, options, deadline).partition(" ")
        if word == "error":
            raise _unusable_state(detail) or _start_failed(layout, detail)
        if word not in ("ready", "running"):
            why = "it did not report ready in time" if word == "timeout" else "it exited early"
            raise _start_failed(layout, why)
        holder = int(detail) if detail.isdigit() else 0
        endpoint = _wait_answer(layout, holder, deadline)
        if endpoint is not None:
            return endpoint
        # The lock holder was an engine on its way out: start a new one.


def _wait_answer(layout: EngineLayout, pid: int, deadline: float) -> EngineEndpoint | None:
    """The engine's endpoint once it answers; None if process ``pid`` ended meanwhile."""
    while True:
        endpoint = live_endpoint(layout.state_dir)
        if endpoint is not None:
            return endpoint
        if pid and not _same_process(pid, None):
            return None
        if not layout.key_file.exists():
            raise _start_failed(layout, f"engine pid {pid} runs but {layout.key_file} is gone")
        if time.monotonic() > deadline:
            raise _start_failed(layout, f"engine pid {pid} holds the lock but does not answer")
        time.sleep(0.05)


def ensure_engine(
    state_dir: Path | str,
    factory_spec: str = DEFAULT_FACTORY,
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
    *,
    config_file: Path | None = None,
    resource_id: str | None = None,
    start_timeout: float = DEFAULT_START_TIMEOUT,
) -> EngineEndpoint:
    """The running engine of ``state_dir``, started (detached) first if none answers.

    Safe to call from many threads and processes at once: they end up with one engine.
    """
    layout = EngineLayout.of(state_dir)
    ensure_private_dir(layout.state_dir)
    with contextlib.suppress(EngineProtocolMismatch):  # handled under the spawn lock
        endpoint = live_endpoint(layout.state_dir)
        if endpoint is not None:
            return endpoint
    options = EngineOptions(factory_spec, config_file, resource_id, idle_timeout)
    with _spawn_lock(layout, start_timeout):
        endpoint = _live_or_replaced(layout)
        if endpoint is not None:
            return endpoint
        return _spawn(layout, options, start_timeout)


def _live_or_replaced(layout: EngineLayout) -> EngineEndpoint | None:
    """The live engine; None if none runs or an idle engine of an older link protocol was
    stopped to be replaced (safe: stopping never kills jobs and a new engine resumes
    its workflows). A busy or newer one is left alone: EngineProtocolMismatch."""
    try:
        return live_endpoint(layout.state_dir)
    except EngineProtocolMismatch as mismatch:
        if not mismatch.replaceable:
            raise
        log.warning("replacing the idle engine of %s: %s", layout.state_dir, mismatch)
        stop_engine(layout.state_dir)
        return None


def local_engine_link(
    state_dir: Path | str,
    factory_spec: str = DEFAULT_FACTORY,
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
    *,
    config_file: Path | None = None,
    resource_id: str | None = None,
) -> PyroEngineLink:
    """A link to the engine of ``state_dir`` that (re)starts the engine whenever it is gone."""

    def restart() -> None:
        ensure_engine(
            state_dir,
            factory_spec,
            idle_timeout,
            config_file=config_file,
            resource_id=resource_id,
        )

    endpoint = ensure_engine(
        state_dir, factory_spec, idle_timeout, config_file=config_file, resource_id=resource_id
    )
    connector = LocalSocketConnector(endpoint.socket_path, endpoint.key_file, restart)
    return PyroEngineLink(connector=connector)


def engine_status(state_dir: Path | str) -> dict[str, Any] | None:
    """Where the engine runs, since when and what it holds; None if no engine answers."""
    layout = EngineLayout.of(state_dir)
    if not layout.key_file.exists():
        return None
    link = _probe_link(layout)
    try:
        stats: dict[str, Any] = link.stats()
    except EngineProtocolMismatch as mismatch:
        return _mismatched_status(layout, mismatch)
    except EngineError:
        return None
    finally:
        link.close()
    return _with_uptime(stats)


def _mismatched_status(layout: EngineLayout, mismatch: EngineProtocolMismatch) -> dict[str, Any]:
    """What ``engine.json`` says of an engine this client cannot call, and why."""
    info = read_json(layout.info_file) or {}
    if mismatch.engine.version != "unknown":
        info["version"] = mismatch.engine.version
    info["protocol"] = mismatch.engine.protocol
    info["incompatible"] = str(mismatch)
    return _with_uptime(info)


def _with_uptime(stats: dict[str, Any]) -> dict[str, Any]:
    started_at = stats.get("started_at")
    if isinstance(started_at, int | float):
        stats["uptime"] = round(time.time() - started_at, 3)
    return stats


def _same_process(pid: int, create_time: float | None) -> bool:
    """Is ``pid`` still the engine process (not exited, not a zombie, not a reused pid)?"""
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        return create_time is None or abs(process.create_time() - create_time) < 1.0
    except psutil.Error:
        return False


def _wait_gone(pid: int, create_time: float | None, deadline: float) -> bool:
    while _same_process(pid, create_time):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def stop_engine(state_dir: Path | str, timeout: float = 10.0) -> bool:
    """Stop the engine of ``state_dir``: True if one was stopped, False if none ran.

    First a clean shutdown asked through Pyro, then SIGTERM to its pid (checked against the
    process start time, so a reused pid is never signalled). Its jobs go on. An engine still
    starting (no ``engine.json`` yet) is not seen: it stops by itself once idle.
    """
    layout = EngineLayout.of(state_dir)
    info = read_json(layout.info_file)
    if info is None or not isinstance(info.get("pid"), int):
        return False
    pid: int = info["pid"]
    create_time = info.get("pid_create_time")
    create_time = float(create_time) if isinstance(create_time, int | float) else None
    if not _same_process(pid, create_time):
        return False
    deadline = time.monotonic() + timeout
    link = _probe_link(layout, timeout=min(PROBE_TIMEOUT, timeout))
    try:
        link.shutdown_engine()
        asked = True
    except EngineError as error:
        log.info(
            "engine pid %d did not take the shutdown request (%s); sending SIGTERM", pid, error
        )
        asked = False
    finally:
        link.close()
    if asked and _wait_gone(pid, create_time, time.monotonic() + timeout / 2):
        return True
    if _same_process(pid, create_time):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    if _wait_gone(pid, create_time, deadline):
        return True
    raise EngineError(f"engine pid {pid} did not stop within {timeout:g}s; see {layout.log_file}")
