"""DRMAA's registry entry (see ``swf_adapters.schedulers.registry``)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from swf_adapters.schedulers.registry import Availability

if TYPE_CHECKING:
    from swf_adapters.config import ResourceConfig
    from swf_app.ports import Scheduler


class DrmaaSchedulerFactory:
    """``SCHEDULER_TYPE = drmaa``: jobs go to Grid Engine through a DRMAA 1.0 session."""

    description = "Grid Engine through DRMAA 1.0 (one runBulkJobs per batch, ends by wait)"

    def can_run_here(self) -> Availability:
        from swf_adapters.schedulers.drmaa import (
            DrmaaUnavailableError,
            drmaa_environment,
            drmaa_package_missing,
        )

        missing = drmaa_package_missing()
        if missing:
            return Availability(False, missing)
        try:
            env = drmaa_environment(os.environ)
        except DrmaaUnavailableError as error:
            return Availability(False, str(error))
        return Availability(
            True, f"libdrmaa at {env['DRMAA_LIBRARY_PATH']} (SGE_ROOT={env['SGE_ROOT']})"
        )

    def create(self, config: ResourceConfig) -> Scheduler:
        """Raises ``DrmaaUnavailableError`` naming what is missing (package, libdrmaa,
        SGE_ROOT) before anything is submitted."""
        from swf_adapters.schedulers.batch import BatchSettings
        from swf_adapters.schedulers.batch.parallel import ParallelConfig
        from swf_adapters.schedulers.drmaa import (
            AgentRunner,
            DrmaaScheduler,
            DrmaaUnavailableError,
            drmaa_environment,
            drmaa_package_missing,
        )

        missing = drmaa_package_missing()
        if missing:
            raise DrmaaUnavailableError(missing)
        settings = BatchSettings.of_resource(config)
        runner = AgentRunner(config.job_dir / "drmaa-session", drmaa_environment(os.environ))
        return DrmaaScheduler(settings, runner, ParallelConfig.of(config.parallel_job_config))
