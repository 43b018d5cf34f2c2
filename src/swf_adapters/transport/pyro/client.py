"""The client side of the Pyro5 transport: ``PyroEngineLink`` implements ``EngineLink``.

Thread safety: Pyro proxies belong to one thread at a time, so the link keeps a small pool
of connected proxies; a call checks one out (claiming it for the calling thread), uses it and
puts it back. Concurrent calls therefore use separate connections, and the number of
connections is bounded by the number of calls in flight, not by the number of threads ever
seen. A forked child opens its own connections instead of sharing its parent's.

Engine restarts: every proxy of a dead engine is stale. When a call fails because the engine
went away, the link drops its proxies, calls ``on_disconnect`` (the composition root may start
a new engine there), reconnects and:

* for a **query** (reads, waits): sends it once more; a second failure is an EngineError;
* for a **command** (submit, stop, restart, delete, ...): sends it again only if it surely
  never reached the engine (connection refused, engine shutting down). If the connection
  broke after the command was sent, the engine may or may not have applied it, so the link
  reconnects and raises an EngineError saying so, leaving the decision to the caller. To
  make that case rare, a command on a reused connection is preceded by a ``ping``.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import Pyro5.client
import Pyro5.errors

from swf_adapters.transport.pyro import wire_data, wire_errors
from swf_adapters.transport.pyro.private_files import check_socket_is_ours, read_key
from swf_adapters.transport.pyro.protocol import (
    KEY_REFUSED,
    QUERY_METHODS,
    SERIALIZER,
    SHUTTING_DOWN,
    WAIT_METHODS,
    engine_uri,
)
from swf_app.link import JobInfo
from swf_domain.errors import EngineError, SomaWorkflowError

wire_errors.register_error_codec()

#: Connections kept open for reuse; more concurrent calls open (and then close) extra ones.
MAX_IDLE_PROXIES = 8
#: Engine restarts one wait_workflow / wait_job call carries over before giving up.
MAX_WAIT_RESTARTS = 20

_TRANSPORT_ERRORS = (Pyro5.errors.CommunicationError, OSError)


class EngineKeyRefused(EngineError):
    """The engine answered but refused this client's key (another engine, or a new key)."""


class _NotDelivered(Exception):
    """The call surely did not reach the engine (no connection, or refused before running)."""


class _Lost(Exception):
    """The connection broke after the call was sent: it may have been applied."""


def _release(proxy: Any) -> None:
    with contextlib.suppress(Exception):
        proxy._pyroClaimOwnership()
        proxy._pyroRelease()


class PyroEngineLink:
    """An ``EngineLink`` reaching an engine daemon on a Unix socket, with its key file.

    ``on_disconnect`` is called (in the calling thread) when the engine is found gone, before
    reconnecting: the composition root restarts the engine there. ``call_timeout`` bounds
    each call (None: unbounded, as waits need); probes use a short one.
    """

    def __init__(
        self,
        socket_path: Path | str,
        key_file: Path | str,
        on_disconnect: Callable[[], None] | None = None,
        connect_timeout: float = 10.0,
        call_timeout: float | None = None,
    ) -> None:
        self.socket_path = Path(socket_path)
        self.key_file = Path(key_file)
        self._uri = engine_uri(self.socket_path)
        self._on_disconnect = on_disconnect
        self._connect_timeout = connect_timeout
        self._call_timeout = call_timeout
        self._lock = threading.Lock()
        self._idle: list[Any] = []
        self._closed = False
        self._pid = os.getpid()
        #: Connections opened so far (a diagnostic: it grows on reconnections).
        self.connections_opened = 0

    # -- connections ------------------------------------------------------------------
    def _connect(self) -> Any:
        check_socket_is_ours(self.socket_path)
        try:
            key = read_key(self.key_file)
        except EngineError as error:  # no key yet: on_disconnect may (re)start the engine
            raise _NotDelivered(str(error)) from None
        proxy = Pyro5.client.Proxy(self._uri)
        proxy._pyroSerializer = SERIALIZER
        proxy._pyroHandshake = key
        proxy._pyroTimeout = self._connect_timeout
        try:
            proxy._pyroBind()
        except _TRANSPORT_ERRORS as error:
            _release(proxy)
            if KEY_REFUSED in str(error):
                raise EngineKeyRefused(
                    f"the engine at {self.socket_path} refused the key in {self.key_file}"
                ) from None
            raise _NotDelivered(
                f"cannot connect to the engine at {self.socket_path}: {error}"
            ) from None
        proxy._pyroTimeout = self._call_timeout  # None: waits block as long as the work takes
        with self._lock:
            self.connections_opened += 1
        return proxy

    def _checkout(self) -> tuple[Any, bool]:
        """A connected proxy owned by this thread, and whether it was reused."""
        with self._lock:
            if self._closed:
                raise EngineError(f"the link to the engine at {self.socket_path} is closed")
            self._abandon_if_forked()
            proxy = self._idle.pop() if self._idle else None
        if proxy is None:
            return self._connect(), False
        proxy._pyroClaimOwnership()
        return proxy, True

    def _abandon_if_forked(self) -> None:
        """In a forked child the pooled connections are the parent's: leave them be.

        Using them would mix both processes' replies; releasing them would shut the sockets
        down for the parent too. So they are marked keep-open (only this process's
        descriptors close when they are collected) and forgotten. Call with the lock held.
        """
        if self._pid == os.getpid():
            return
        for proxy in self._idle:
            connection = proxy._pyroConnection
            if connection is not None:
                connection.keep_open = True
        self._idle = []
        self._pid = os.getpid()

    def _checkin(self, proxy: Any) -> None:
        with self._lock:
            if not self._closed and len(self._idle) < MAX_IDLE_PROXIES:
                self._idle.append(proxy)
                return
        _release(proxy)

    def _drop_all(self) -> None:
        """Forget every pooled connection (after a failure they all lead to a dead engine)."""
        with self._lock:
            self._abandon_if_forked()
            stale, self._idle = self._idle, []
        for proxy in stale:
            _release(proxy)

    # -- calls ------------------------------------------------------------------------
    def _attempt(self, method: str, args: tuple[Any, ...], check_fresh: bool) -> Any:
        proxy, reused = self._checkout()
        if check_fresh and reused:
            try:
                proxy.ping()
            except _TRANSPORT_ERRORS:
                _release(proxy)
                self._drop_all()
                proxy = self._connect()
        try:
            result = getattr(proxy, method)(*args)
        except SomaWorkflowError:
            self._checkin(proxy)
            raise
        except Pyro5.errors.SerializeError as error:
            _release(proxy)
            raise EngineError(
                f"engine call {method} could not be (de)serialized: {error}"
            ) from None
        except _TRANSPORT_ERRORS as error:
            _release(proxy)
            self._drop_all()
            if str(error) == SHUTTING_DOWN:
                raise _NotDelivered(SHUTTING_DOWN) from None
            raise _Lost(str(error) or type(error).__name__) from None
        except Pyro5.errors.PyroError as error:
            _release(proxy)
            raise EngineError(f"the engine refused {method}: {error}") from None
        except BaseException:
            _release(proxy)  # interrupted mid-call: the connection is out of step
            raise
        self._checkin(proxy)
        return result

    def _disconnected(self) -> None:
        if self._on_disconnect is not None:
            self._on_disconnect()

    def _call(
        self,
        method: str,
        *args: Any,
        retry_args: Callable[[], tuple[Any, ...]] | None = None,
    ) -> Any:
        is_query = method in QUERY_METHODS
        try:
            return self._attempt(method, args, check_fresh=not is_query)
        except _NotDelivered:
            pass
        except _Lost as lost:
            if not is_query:
                self._disconnected()
                with contextlib.suppress(_NotDelivered, EngineError):
                    self._checkin(self._connect())
                raise EngineError(
                    f"the connection to the engine at {self.socket_path} broke during "
                    f"{method}; the engine may or may not have applied it, check before "
                    f"repeating it ({lost})"
                ) from None
        # A wait outlives as many engine restarts as happen while it waits (each lost
        # connection was delivered to a live engine first), within a bound so that an
        # engine dying at every call cannot keep a client here forever.
        losses_left = MAX_WAIT_RESTARTS if method in WAIT_METHODS else 1
        while True:
            self._disconnected()
            again = retry_args() if retry_args is not None else args
            try:
                return self._attempt(method, again, check_fresh=False)
            except _Lost as failure:
                losses_left -= 1
                if losses_left <= 0:
                    raise EngineError(f"cannot reach the engine: {failure}") from None
            except _NotDelivered as failure:
                raise EngineError(f"cannot reach the engine: {failure}") from None

    def _wait(self, method: str, target: Any, timeout: float) -> bool:
        deadline = None if timeout < 0 else time.monotonic() + timeout

        def remaining() -> tuple[Any, ...]:
            left = -1.0 if deadline is None else max(0.0, deadline - time.monotonic())
            return (target, left)

        return bool(self._call(method, target, timeout, retry_args=remaining))

    # -- submission -------------------------------------------------------------------
    def submit_workflow(
        self,
        document: dict[str, Any],
        name: str | None,
        queue: str | None,
        expiration_date: float | None,
    ) -> int:
        packed = wire_data.pack(document, "workflow document")
        return int(self._call("submit_workflow", packed, name, queue, expiration_date))

    # -- queries ----------------------------------------------------------------------
    def _unpacked(self, method: str, *args: Any) -> Any:
        result = self._call(method, *args)
        return wire_data.unpack(result, f"{method} result") if isinstance(result, str) else result

    def workflow_document(self, workflow_id: int) -> dict[str, Any]:
        result: dict[str, Any] = self._unpacked("workflow_document", workflow_id)
        return result

    def workflows(
        self, workflow_ids: Sequence[int] | None = None
    ) -> dict[int, tuple[str | None, float | None]]:
        ids = list(workflow_ids) if workflow_ids is not None else None
        result: dict[int, tuple[str | None, float | None]] = self._unpacked("workflows", ids)
        return result

    def workflow_status(self, workflow_id: int) -> str | None:
        result: str | None = self._call("workflow_status", workflow_id)
        return result

    def workflow_elements_status(self, workflow_id: int, with_drms_id: bool = True) -> Any:
        return self._unpacked("workflow_elements_status", workflow_id, with_drms_id)

    def job_status(self, job_id: int) -> str:
        return str(self._call("job_status", job_id))

    def job_termination_status(
        self, job_id: int
    ) -> tuple[str, int | None, int | None, str | None] | None:
        result = self._call("job_termination_status", job_id)
        return None if result is None else tuple(result)

    def job_files(self, job_id: int) -> tuple[str | None, str | None]:
        stdout, stderr = self._call("job_files", job_id)
        return stdout, stderr

    def get_job_output_params(self, job_id: int) -> dict[str, Any] | None:
        result: dict[str, Any] | None = self._call("get_job_output_params", job_id)
        return result

    def status_summary(self, workflow_id: int) -> dict[str, int]:
        result: dict[str, int] = self._call("status_summary", workflow_id)
        return result

    def jobs_info(self, job_ids: Sequence[int]) -> dict[int, JobInfo]:
        result = self._call("jobs_info", list(job_ids))
        return {int(job_id): tuple(info) for job_id, info in result.items()}

    # -- control ----------------------------------------------------------------------
    def stop_workflow(self, workflow_id: int) -> bool:
        return bool(self._call("stop_workflow", workflow_id))

    def restart_workflow(self, workflow_id: int, queue: str | None = None) -> bool:
        return bool(self._call("restart_workflow", workflow_id, queue))

    def delete_workflow(self, workflow_id: int, force: bool = True) -> bool:
        return bool(self._call("delete_workflow", workflow_id, force))

    def stop_jobs(self, workflow_id: int, job_ids: Sequence[int]) -> bool:
        return bool(self._call("stop_jobs", workflow_id, list(job_ids)))

    def restart_jobs(self, workflow_id: int, job_ids: Sequence[int]) -> bool:
        return bool(self._call("restart_jobs", workflow_id, list(job_ids)))

    def change_workflow_expiration_date(
        self, workflow_id: int, expiration_date: float | None
    ) -> bool:
        return bool(self._call("change_workflow_expiration_date", workflow_id, expiration_date))

    def wait_workflow(self, workflow_id: int, timeout: float = -1) -> bool:
        return self._wait("wait_workflow", workflow_id, timeout)

    def wait_job(self, job_ids: Sequence[int], timeout: float = -1) -> bool:
        return self._wait("wait_job", list(job_ids), timeout)

    # -- engine management ------------------------------------------------------------
    def ping(self) -> int:
        """The engine's pid, if it answers."""
        return int(self._call("ping"))

    def stats(self) -> dict[str, Any]:
        """Where the engine runs, since when, and what it holds."""
        result: dict[str, Any] = self._call("stats")
        return result

    def shutdown_engine(self) -> bool:
        """Ask the engine to stop cleanly; its jobs keep running."""
        return bool(self._call("shutdown_engine"))

    # -- lifetime ---------------------------------------------------------------------
    def close(self) -> None:
        """Close this client's connections; the engine and its workflows go on."""
        with self._lock:
            self._closed = True
        self._drop_all()

    def __enter__(self) -> PyroEngineLink:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
