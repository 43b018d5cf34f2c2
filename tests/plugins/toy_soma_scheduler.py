"""A small scheduler written the soma-workflow way (its plugin API, nothing from swf):
jobs are local processes, polled one by one. swf must drive it unchanged."""

from __future__ import annotations

import os
import subprocess
import threading
from typing import Any


class ToyScheduler:
    """soma-workflow's ``Scheduler`` interface: job_submission, get_job_status,
    get_job_exit_info, kill_job, build_scheduler."""

    parallel_job_submission_info = None

    def __init__(self) -> None:
        self.is_sleeping = False
        self.jobs_finished_event = threading.Event()
        self._processes: dict[str, subprocess.Popen[bytes]] = {}
        self._killed: set[str] = set()
        self.exit_info_calls: dict[str, int] = {}

    @classmethod
    def build_scheduler(cls, config: Any) -> ToyScheduler:
        return cls()

    def job_submission(self, jobs: list[Any]) -> list[str | None]:
        return [self._start(job) for job in jobs]

    def _start(self, job: Any) -> str | None:
        if "--refuse-me" in (job.native_specification or ""):
            return None
        env = dict(os.environ, **(job.env or {}))
        stdout = open(job.plain_stdout(), "wb")  # noqa: SIM115 - handed to the child
        stderr = open(job.plain_stderr(), "wb") if job.plain_stderr() else subprocess.STDOUT  # noqa: SIM115
        try:
            process = subprocess.Popen(
                job.plain_command(),
                stdout=stdout,
                stderr=stderr,
                cwd=job.plain_working_directory(),
                env=env,
                start_new_session=True,
            )
        except OSError:
            return None
        drms_id = f"toy-{process.pid}"
        self._processes[drms_id] = process
        return drms_id

    def get_job_status(self, drms_id: str) -> str:
        return "running" if self._processes[drms_id].poll() is None else "done"

    def get_job_exit_info(self, drms_id: str) -> tuple[str, int | None, int | None, str | None]:
        self.exit_info_calls[drms_id] = self.exit_info_calls.get(drms_id, 0) + 1
        code = self._processes[drms_id].returncode
        if drms_id in self._killed:
            return ("killed_by_user", None, None, None)
        if code < 0:
            return ("finished_signal", None, -code, None)
        return ("finished_regularly", code, None, "cput=0 mem=0kb walltime=0")

    def kill_job(self, drms_id: str) -> None:
        self._killed.add(drms_id)
        self._processes[drms_id].kill()

    def clean(self) -> None:
        """soma calls it when the engine stops for good: no process is left behind."""
        for process in self._processes.values():
            if process.poll() is None:
                process.kill()
                process.wait()
