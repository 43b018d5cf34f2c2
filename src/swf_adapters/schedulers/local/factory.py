"""The local scheduler's registry entry (see ``swf_adapters.schedulers.registry``)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from swf_adapters.schedulers.registry import Availability

if TYPE_CHECKING:
    from swf_adapters.config import ResourceConfig
    from swf_app.ports import Scheduler


class LocalSchedulerFactory:
    """``SCHEDULER_TYPE = local_basic``: jobs run as processes of this machine."""

    description = "the cores of this machine (a job host process runs the jobs)"

    def can_run_here(self) -> Availability:
        if not sys.platform.startswith("linux"):
            return Availability(False, f"needs Linux (epoll, posix_spawn), not {sys.platform}")
        return Availability(True, "runs jobs on this machine's cores")

    def create(self, config: ResourceConfig) -> Scheduler:
        from swf_adapters.schedulers.local.adapter import LocalScheduler

        return LocalScheduler(config.state_dir / "jobhost", slots=config.cpu_nb)
