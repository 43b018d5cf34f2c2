"""SLURM's registry entry (see ``swf_adapters.schedulers.registry``)."""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

from swf_adapters.schedulers.registry import Availability

if TYPE_CHECKING:
    from swf_adapters.config import ResourceConfig
    from swf_app.ports import Scheduler


class SlurmSchedulerFactory:
    """``SCHEDULER_TYPE = slurm``: jobs go to a SLURM cluster through sbatch/squeue/scancel."""

    description = "a SLURM cluster (one sbatch --array per batch, one squeue per poll)"

    def can_run_here(self) -> Availability:
        missing = [tool for tool in ("sbatch", "squeue", "scancel") if shutil.which(tool) is None]
        if missing:
            return Availability(False, f"{', '.join(missing)} not found on the PATH")
        return Availability(True, f"sbatch at {shutil.which('sbatch')}")

    def create(self, config: ResourceConfig) -> Scheduler:
        """Configured by soma's option names where soma has one."""
        from swf_adapters.schedulers.batch import BatchScheduler, BatchSettings
        from swf_adapters.schedulers.batch.parallel import ParallelConfig
        from swf_adapters.schedulers.slurm import Slurm

        system = Slurm(parallel_config=ParallelConfig.of(config.parallel_job_config))
        return BatchScheduler(system, BatchSettings.of_resource(config))
