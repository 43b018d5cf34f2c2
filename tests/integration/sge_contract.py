"""Contract backend of the DRMAA adapter on the real single-host Grid Engine; listed in
scheduler_contract.BACKENDS."""

from __future__ import annotations

import os
from pathlib import Path

from swf_adapters.schedulers.batch import BatchSettings
from swf_adapters.schedulers.drmaa import AgentRunner, DrmaaScheduler, drmaa_environment
from swf_app.ports import Scheduler
from tests.integration.scheduler_contract import StoppedDaemonBackend
from tests.integration.sge_fixtures import QMASTER_PID, SERVICE, qdel_tag, sge_answers


def drmaa_scheduler(job_dir: Path, **settings: float) -> DrmaaScheduler:
    options = {"poll_min": 0.1, "poll_max": 0.5, "retry_first": 0.2, "retry_max": 1.0}
    options.update(settings)
    batch = BatchSettings(job_dir=job_dir, **options)  # type: ignore[arg-type]
    runner = AgentRunner(job_dir / "drmaa-session", drmaa_environment(os.environ))
    return DrmaaScheduler(batch, runner)


class DrmaaBackend(StoppedDaemonBackend):
    """DrmaaScheduler on the real Grid Engine started by scripts/test.sh; pause = SIGSTOP
    sge_qmaster (every DRMAA call then waits for it)."""

    name = "drmaa"
    timeout = 90.0

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.job_dir = root / "sge-jobs"

    def unavailable(self) -> str | None:
        if sge_answers():
            return None
        return f"no Grid Engine cell answers (the test command starts one: {SERVICE})"

    def new_scheduler(self) -> Scheduler:
        return drmaa_scheduler(self.job_dir)

    def daemon_pid(self) -> int:
        return int(QMASTER_PID.read_text())

    def clean_up(self) -> None:
        qdel_tag(BatchSettings(job_dir=self.job_dir).job_tag())
