"""The engine side of the Pyro5 transport: an ``EngineLink`` served on a private Unix socket.

Security rests on three walls: the socket lives in a 0700 directory and is itself 0600; a
client must present the engine key (64 hex characters read from a 0600 file) in the Pyro
handshake, compared in constant time; and every call must use the serpent serializer (data
literals only, never code). Pyro's thread-pool server gives each client connection its own
thread, so a client blocked in ``wait_workflow`` never holds up another client.
"""

from __future__ import annotations

import hmac
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import Pyro5.api
import Pyro5.errors
import Pyro5.server
from Pyro5 import config as pyro_config
from Pyro5.callcontext import current_context
from Pyro5.serializers import SerpentSerializer

from swf_adapters.process.memory import release_freed_memory
from swf_adapters.transport.pyro import wire_errors, wire_models
from swf_adapters.transport.pyro.handshake import refuse_unless_serpent_and_small
from swf_adapters.transport.pyro.protocol import (
    KEY_REFUSED,
    MANAGEMENT,
    OBJECT_ID,
    SERIALIZER_REFUSED,
    SERVED,
    SHUTTING_DOWN,
    WIRE_PROTOCOL,
    engine_uri,
    swf_version,
)
from swf_app.link import Kind, Operation
from swf_domain.errors import EngineError, SomaWorkflowError

log = logging.getLogger("swf.engine.pyro")

wire_errors.register_error_codec()

#: Seconds between two checks of the stop flag and idle state by the request loop.
LOOP_PERIOD = 0.25
#: Upper bound on simultaneous client connections (one server thread each).
MAX_CONNECTIONS = 256


class CallTracker:
    """Counts calls in progress and remembers when the last one began or ended."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._active = 0
        self._total = 0
        self._last_activity = clock()

    def begin(self) -> None:
        with self._lock:
            self._active += 1
            self._total += 1
            self._last_activity = self._clock()

    def end(self) -> None:
        with self._lock:
            self._active -= 1
            self._last_activity = self._clock()

    def idle_for(self) -> float:
        """Seconds since the last call ended; 0 while a call is in progress."""
        with self._lock:
            if self._active:
                return 0.0
            return self._clock() - self._last_activity

    def counts(self) -> dict[str, int]:
        with self._lock:
            return {"active_calls": self._active, "calls_total": self._total}


def _check_serializer() -> None:
    """A second wall behind the handshake's (which refuses any other serializer unread)."""
    if current_context.serializer_id != SerpentSerializer.serializer_id:
        raise Pyro5.errors.SecurityError(SERIALIZER_REFUSED)


class EngineObject:
    """The object clients call: ``call`` serves every operation of the link table (by the
    wrapped service) and of the management table (by this object).

    Errors the engine raises on purpose (``SomaWorkflowError``) cross the wire as they are;
    anything else is a bug or an outage on the engine side and becomes an ``EngineError``
    carrying the remote message, after its traceback went to the engine log.
    """

    def __init__(
        self,
        link: Any,
        tracker: CallTracker,
        info: dict[str, Any],
        request_stop: Callable[[], None],
    ) -> None:
        self._link = link
        self._tracker = tracker
        self.info = info
        self._request_stop = request_stop
        self.closing = threading.Event()

    @Pyro5.api.expose  # type: ignore[untyped-decorator]
    def call(self, name: str, arguments: str) -> str:
        """Run operation ``name`` with its packed ``arguments``; its packed result."""
        _check_serializer()
        operation = SERVED.get(name) if isinstance(name, str) else None
        if operation is None or not isinstance(arguments, str):
            raise EngineError(f"the engine has no operation {name!r}")
        args = wire_models.unpack_arguments(operation, arguments)
        if name in MANAGEMENT:
            return wire_models.pack_result(operation, getattr(self, name)(*args))
        result = wire_models.pack_result(operation, self._invoke(operation, args))
        if name in wire_models.TEXT_ARGUMENTS:  # a submission: gigabytes decoded and freed
            del args
            release_freed_memory()
        return result

    def _invoke(self, operation: Operation, args: tuple[Any, ...]) -> Any:
        if self.closing.is_set():
            raise Pyro5.errors.CommunicationError(SHUTTING_DOWN)
        waits = operation.kind is Kind.WAIT
        self._tracker.begin()
        try:
            result = getattr(self._link, operation.name)(*args)
        except SomaWorkflowError:
            if waits and self.closing.is_set():
                # The engine's waiters are failed as it stops: the client must carry its
                # wait over to the next engine, not report the stop as an error.
                raise Pyro5.errors.CommunicationError(SHUTTING_DOWN) from None
            raise
        except Exception as error:
            log.exception("engine call %s failed", operation.name)
            raise EngineError(
                f"engine failed in {operation.name}: {type(error).__name__}: {error}"
            ) from None
        finally:
            self._tracker.end()
        if waits and self.closing.is_set():
            # The wait ended because the engine is going away, not because the work did.
            raise Pyro5.errors.CommunicationError(SHUTTING_DOWN)
        return result

    # -- engine management (EngineManagement) ------------------------------------------
    def ping(self) -> int:
        """Cheap liveness probe (counts as client activity); answers the engine's pid."""
        self._tracker.begin()
        self._tracker.end()
        return os.getpid()

    def stats(self) -> dict[str, Any]:
        """Where the engine runs and what it holds; does not count as client activity."""
        result: dict[str, Any] = dict(self.info)
        result.update(self._tracker.counts())
        result["idle_seconds"] = round(self._tracker.idle_for(), 3)
        result["engine"] = self._engine_stats()
        return result

    def _engine_stats(self) -> dict[str, Any]:
        try:
            engine_stats = getattr(self._link, "engine_stats", None)
            if callable(engine_stats):
                return dict(engine_stats())
            return {"workflows": len(self._link.workflows(None))}
        except Exception as error:
            log.exception("engine statistics failed")
            return {"error": f"{type(error).__name__}: {error}"}

    def shutdown_engine(self) -> bool:
        """Ask the engine to stop cleanly (jobs keep running; the engine only stops watching)."""
        self._request_stop()
        return True


class KeyedDaemon(Pyro5.server.Daemon):  # type: ignore[misc]
    """A Pyro5 daemon on a Unix socket that refuses clients without the engine key."""

    def __init__(self, key: str, socket_path: Path, hello: Callable[[], Any]) -> None:
        self._swf_key = key.encode("ascii")
        self._hello = hello
        super().__init__(unixsocket=str(socket_path))

    def _handshake(self, conn: Any, denied_reason: str | None = None) -> bool:
        """Pyro's handshake, once its header showed serpent and a small size: Pyro would
        otherwise decode whatever serializer the client names, however big, before the
        key is checked."""
        if denied_reason is None and not refuse_unless_serpent_and_small(conn):
            return False
        return bool(super()._handshake(conn, denied_reason))

    def validateHandshake(self, conn: Any, data: Any) -> Any:
        """Check the key; answer the engine's ``hello`` so the client can check the link
        protocol before it sends a call (engines before the number answered "swf")."""
        if not isinstance(data, str) or not hmac.compare_digest(
            data.encode("utf-8", "replace"), self._swf_key
        ):
            log.warning("refused a client without the engine key")
            raise Pyro5.errors.SecurityError(KEY_REFUSED)
        return self._hello()


def configure_pyro_server() -> None:
    """Pyro's process-wide server settings: threaded, serpent, short loop period."""
    pyro_config.SERVERTYPE = "thread"
    pyro_config.SERIALIZER = "serpent"
    pyro_config.THREADPOOL_SIZE = MAX_CONNECTIONS
    pyro_config.POLLTIMEOUT = LOOP_PERIOD
    pyro_config.DETAILED_TRACEBACK = False


class EngineServer:
    """Serves one EngineLink on ``socket_path`` until asked to stop or idle for too long.

    ``idle_timeout`` (seconds, None or <= 0 for never): the server stops when no client call
    is in progress or happened for that long and the link (if it has ``is_idle()``) says no
    work is running.
    """

    def __init__(
        self,
        link: Any,
        socket_path: Path,
        key: str,
        idle_timeout: float | None = None,
        info: dict[str, Any] | None = None,
    ) -> None:
        configure_pyro_server()
        self.socket_path = socket_path
        self._link = link
        self._idle_timeout = idle_timeout if idle_timeout and idle_timeout > 0 else None
        self._stop_requested = False
        self.stop_reason = ""
        socket_path.unlink(missing_ok=True)
        previous_umask = os.umask(0o177)
        try:
            self._daemon = KeyedDaemon(key, socket_path, self._hello)
        finally:
            os.umask(previous_umask)
        socket_path.chmod(0o600)
        self.tracker = CallTracker()
        self.engine_object = EngineObject(link, self.tracker, dict(info or {}), self.request_stop)
        self._daemon.register(self.engine_object, objectId=OBJECT_ID)

    @property
    def uri(self) -> str:
        return engine_uri(self.socket_path)

    def _hello(self) -> dict[str, Any]:
        """What a connecting client checks: the engine's version and link protocol, and
        whether it runs no workflow (then a client of another protocol may replace it)."""
        info = self.engine_object.info
        return {
            "swf": info.get("version", swf_version()),
            "protocol": info.get("protocol", WIRE_PROTOCOL),
            "idle": self._link_idle(),
        }

    def _link_idle(self) -> bool:
        is_idle = getattr(self._link, "is_idle", None)
        if not callable(is_idle):
            return False  # unknown: never replaced under a client's feet
        try:
            return bool(is_idle())
        except Exception:
            log.exception("is_idle() failed; the engine says it is busy")
            return False

    def request_stop(self) -> None:
        """Make ``serve`` return soon; safe from a signal handler and from any thread."""
        self._stop_requested = True

    def serve(self) -> str:
        """Answer clients until stopped; returns why it stopped ("requested" or "idle")."""
        self._daemon.requestLoop(loopCondition=self._keep_serving)
        return self.stop_reason or "requested"

    def _keep_serving(self) -> bool:
        if self._stop_requested:
            self.stop_reason = self.stop_reason or "requested"
            return False
        if self._idle_timeout is not None and self._is_idle():
            self.stop_reason = "idle"
            return False
        return True

    def _is_idle(self) -> bool:
        assert self._idle_timeout is not None
        if self.tracker.idle_for() < self._idle_timeout:
            return False
        is_idle = getattr(self._link, "is_idle", None)
        if not callable(is_idle):
            return True
        try:
            return bool(is_idle())
        except Exception:
            log.exception("is_idle() failed; the engine stays up")
            return False

    def close(self) -> None:
        """Refuse further calls, close the listening socket and remove its file.

        Connections already open stay served until their client leaves, but every call on
        them now fails as "shutting down", which clients take as a cue to reconnect.
        """
        self.engine_object.closing.set()
        self._daemon.close()
        self.socket_path.unlink(missing_ok=True)
