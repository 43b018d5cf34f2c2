"""SplitLink: queries answered in the client's process, commands sent to the engine daemon.

Monitors poll: 8 of them reading a 100,000-job workflow every 100 ms through the daemon
left it 3 % of its throughput (it spent the CPU reading and packing the answers). The
store already holds everything a query answers, so the client reads it itself with a
``QueryService`` (whose ``workflow_elements_status`` refreshes a cache with only what
changed); commands and waits still go to the engine, the only writer.

The store is opened on the first query: a CLI command that only submits or stops never
pays for importing SQLAlchemy and opening the database.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from swf_app.link import EngineLink, Kind, operation
from swf_app.queries import QueryService

#: Seconds without a word from the engine after which a query first pings it (which
#: restarts a dead one): how long a client that only monitors may take to notice.
KEEP_ALIVE_INTERVAL = 3.0


class SplitLink:
    """An ``EngineLink``: reads from a ``QueryService``, everything else through ``commands``.

    Served from the link table (``swf_app.link.OPERATIONS``): an operation of kind
    ``query`` is answered here, any other is forwarded, so it has no per-operation code.

    ``open_queries`` returns the QueryService and the function that releases what it reads
    from (the client's store connection); it is called once, on the first query.

    ``keep_alive`` (the engine link's ping, which restarts a dead engine) is called before
    a query when the engine has not been heard from for ``keep_alive_interval`` seconds:
    a client that only monitors must still bring back an engine that was killed, or its
    workflows would stall. Any call that went through to the engine (a command, a wait)
    counts as heard from it, so a busy client never pings, and a monitor polling ten
    times a second pings once per interval: a dead engine is found within a few seconds,
    about as long as an engine takes to restart.
    """

    def __init__(
        self,
        open_queries: Callable[[], tuple[QueryService, Callable[[], None]]],
        commands: EngineLink,
        keep_alive: Callable[[], object] | None = None,
        keep_alive_interval: float = KEEP_ALIVE_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.commands = commands
        self._open_queries = open_queries
        self._queries: QueryService | None = None
        self._release: Callable[[], None] | None = None
        self._lock = threading.Lock()
        self._keep_alive = keep_alive
        self._keep_alive_interval = keep_alive_interval
        self._clock = clock
        self._next_keep_alive = 0.0

    def _engine_checked(self) -> None:
        if self._keep_alive is None:
            return
        now = self._clock()
        with self._lock:
            due = now >= self._next_keep_alive
            if due:
                self._next_keep_alive = now + self._keep_alive_interval
        if due:
            self._keep_alive()

    def _heard_from_engine(self) -> None:
        if self._keep_alive is not None:
            with self._lock:
                self._next_keep_alive = self._clock() + self._keep_alive_interval

    @property
    def queries(self) -> QueryService:
        with self._lock:
            if self._queries is None:
                self._queries, self._release = self._open_queries()
            return self._queries

    # -- the link table: queries here, everything else to the engine -------------------

    def query_service(self) -> QueryService:
        self._engine_checked()
        return self.queries

    def __getattr__(self, name: str) -> Any:
        """Queries from the local QueryService, commands and waits from the engine."""
        if name.startswith("_"):
            raise AttributeError(name)
        if operation(name).kind is Kind.QUERY:
            return getattr(self.query_service(), name)
        forwarded = getattr(self.commands, name)
        if self._keep_alive is None:
            return forwarded

        def call(*args: Any, **kwargs: Any) -> Any:
            result = forwarded(*args, **kwargs)
            self._heard_from_engine()
            return result

        return call

    def delete_workflow(self, workflow_id: int, force: bool = True) -> bool:
        deleted = self.commands.delete_workflow(workflow_id, force)
        self._heard_from_engine()
        if self._queries is not None:
            self._queries.forget(workflow_id)  # free its cache now, not at the next read
        return deleted

    # -- lifetime ---------------------------------------------------------------------
    def close(self) -> None:
        """Release both sides (the engine and its workflows go on)."""
        try:
            self.commands.close()
        finally:
            with self._lock:
                release, self._release = self._release, None
            if release is not None:
                release()
