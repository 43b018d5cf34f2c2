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
from collections.abc import Callable, Sequence
from typing import Any

from swf_app.link import EngineLink
from swf_app.queries import AnswersQueries, QueryService


class SplitLink(AnswersQueries):
    """An ``EngineLink``: reads from a ``QueryService``, everything else through ``commands``.

    ``open_queries`` returns the QueryService and the function that releases what it reads
    from (the client's store connection); it is called once, on the first query.
    """

    def __init__(
        self,
        open_queries: Callable[[], tuple[QueryService, Callable[[], None]]],
        commands: EngineLink,
    ) -> None:
        self.commands = commands
        self._open_queries = open_queries
        self._queries: QueryService | None = None
        self._release: Callable[[], None] | None = None
        self._lock = threading.Lock()

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
    ) -> int:
        return self.commands.submit_workflow(document, name, queue, expiration_date)

    # -- queries: AnswersQueries, from the lazily opened QueryService -------------------

    def query_service(self) -> QueryService:
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
