"""PBS Pro / Torque's registry entry (see ``swf_adapters.schedulers.registry``)."""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

from swf_adapters.schedulers.registry import Availability

if TYPE_CHECKING:
    from swf_adapters.config import ResourceConfig
    from swf_app.ports import Scheduler

_COMMANDS = ("qsub", "qstat", "qdel")


class PbsProSchedulerFactory:
    """``SCHEDULER_TYPE = pbspro``: jobs go to PBS Pro/OpenPBS, or Torque, by
    qsub/qstat/qdel; ``qstat --version`` says which and picks the command forms."""

    description = (
        "a PBS Pro/OpenPBS or Torque cluster (one qsub -J/-t per batch, one qstat per poll;"
        " tested against stand-ins only)"
    )

    def can_run_here(self) -> Availability:
        missing = [tool for tool in _COMMANDS if shutil.which(tool) is None]
        if missing:
            return Availability(False, f"{', '.join(missing)} not found on the PATH")
        from swf_adapters.schedulers.pbspro import detect_flavor
        from swf_domain.errors import DRMError

        try:
            flavor = detect_flavor(_run)
        except DRMError as error:  # a qstat that is not PBS's: say so
            return Availability(False, str(error))
        return Availability(True, f"{flavor.value}: qsub at {shutil.which('qsub')}")

    def create(self, config: ResourceConfig) -> Scheduler:
        """Raises ``DRMError`` when qstat is missing or is neither PBS Pro nor Torque."""
        from swf_adapters.schedulers.batch import BatchScheduler, BatchSettings
        from swf_adapters.schedulers.batch.parallel import ParallelConfig
        from swf_adapters.schedulers.pbspro import Pbs, detect_flavor

        parallel = ParallelConfig.of(config.parallel_job_config)
        system = Pbs(detect_flavor(_run), parallel_config=parallel)
        return BatchScheduler(system, BatchSettings.of_resource(config))


def _run(argv: list[str]) -> tuple[int, str, str]:
    """One short local call (``qstat --version`` answers without the server)."""
    from swf_adapters.schedulers.batch import CommandRunner

    result = CommandRunner(timeout=30).run(argv)
    return result.returncode, result.stdout, result.stderr
