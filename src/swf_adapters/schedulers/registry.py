"""Which scheduler serves a resource: ``SCHEDULER_TYPE`` -> a factory, by entry point.

Every scheduler, swf's own included, is a factory registered in the ``swf.schedulers``
entry-point group (``pyproject.toml``)::

    [project.entry-points."swf.schedulers"]
    local_basic = "swf_adapters.schedulers.local.factory:LocalSchedulerFactory"

The entry point names a ``SchedulerFactory`` class (or instance), or a soma-workflow
scheduler plugin class (``job_submission``, ``get_job_status``, ``get_job_exit_info``,
``kill_job``, ``build_scheduler``), driven through ``soma_plugin``. A third-party package
plugs a scheduler in by declaring one in its own metadata: nothing in swf changes. The
composition root asks ``scheduler_factory(config.scheduler_type)``; an unknown type gets
an ``UnknownSchedulerError`` that lists what is installed, and a factory that cannot run
on this machine (no ``sbatch`` on the PATH...) says why through ``can_run_here``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from swf_domain.errors import ConfigurationError

if TYPE_CHECKING:
    from swf_adapters.config import ResourceConfig
    from swf_app.ports import Scheduler

ENTRY_POINT_GROUP = "swf.schedulers"

#: swf's own schedulers, also registered as entry points. Their names are reserved and
#: resolved without reading the package metadata: that scan (importing importlib.metadata
#: included) costs more than a whole CLI command, and works from an uninstalled tree.
_BUILT_IN = {
    "local_basic": "swf_adapters.schedulers.local.factory:LocalSchedulerFactory",
    "slurm": "swf_adapters.schedulers.slurm_factory:SlurmSchedulerFactory",
    "drmaa": "swf_adapters.schedulers.drmaa_factory:DrmaaSchedulerFactory",
    "pbspro": "swf_adapters.schedulers.pbspro_factory:PbsProSchedulerFactory",
}


@dataclass(frozen=True, slots=True)
class Availability:
    """Whether a scheduler can run on this machine, and why (not)."""

    ok: bool
    #: What it will use ("sbatch at /usr/bin/sbatch") or what is missing.
    reason: str


class SchedulerFactory(Protocol):
    """Builds one kind of scheduler from a resource's configuration."""

    #: One line for ``swf schedulers``.
    description: str

    def can_run_here(self) -> Availability:
        """Whether this machine has what the scheduler needs (commands, libraries)."""
        ...

    def create(self, config: ResourceConfig) -> Scheduler:
        """A scheduler for the resource, not started (the engine starts it)."""
        ...


class UnknownSchedulerError(ConfigurationError):
    """``SCHEDULER_TYPE`` names no installed scheduler."""


def installed() -> dict[str, str]:
    """Installed scheduler types -> where their factory lives (``module:attribute``)."""
    from importlib import metadata

    found = {entry.name: entry.value for entry in metadata.entry_points(group=ENTRY_POINT_GROUP)}
    found.update(_BUILT_IN)
    return dict(sorted(found.items()))


def scheduler_factory(scheduler_type: str) -> SchedulerFactory:
    """The factory of ``scheduler_type`` (raises UnknownSchedulerError listing the rest)."""
    target = _BUILT_IN.get(scheduler_type) or installed().get(scheduler_type)
    if target is None:
        names = ", ".join(installed()) or "none"
        raise UnknownSchedulerError(
            f"SCHEDULER_TYPE {scheduler_type!r} is not an installed scheduler"
            f" (installed: {names}); a scheduler package registers itself in the"
            f" {ENTRY_POINT_GROUP!r} entry-point group"
        )
    return _load(scheduler_type, target)


def _load(name: str, target: str) -> SchedulerFactory:
    module_name, _, attribute = target.partition(":")
    try:
        module = __import__(module_name, fromlist=[attribute or "_"])
        loaded: Any = getattr(module, attribute) if attribute else module
    except Exception as error:  # a broken plugin: say which and why
        raise ConfigurationError(
            f"scheduler {name!r} ({target}) cannot be loaded: {type(error).__name__}: {error}"
        ) from error
    from swf_adapters.schedulers.soma_plugin import SomaPluginFactory, is_soma_plugin

    if is_soma_plugin(loaded):  # a soma-workflow Scheduler subclass, plugged in unchanged
        return SomaPluginFactory(loaded, name)
    factory: SchedulerFactory = loaded() if isinstance(loaded, type) else loaded
    return factory


def survey() -> list[tuple[str, str, Availability]]:
    """Every installed scheduler: (type, description, whether it can run here)."""
    rows: list[tuple[str, str, Availability]] = []
    for name, target in installed().items():
        try:
            factory = _load(name, target)
            rows.append((name, factory.description, factory.can_run_here()))
        except ConfigurationError as error:
            rows.append((name, target, Availability(False, str(error))))
    return rows
