"""soma-workflow's ``scheduler`` module on swf's scheduler registry.

``Scheduler`` is swf's scheduler port (what every scheduler adapter implements) rather
than soma's abstract base class. Where soma-workflow returns a scheduler *class* (whose
``build_scheduler(config)`` makes one), swf returns the registry's factory (whose
``create(config)`` does): ``build_scheduler(type, config)`` hides the difference.
"""

from __future__ import annotations

from typing import Any

from swf_adapters.config import SCHEDULER_TYPES, ResourceConfig
from swf_adapters.schedulers.registry import SchedulerFactory, installed, scheduler_factory, survey
from swf_app.ports import Scheduler
from swf_domain.errors import ConfigurationError

__all__ = [
    "Scheduler",
    "build_scheduler",
    "get_scheduler_implementation",
    "get_schedulers_list",
]

#: soma-workflow's spelling of the local scheduler's type.
_ALIASES = {"local": "local_basic"}


def get_schedulers_list() -> list[tuple[str, bool]]:
    """``(type, enabled)``: every installed scheduler (enabled when it can run on this
    machine), then soma-workflow's other types, not enabled."""
    found = [(name, availability.ok) for name, _description, availability in survey()]
    known = {name for name, _ in found}
    return found + [(name, False) for name in SCHEDULER_TYPES if name not in known]


def get_scheduler_implementation(scheduler_type: str) -> SchedulerFactory:
    """The factory of ``scheduler_type``; NameError for a type nobody knows (as
    soma-workflow), ConfigurationError for a known one swf does not have installed."""
    name = _ALIASES.get(scheduler_type, scheduler_type)
    if name not in installed() and name not in SCHEDULER_TYPES:
        raise NameError(f"scheduler type {scheduler_type} is not found")
    return scheduler_factory(name)


def build_scheduler(scheduler_type: str, config: Any) -> Scheduler:
    """A (not yet started) scheduler for ``config`` (a ``Configuration`` or a
    ``ResourceConfig``), as swf's engine builds it for that resource."""
    factory = get_scheduler_implementation(scheduler_type)
    resolved = getattr(config, "resource_config", None)
    resource = resolved() if callable(resolved) else config
    if not isinstance(resource, ResourceConfig):
        raise ConfigurationError(
            f"build_scheduler: config must be a Configuration, not {type(config).__name__}"
        )
    return factory.create(resource)
