"""The client's end: commands dropped as files, waits answered from the store."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import Any

from swf_adapters.transport.filedrop.layout import ControlLayout, RunnerInfo, read_runner
from swf_adapters.transport.pyro.private_files import write_private_json
from swf_adapters.transport.pyro.wire_errors import decode_error
from swf_app.link import Kind, operation
from swf_app.queries import QueryService
from swf_app.read_models import JobChangeBatch
from swf_domain.errors import EngineError
from swf_domain.status import TERMINAL_JOB_STATUSES, WorkflowStatus

#: How long a command may wait for the runner's answer (stop waits for kills: 60 s).
DEFAULT_ANSWER_TIMEOUT = 120.0
_LONGEST_POLL = 0.25


class FileDropLink:
    """The command half of an ``EngineLink`` for a state directory a runner drives.

    ``queries`` gives the client's own ``QueryService`` (it reads the store): waits are
    answered from it, so they need no round trip through the runner.
    """

    def __init__(
        self,
        layout: ControlLayout,
        queries: Callable[[], QueryService],
        answer_timeout: float = DEFAULT_ANSWER_TIMEOUT,
    ) -> None:
        self._layout = layout
        self._queries = queries
        self._answer_timeout = answer_timeout

    # -- commands: the link table's, each dropped as a file ----------------------------

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        op = operation(name)
        if op.kind is not Kind.COMMAND:
            raise AttributeError(f"{name} is answered from the store, not by the runner")

        def send(*args: Any, **kwargs: Any) -> Any:
            return self._command(name, *op.bind(args, kwargs))

        return send

    # -- waits, from the store ----------------------------------------------------------

    def wait_workflow(self, workflow_id: int, timeout: float = -1) -> bool:
        queries = self._queries()
        queries.workflow_row(workflow_id)  # UnknownObjectError if there is none

        def finished() -> bool:
            status = queries.workflow_status(workflow_id)
            return status is None or status == WorkflowStatus.DONE.value

        return self._wait(finished, timeout)

    def wait_job(self, job_ids: Sequence[int], timeout: float = -1) -> bool:
        queries = self._queries()
        ids = list(job_ids)
        for job_id in ids:
            queries.job_row(job_id)
        terminal = {status.value for status in TERMINAL_JOB_STATUSES}

        def ended() -> bool:
            return all(queries.job_status(job_id) in terminal for job_id in ids)

        return self._wait(ended, timeout)

    def wait_changes(
        self, workflow_id: int, since: int | None, timeout: float = -1
    ) -> JobChangeBatch:
        queries = self._queries()
        found: list[JobChangeBatch] = []

        def changed() -> bool:
            batch = queries.job_changes(workflow_id, since)
            found[:] = [batch]
            return bool(batch.jobs)

        self._wait(changed, timeout)
        return found[-1]

    def close(self) -> None:
        """Nothing held between calls."""

    # -- helpers ----------------------------------------------------------------------

    def runner(self) -> RunnerInfo | None:
        return read_runner(self._layout.state_dir)

    def _alive_runner(self) -> RunnerInfo:
        info = self.runner()
        if info is None or not info.alive():
            what = "no runner drives it" if info is None else info.describe()
            raise EngineError(
                f"{self._layout.state_dir}: {what}; run the same `mpirun ... swf mpi-run`"
                " command again to resume the workflow (commands need a running runner)"
            )
        return info

    def _command(self, op: str, *args: Any) -> Any:
        self._alive_runner()
        self._layout.ensure()
        request_file, answer_file = self._layout.new_request()
        write_private_json(request_file, {"op": op, "args": list(args)})
        deadline = time.monotonic() + self._answer_timeout
        delay = 0.01
        next_check = time.monotonic() + 1.0
        while not answer_file.exists():
            now = time.monotonic()
            if now >= deadline:
                request_file.unlink(missing_ok=True)
                raise EngineError(
                    f"the runner did not answer {op} within {self._answer_timeout:g} s"
                )
            if now >= next_check:
                next_check = now + 1.0
                try:
                    self._alive_runner()
                except EngineError:
                    request_file.unlink(missing_ok=True)
                    raise
            time.sleep(delay)
            delay = min(delay * 1.5, _LONGEST_POLL)
        try:
            answer = json.loads(answer_file.read_text(encoding="utf-8"))
        finally:
            answer_file.unlink(missing_ok=True)
        if not answer.get("ok"):
            raise decode_error(answer.get("error") or {})
        return answer.get("result")

    def _wait(self, done: Callable[[], bool], timeout: float) -> bool:
        deadline = None if timeout is None or timeout < 0 else time.monotonic() + timeout
        delay = 0.02
        while not done():
            if deadline is not None and time.monotonic() >= deadline:
                return False
            info = self.runner()
            if info is not None and not info.alive() and not info.queued and not done():
                raise EngineError(
                    f"{info.describe()} before this finished; run the same `mpirun ... swf"
                    " mpi-run` command again to resume it"
                )
            left = delay if deadline is None else min(delay, deadline - time.monotonic())
            time.sleep(max(0.0, left))
            delay = min(delay * 1.5, _LONGEST_POLL)
        return True
