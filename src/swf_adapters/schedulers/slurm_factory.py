"""SLURM's registry entry (see ``swf_adapters.schedulers.registry``)."""

from __future__ import annotations

import shutil
import sys
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
        from swf_adapters.schedulers.batch.adapter import DEFAULT_MAX_IN_QUEUE
        from swf_adapters.schedulers.slurm import Slurm, native_options

        settings = BatchSettings(
            job_dir=config.job_dir,
            python=config.python_command or sys.executable,
            max_in_queue=config.queue_limits.get(None, DEFAULT_MAX_IN_QUEUE),
            default_options=native_options(config.native_specification),
            poll_min=config.poll_interval_min,
            poll_max=config.poll_interval_max,
        )
        return BatchScheduler(Slurm(), settings)
