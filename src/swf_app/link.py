"""How a client reaches an engine: the ``EngineLink`` port.

The facade (``WorkflowController``) only ever talks to an ``EngineLink``. Every argument and
result is plain data (ints, strings, epoch floats, lists, tuples, dicts), so the same port is
served in-process (embedded "light" mode), by a local daemon over Pyro5, or later through an
SSH tunnel, without the facade knowing which.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

#: What ``jobs_info`` tells of one job: (name, argv as run or None, submission date,
#: workflow id, index of the job in its workflow's job list).
JobInfo = tuple[str, list[str] | None, float | None, int, int]


class EngineLink(Protocol):
    """The engine's client-facing operations, with soma-workflow's semantics."""

    # -- submission -------------------------------------------------------------------
    def submit_workflow(
        self,
        document: dict[str, Any],
        name: str | None,
        queue: str | None,
        expiration_date: float | None,
    ) -> int: ...

    # -- queries ----------------------------------------------------------------------
    def workflow_document(self, workflow_id: int) -> dict[str, Any]: ...

    def workflows(
        self, workflow_ids: Sequence[int] | None = None
    ) -> dict[int, tuple[str | None, float | None]]: ...

    def workflow_status(self, workflow_id: int) -> str | None: ...

    def workflow_elements_status(self, workflow_id: int, with_drms_id: bool = True) -> Any: ...

    def job_status(self, job_id: int) -> str: ...

    def job_termination_status(
        self, job_id: int
    ) -> tuple[str | None, int | None, int | None, str | None] | None: ...

    def job_files(self, job_id: int) -> tuple[str | None, str | None]: ...

    def get_job_output_params(self, job_id: int) -> dict[str, Any] | None: ...

    def status_summary(self, workflow_id: int) -> dict[str, int]: ...

    def jobs_info(self, job_ids: Sequence[int]) -> dict[int, JobInfo]:
        """soma's ``jobs``: per known id (unknown ids left out, as soma-workflow), the
        name, argv as run (None before its first run), submission date (None until the job
        is submitted, as soma-workflow), workflow id and position in the workflow's jobs."""
        ...

    # -- control ----------------------------------------------------------------------
    def stop_workflow(self, workflow_id: int) -> bool: ...

    def restart_workflow(self, workflow_id: int, queue: str | None = None) -> bool: ...

    def delete_workflow(self, workflow_id: int, force: bool = True) -> bool: ...

    def stop_jobs(self, workflow_id: int, job_ids: Sequence[int]) -> bool: ...

    def restart_jobs(self, workflow_id: int, job_ids: Sequence[int]) -> bool: ...

    def change_workflow_expiration_date(
        self, workflow_id: int, expiration_date: float | None
    ) -> bool: ...

    def wait_workflow(self, workflow_id: int, timeout: float = -1) -> bool: ...

    def wait_job(self, job_ids: Sequence[int], timeout: float = -1) -> bool: ...

    # -- lifetime ---------------------------------------------------------------------
    def close(self) -> None:
        """Release the client side of the link; workflows go on."""
        ...
