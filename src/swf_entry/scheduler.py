"""soma-workflow's ``scheduler`` module: which schedulers there are, and building one.

``Scheduler`` is swf's scheduler port (what every scheduler adapter implements) rather
than soma's abstract base class. swf runs jobs with its local scheduler only today; the
cluster types soma-workflow knows are listed as not enabled, and asking for one says so.
"""

from __future__ import annotations

from typing import Any

from swf_adapters.config import SCHEDULER_TYPES, ResourceConfig
from swf_adapters.schedulers.local.adapter import LocalScheduler
from swf_app.ports import Scheduler
from swf_domain.errors import ConfigurationError

__all__ = [
    "Scheduler",
    "build_scheduler",
    "get_scheduler_implementation",
    "get_schedulers_list",
]

#: Scheduler types swf can run jobs with (soma-workflow's spellings).
_AVAILABLE = ("local_basic", "local")


def get_schedulers_list() -> list[tuple[str, bool]]:
    """``(type, enabled)`` for every scheduler type soma-workflow's configuration names."""
    return [(name, name in _AVAILABLE) for name in SCHEDULER_TYPES]


def get_scheduler_implementation(scheduler_type: str) -> type[LocalScheduler]:
    """The class running jobs for ``scheduler_type``; NameError for an unknown type (as
    soma-workflow), ConfigurationError for a known one swf cannot run yet."""
    if scheduler_type in _AVAILABLE:
        return LocalScheduler
    if scheduler_type in SCHEDULER_TYPES:
        raise ConfigurationError(
            f"scheduler type {scheduler_type!r} is not available in swf yet (only local_basic)"
        )
    raise NameError(f"scheduler type {scheduler_type} is not found")


def build_scheduler(scheduler_type: str, config: Any) -> LocalScheduler:
    """A (not yet started) scheduler for ``config``: a ``Configuration`` or a
    ``ResourceConfig``; its job host lives in the resource's state directory."""
    implementation = get_scheduler_implementation(scheduler_type)
    resolved = getattr(config, "resource_config", None)
    resource = resolved() if callable(resolved) else config
    if not isinstance(resource, ResourceConfig):
        raise ConfigurationError(
            f"build_scheduler: config must be a Configuration, not {type(config).__name__}"
        )
    return implementation(resource.state_dir / "jobhost", slots=resource.cpu_nb)
