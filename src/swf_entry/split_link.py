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
from collections.abc import Callable, Sequence
from typing import Any

from swf_app.link import EngineLink
from swf_app.queries import AnswersQueries, QueryService


class SplitLink(AnswersQueries):
    """An ``EngineLink``: reads from a ``QueryService``, everything else through ``commands``.

    ``open_queries`` returns the QueryService and the function that releases what it reads
    from (the client's store connection); it is called once, on the first query.

    ``keep_alive`` (the engine link's ping, which restarts a dead engine) is called before
    a query at most every ``keep_alive_interval`` seconds: a client that only monitors
    must still bring back an engine that was killed, or its workflows would stall.
    """

    def __init__(
        self,
        open_queries: Callable[[], tuple[QueryService, Callable[[], None]]],
        commands: EngineLink,
        keep_alive: Callable[[], object] | None = None,
        keep_alive_interval: float = 0.5,
    ) -> None:
        self.commands = commands
        self._open_queries = open_queries
        self._queries: QueryService | None = None
        self._release: Callable[[], None] | None = None
        self._lock = threading.Lock()
        self._keep_alive = keep_alive
        self._keep_alive_interval = keep_alive_interval
        self._next_keep_alive = 0.0

    def _engine_checked(self) -> None:
        if self._keep_alive is None:
            return
        now = time.monotonic()
        with self._lock:
            due = now >= self._next_keep_alive
            if due:
                self._next_keep_alive = now + self._keep_alive_interval
        if due:
            self._keep_alive()

    @property
    def queries(self) -> QueryService:
        with self._lock:
            if self._queries is None:
                self._queries, self._release = self._open_queries()
            return self._queries

    # -- submission -------------------------------------------------------------------
    def submit_workflow(
        self,
        document: dict[str, Any],
        name: str | None,
        queue: str | None,
        expiration_date: float | None,
        working_directory: str | None = None,
    ) -> int:
        return self.commands.submit_workflow(
            document, name, queue, expiration_date, working_directory
        )

    # -- queries: AnswersQueries, from the lazily opened QueryService -------------------

    def query_service(self) -> QueryService:
        self._engine_checked()
        return self.queries

    # -- control ----------------------------------------------------------------------
    def stop_workflow(self, workflow_id: int) -> bool:
        return self.commands.stop_workflow(workflow_id)

    def restart_workflow(self, workflow_id: int, queue: str | None = None) -> bool:
        return self.commands.restart_workflow(workflow_id, queue)

    def delete_workflow(self, workflow_id: int, force: bool = True) -> bool:
        deleted = self.commands.delete_workflow(workflow_id, force)
        if self._queries is not None:
            self._queries.forget(workflow_id)
        return deleted

    def stop_jobs(self, workflow_id: int, job_ids: Sequence[int]) -> bool:
        return self.commands.stop_jobs(workflow_id, job_ids)

    def restart_jobs(self, workflow_id: int, job_ids: Sequence[int]) -> bool:
        return self.commands.restart_jobs(workflow_id, job_ids)

    def change_workflow_expiration_date(
        self, workflow_id: int, expiration_date: float | None
    ) -> bool:
        return self.commands.change_workflow_expiration_date(workflow_id, expiration_date)

    def wait_workflow(self, workflow_id: int, timeout: float = -1) -> bool:
        return self.commands.wait_workflow(workflow_id, timeout)

    def wait_job(self, job_ids: Sequence[int], timeout: float = -1) -> bool:
        return self.commands.wait_job(job_ids, timeout)

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
