"""A resource's parallel job options (soma-workflow's names), read once for every cluster.

soma's configuration maps each parallel kind of ``parallel_job_info["config_name"]``
(``MPI``, ``OpenMP``, ``native``) to the cluster's own name for it (``MPI = mpi``: a Grid
Engine parallel environment), which ``drmaa_native_specification`` places in a template
(``-pe {config_name} {nodes_number}``). swf also takes a kind's value that starts with
``-`` as that kind's whole request (``MPI = -l select={nodes_number}:mpiprocs=...``).
Either way the resource's request replaces the adapter's own mapping (``--nodes``,
``-pe smp N``, ``-l select``). ``PARALLEL_ENV_MPI_BIN`` / ``PARALLEL_ENV_NODE_FILE`` are
given to parallel jobs as environment variables, as soma does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from swf_app.ports import ParallelSpec

#: soma's options holding a template of the request (DRMAA's attribute names).
TEMPLATE_OPTION = "drmaa_native_specification"
#: soma's options exported to parallel jobs.
ENV_OPTIONS = ("PARALLEL_ENV_MPI_BIN", "PARALLEL_ENV_NODE_FILE")
_NOT_KINDS = (TEMPLATE_OPTION, "drmaa_job_category", *ENV_OPTIONS)


@dataclass(frozen=True, slots=True)
class ParallelConfig:
    """The parallel options of one resource (``ResourceConfig.parallel_job_config``)."""

    #: Kind -> the cluster's name for it, or (starting with ``-``) its whole request.
    kinds: Mapping[str, str] = field(default_factory=dict)
    #: ``drmaa_native_specification``: options with ``{config_name}`` and counts in it.
    template: str = ""
    #: Variables every parallel job gets.
    env: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, options: Mapping[str, str]) -> ParallelConfig:
        kinds = {k: v for k, v in options.items() if k not in _NOT_KINDS and v}
        env = {k: options[k] for k in ENV_OPTIONS if options.get(k)}
        return cls(kinds, options.get(TEMPLATE_OPTION, ""), env)

    def cluster_name(self, kind: str) -> str | None:
        """The cluster's own name for ``kind`` (a Grid Engine PE), when one is set."""
        value = self.kinds.get(kind, "")
        return value if value and not value.startswith("-") else None

    def request(self, parallel: ParallelSpec) -> str | None:
        """The resource's own request for this job, placeholders filled (None: the
        adapter maps ``parallel`` itself)."""
        value = self.kinds.get(parallel.config_name, "")
        if value.startswith("-"):
            return filled(value, parallel)
        if value and self.template:
            return filled(self.template.replace("{config_name}", value), parallel)
        return None


def filled(template: str, parallel: ParallelSpec) -> str:
    """soma's placeholders (and swf's ``{cpu_per_node}``, ``{cpus}``), replaced as text:
    never ``str.format`` on configuration."""
    for name, value in (
        ("nodes_number", parallel.nodes),
        ("max_node", parallel.nodes),
        ("cpu_per_node", parallel.cpus_per_node),
        ("cpus", parallel.cpus),
    ):
        template = template.replace("{" + name + "}", str(value))
    return template
