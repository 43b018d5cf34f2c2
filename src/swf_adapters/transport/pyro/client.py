"""The client side of the Pyro5 transport: ``PyroEngineLink`` serves the link table.

Every operation of ``swf_app.link.OPERATIONS`` (and the engine's management operations:
``ping``, ``stats``, ``shutdown_engine``) is a method of the link, made from the table: its
arguments are bound to the declared signature, packed, sent through the one exposed
``call`` method, and the result unpacked into its read model. Where the engine is and how
to bring it back is the ``Connector``'s business (a local socket today, SSH later).

Thread safety: Pyro proxies belong to one thread at a time, so the link keeps a small pool
of connected proxies; a call checks one out (claiming it for the calling thread), uses it and
puts it back. Concurrent calls therefore use separate connections, and the number of
connections is bounded by the number of calls in flight, not by the number of threads ever
seen. A forked child opens its own connections instead of sharing its parent's.

Engine restarts: every proxy of a dead engine is stale. When a call fails because the engine
went away, the link drops its proxies, calls the connector's ``restart`` (the local daemon's
starts a new engine there), reconnects and:

* for a **query**: sends it once more; a second failure is an EngineError;
* for a **wait**: sends it again with the time left, across as many engine restarts as
  happen while it waits (within MAX_WAIT_RESTARTS);
* for a **command** (submit, stop, restart, delete, ...): sends it again only if it surely
  never reached the engine (connection refused, engine shutting down). If the connection
  broke after the command was sent, the engine may or may not have applied it, so the link
  reconnects and raises an EngineError saying so, leaving the decision to the caller. To
  make that case rare, a command on a reused connection is preceded by a ``ping``.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import Pyro5.client
import Pyro5.errors

from swf_adapters.transport.pyro import wire_errors, wire_models
from swf_adapters.transport.pyro.connector import Connector, LocalSocketConnector
from swf_adapters.transport.pyro.protocol import (
    CALL,
    KEY_REFUSED,
    SERIALIZER,
    SERVED,
    SHUTTING_DOWN,
    Peer,
    compatible,
    local_peer,
    peer_of,
)
from swf_app.link import Kind, Operation
from swf_domain.errors import EngineError, SomaWorkflowError

wire_errors.register_error_codec()

#: Connections kept open for reuse; more concurrent calls open (and then close) extra ones.
MAX_IDLE_PROXIES = 8
#: Engine restarts one wait_workflow / wait_job call carries over before giving up.
MAX_WAIT_RESTARTS = 20

_TRANSPORT_ERRORS = (Pyro5.errors.CommunicationError, OSError)


class EngineKeyRefused(EngineError):
    """The engine answered but refused this client's key (another engine, or a new key)."""


class EngineProtocolMismatch(EngineError):
    """The engine speaks another link protocol (another swf, or an older build of this one)
    than this client: nothing was sent to it."""

    def __init__(self, where: str, engine: Peer, client: Peer, idle: bool) -> None:
        super().__init__(
            f"{where} runs {engine.describe()}, but this client is {client.describe()}: they"
            f" cannot talk. Run `swf engine stop` (its jobs keep running), then retry: the"
            f" engine of this swf starts and its workflows resume."
        )
        self.engine = engine
        self.client = client
        #: The engine runs no workflow (replacing it interrupts nobody's work).
        self.idle = idle

    @property
    def replaceable(self) -> bool:
        """An idle engine older than this client may be stopped and replaced by it."""
        return self.idle and self.engine.protocol < self.client.protocol


class _HelloProxy(Pyro5.client.Proxy):  # type: ignore[misc]
    """A proxy that keeps the engine's handshake answer (its version and link protocol)."""

    def _pyroValidateHandshake(self, response: Any) -> None:
        object.__setattr__(self, "swf_hello", response)  # Proxy's own setattr goes remote


def check_hello(where: str, hello: Any) -> None:
    """Refuse (EngineProtocolMismatch) an engine this client cannot talk to."""
    engine, client = peer_of(hello), local_peer()
    if not compatible(engine, client):
        idle = isinstance(hello, dict) and hello.get("idle") is True
        raise EngineProtocolMismatch(where, engine, client, idle)


class _NotDelivered(Exception):
    """The call surely did not reach the engine (no connection, or refused before running)."""


class _Lost(Exception):
    """The connection broke after the call was sent: it may have been applied."""


def _release(proxy: Any) -> None:
    with contextlib.suppress(Exception):
        proxy._pyroClaimOwnership()
        proxy._pyroRelease()


class PyroEngineLink:
    """An ``EngineLink`` reaching an engine through a ``Connector``.

    ``PyroEngineLink(socket_path, key_file, on_disconnect)`` is the local daemon's link
    (a ``LocalSocketConnector``); pass ``connector=`` for any other place. The connector's
    ``restart`` is called (in the calling thread) when the engine is found gone, before
    reconnecting. ``call_timeout`` bounds each call (None: unbounded, as waits need);
    probes use a short one.
    """

    def __init__(
        self,
        socket_path: Path | str | None = None,
        key_file: Path | str | None = None,
        on_disconnect: Callable[[], None] | None = None,
        connect_timeout: float = 10.0,
        call_timeout: float | None = None,
        *,
        connector: Connector | None = None,
    ) -> None:
        if connector is None:
            if socket_path is None or key_file is None:
                raise TypeError("PyroEngineLink needs a socket path and key file, or a connector")
            connector = LocalSocketConnector(socket_path, key_file, on_disconnect)
        self.connector = connector
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
        self.connector.check()
        try:
            key = self.connector.key()
        except EngineError as error:  # no key yet: a restart may (re)start the engine
            raise _NotDelivered(str(error)) from None
        proxy = _HelloProxy(self.connector.uri())
        proxy._pyroSerializer = SERIALIZER
        proxy._pyroHandshake = key
        proxy._pyroTimeout = self._connect_timeout
        try:
            proxy._pyroBind()
        except _TRANSPORT_ERRORS as error:
            _release(proxy)
            where = self.connector.describe()
            if KEY_REFUSED in str(error):
                raise EngineKeyRefused(f"{where} refused the key") from None
            raise _NotDelivered(f"cannot connect to {where}: {error}") from None
        try:
            check_hello(self.connector.describe(), proxy.__dict__.get("swf_hello"))
        except EngineProtocolMismatch:
            _release(proxy)
            raise
        proxy._pyroTimeout = self._call_timeout  # None: waits block as long as the work takes
        with self._lock:
            self.connections_opened += 1
        return proxy

    def _checkout(self) -> tuple[Any, bool]:
        """A connected proxy owned by this thread, and whether it was reused."""
        with self._lock:
            if self._closed:
                raise EngineError(f"the link to {self.connector.describe()} is closed")
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
    def _attempt(self, operation: Operation, packed: str, check_fresh: bool) -> str:
        proxy, reused = self._checkout()
        if check_fresh and reused:
            try:
                proxy.call("ping", "[]")
            except _TRANSPORT_ERRORS:
                _release(proxy)
                self._drop_all()
                proxy = self._connect()
        name = operation.name
        try:
            result = getattr(proxy, CALL)(name, packed)
        except SomaWorkflowError:
            self._checkin(proxy)
            raise
        except Pyro5.errors.SerializeError as error:
            _release(proxy)
            raise EngineError(f"engine call {name} could not be (de)serialized: {error}") from None
        except _TRANSPORT_ERRORS as error:
            _release(proxy)
            self._drop_all()
            if str(error) == SHUTTING_DOWN:
                raise _NotDelivered(SHUTTING_DOWN) from None
            raise _Lost(str(error) or type(error).__name__) from None
        except Pyro5.errors.PyroError as error:
            _release(proxy)
            raise EngineError(f"the engine refused {name}: {error}") from None
        except BaseException:
            _release(proxy)  # interrupted mid-call: the connection is out of step
            raise
        self._checkin(proxy)
        return str(result)

    def call(self, operation: Operation, arguments: tuple[Any, ...]) -> Any:
        """Run ``operation`` on the engine with its positional ``arguments``, by the retry
        rule of its kind; its result as a read model."""
        if operation.kind is Kind.WAIT:
            return self._wait(operation, arguments)
        packed = wire_models.pack_arguments(operation, arguments)
        return wire_models.unpack_result(operation, self._send(operation, packed))

    def _send(
        self,
        operation: Operation,
        packed: str,
        repack: Callable[[], str] | None = None,
    ) -> str:
        is_command = operation.kind is Kind.COMMAND
        try:
            return self._attempt(operation, packed, check_fresh=is_command)
        except _NotDelivered:
            pass
        except _Lost as lost:
            if is_command:
                self._lost_command(operation, lost)
        # A wait outlives as many engine restarts as happen while it waits (each lost
        # connection was delivered to a live engine first), within a bound so that an
        # engine dying at every call cannot keep a client here forever.
        losses_left = MAX_WAIT_RESTARTS if operation.kind is Kind.WAIT else 1
        while True:
            self.connector.restart()
            again = repack() if repack is not None else packed
            try:
                return self._attempt(operation, again, check_fresh=False)
            except _Lost as failure:
                losses_left -= 1
                if losses_left <= 0:
                    raise EngineError(f"cannot reach the engine: {failure}") from None
            except _NotDelivered as failure:
                raise EngineError(f"cannot reach the engine: {failure}") from None

    def _lost_command(self, operation: Operation, lost: _Lost) -> None:
        self.connector.restart()
        with contextlib.suppress(_NotDelivered, EngineError):
            self._checkin(self._connect())
        raise EngineError(
            f"the connection to {self.connector.describe()} broke during {operation.name}; "
            f"the engine may or may not have applied it, check before repeating it ({lost})"
        ) from None

    def _wait(self, operation: Operation, arguments: tuple[Any, ...]) -> Any:
        """A wait (its last argument a timeout) sent again with the time left after a loss."""
        *head, timeout = arguments
        deadline = None if timeout < 0 else time.monotonic() + timeout

        def repack() -> str:
            left = -1.0 if deadline is None else max(0.0, deadline - time.monotonic())
            return wire_models.pack_arguments(operation, (*head, left))

        text = self._send(operation, wire_models.pack_arguments(operation, arguments), repack)
        return wire_models.unpack_result(operation, text)

    def __getattr__(self, name: str) -> Any:
        """The operations of the table (and ``ping``, ``stats``, ``shutdown_engine``)."""
        operation = SERVED.get(name)
        if operation is None or name.startswith("_"):
            raise AttributeError(name)
        return functools.partial(_call_bound, self, operation)

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


def _call_bound(link: PyroEngineLink, operation: Operation, *args: Any, **kwargs: Any) -> Any:
    return link.call(operation, operation.bind(args, kwargs))
