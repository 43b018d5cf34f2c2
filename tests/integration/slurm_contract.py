"""Contract backends of the SLURM adapter (the real single-node cluster) and of a
soma-workflow scheduler plugin (tests/plugins/toy_soma_scheduler.py) driven through
SomaPluginScheduler; listed in scheduler_contract.BACKENDS."""

from __future__ import annotations

import subprocess
from pathlib import Path

from swf_adapters.schedulers.batch import BatchScheduler, BatchSettings
from swf_adapters.schedulers.slurm import Slurm
from swf_adapters.schedulers.soma_plugin import SomaPluginScheduler
from swf_app.ports import Scheduler
from tests.integration.scheduler_contract import ContractBackend, StoppedDaemonBackend
from tests.integration.slurm_fixtures import SERVICE, SLURMCTLD_PID
from tests.plugins.toy_soma_scheduler import ToyScheduler


class SlurmBackend(StoppedDaemonBackend):
    """BatchScheduler on the real SLURM started by scripts/test.sh; pause = SIGSTOP
    slurmctld (every sbatch/squeue/scancel then waits for it)."""

    name = "slurm"
    timeout = 90.0

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.settings = BatchSettings(
            job_dir=root / "slurm-jobs", poll_min=0.1, poll_max=0.5, retry_first=0.2, retry_max=1.0
        )

    def unavailable(self) -> str | None:
        answered = subprocess.run([str(SERVICE), "status"], check=False, timeout=60).returncode
        if answered == 0:
            return None
        return f"no SLURM cluster answers (the test command starts one: {SERVICE})"

    def new_scheduler(self) -> Scheduler:
        return BatchScheduler(Slurm(), self.settings)

    def daemon_pid(self) -> int:
        return int(SLURMCTLD_PID.read_text())

    def clean_up(self) -> None:
        tag = self.settings.job_tag()
        subprocess.run(["scancel", f"--name={tag}"], check=False, capture_output=True)


class SomaPluginBackend(ContractBackend):
    """A soma-style plugin. One plugin instance outlives the adapters (as a DRMS outlives
    the engine): a new adapter adopts the jobs by the ids the plugin gave."""

    name = "soma-plugin"

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.plugin = ToyScheduler()

    def new_scheduler(self) -> Scheduler:
        return SomaPluginScheduler(self.plugin, poll_interval=0.05)

    def close(self) -> None:
        self.plugin.clean()
