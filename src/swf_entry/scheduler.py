"""soma-workflow's ``scheduler`` module: which schedulers there are, and building one.

``Scheduler`` is swf's scheduler port (what every scheduler adapter implements) rather
than soma's abstract base class. The scheduler types are soma-workflow's; those swf
cannot run yet are listed as not enabled, and asking for one says so.
"""

from __future__ import annotations

from typing import Any

from swf_adapters.config import SCHEDULER_TYPES, ResourceConfig
from swf_app.ports import Scheduler
from swf_domain.errors import ConfigurationError
from swf_entry.composition import AVAILABLE_SCHEDULER_TYPES, batch_scheduler

__all__ = [
    "Scheduler",
    "build_scheduler",
    "get_scheduler_implementation",
    "get_schedulers_list",
]


def _implementations() -> dict[str, type[Any]]:
    """Imported on demand: ``import soma_workflow.client`` must stay light."""
    from swf_adapters.schedulers.batch.adapter import BatchScheduler
    from swf_adapters.schedulers.local.adapter import LocalScheduler
    from swf_adapters.schedulers.mpi.adapter import MpiScheduler

    return {
        "local_basic": LocalScheduler,
        "local": LocalScheduler,
        "slurm": BatchScheduler,
        "mpi": MpiScheduler,
    }


def get_schedulers_list() -> list[tuple[str, bool]]:
    """``(type, enabled)`` for every scheduler type soma-workflow's configuration names."""
    return [(name, name in AVAILABLE_SCHEDULER_TYPES) for name in SCHEDULER_TYPES]


def get_scheduler_implementation(scheduler_type: str) -> type[Any]:
    """The class running jobs for ``scheduler_type``; NameError for an unknown type (as
    soma-workflow), ConfigurationError for a known one swf cannot run yet."""
    if scheduler_type in AVAILABLE_SCHEDULER_TYPES:
        return _implementations()[scheduler_type]
    if scheduler_type in SCHEDULER_TYPES:
        available = ", ".join(name for name in AVAILABLE_SCHEDULER_TYPES if name != "local")
        raise ConfigurationError(
            f"scheduler type {scheduler_type!r} is not available in swf yet ({available} are)"
        )
    raise NameError(f"scheduler type {scheduler_type} is not found")


def build_scheduler(scheduler_type: str, config: Any) -> Scheduler:
    """A (not yet started) scheduler for ``config`` (a ``Configuration`` or a
    ``ResourceConfig``), as swf's engine builds it for that resource."""
    implementation = get_scheduler_implementation(scheduler_type)
    resolved = getattr(config, "resource_config", None)
    resource = resolved() if callable(resolved) else config
    if not isinstance(resource, ResourceConfig):
        raise ConfigurationError(
            f"build_scheduler: config must be a Configuration, not {type(config).__name__}"
        )
    if implementation is _implementations()["local"]:
        scheduler: Scheduler = implementation(resource.state_dir / "jobhost", slots=resource.cpu_nb)
        return scheduler
    if implementation is _implementations()["slurm"]:
        return batch_scheduler(resource)
    raise ConfigurationError(
        "the MPI scheduler runs inside an MPI allocation, built by `swf mpi-run`"
        " (mpirun -n K swf mpi-run WORKFLOW_FILE)"
    )
