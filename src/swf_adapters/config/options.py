"""The option names a resource section may hold, sorted by how swf treats them.

soma-workflow users already have a ``~/.soma-workflow.cfg``; swf must read it without
complaint. So every option soma-workflow knows is accepted: the ones swf acts on are parsed
and validated, the others are kept as raw text for later use. Only names that neither
soma-workflow nor swf knows draw an :class:`UnknownOptionWarning` (a typo is likely).

configparser lowercases option names, so lookups go through :func:`canonical_name`.
"""

from __future__ import annotations

import difflib

#: Options swf parses into typed :class:`~swf_adapters.config.ResourceConfig` fields.
#: Names and spellings are soma-workflow's (``SSHPort`` included).
SOMA_TYPED_OPTIONS: tuple[str, ...] = (
    "SCHEDULER_TYPE",
    "LIGHT_MODE",
    "CPU_NB",
    "MAX_JOB_RUNNING",
    "MAX_JOB_IN_QUEUE",
    "QUEUES",
    "PATH_TRANSLATION_FILES",
    "CONTAINER_COMMAND",
    "NATIVE_SPECIFICATION",
    "SOMA_WORKFLOW_DIR",
    "DATABASE_FILE",
    "TRANSFERED_FILES_DIR",
    "SHARED_TEMPORARY_DIR",
    "ENGINE_LOG_DIR",
    "ENGINE_LOG_LEVEL",
    "ENGINE_LOG_FORMAT",
    "SUBMITTING_MACHINES",
    "CLUSTER_ADDRESS",
    "LOGIN",
    "SSHPort",
    "INSTALLPATH",
    "ALLOWED_PYTHON_VERSIONS",
    "PYTHON_COMMAND",
    "DRMAA_IMPLEMENTATION",
    "MPI_JOB_TIMEOUT",
    # parallel job configuration (DRMAA attributes, environment, kinds of parallel jobs)
    "drmaa_native_specification",
    "drmaa_job_category",
    "PARALLEL_ENV_MPI_BIN",
    "PARALLEL_ENV_NODE_FILE",
    "MPI",
    "OpenMP",
    "native",
)

#: Options soma-workflow knows that swf accepts silently but does not use (yet): its
#: database server (swf has none), the MPI runner's own logs, and the local scheduler's
#: polling knobs (swf's local scheduler reaps children instead of polling).
SOMA_KEPT_OPTIONS: tuple[str, ...] = (
    "SERVER_NAME",
    "SERVER_LOG_FILE",
    "SERVER_LOG_LEVEL",
    "SERVER_LOG_FORMAT",
    "REMOVE_ORPHAN_FILES",
    "MPI_LOG_DIR",
    "MPI_LOG_FORMAT",
    "MAX_CPU_NB",
    "SCHEDULER_INTERVAL",
)

#: swf's own options (unknown to soma-workflow, which ignores them).
SWF_OPTIONS: tuple[str, ...] = (
    "DATABASE_URL",
    "STATE_DIR",
    "ENGINE_IDLE_TIMEOUT",
    "JOB_DIR",
    "POLL_INTERVAL_MIN",
    "POLL_INTERVAL_MAX",
    "MAX_ATTEMPTS",
    # remote resources: how the client logs in (client-side only)
    "SSH_KEY_FILE",
    "SSH_KNOWN_HOSTS",
    "SSH_HOST_KEY",
)

#: Keys of ``ResourceConfig.parallel_job_config``: the parallel options soma-workflow's
#: cluster schedulers read.
PARALLEL_JOB_OPTIONS: tuple[str, ...] = (
    "drmaa_native_specification",
    "drmaa_job_category",
    "PARALLEL_ENV_MPI_BIN",
    "PARALLEL_ENV_NODE_FILE",
    "MPI",
    "OpenMP",
    "native",
)

#: Options read without ``%`` interpolation: their values are logging format strings.
RAW_OPTIONS: frozenset[str] = frozenset(
    {"ENGINE_LOG_FORMAT", "SERVER_LOG_FORMAT", "MPI_LOG_FORMAT"}
)

#: Prefix of the environment variables that override an option for every resource.
ENV_PREFIX = "SWF_"

_ALL_OPTIONS: tuple[str, ...] = SOMA_TYPED_OPTIONS + SOMA_KEPT_OPTIONS + SWF_OPTIONS
_BY_KEY: dict[str, str] = {name.lower(): name for name in _ALL_OPTIONS}


class UnknownOptionWarning(UserWarning):
    """A resource section holds an option neither soma-workflow nor swf knows.

    A warning and not an error: configuration files are shared between versions and
    tools, and a name swf does not know yet must not stop a user's work.
    """


def canonical_name(key: str) -> str | None:
    """The documented spelling of an option (any case), or None if no one knows it."""
    return _BY_KEY.get(key.lower())


def env_variable(option: str) -> str:
    """Name of the environment variable overriding ``option`` (``SWF_CPU_NB``)."""
    return ENV_PREFIX + option.upper()


def suggestion(key: str) -> str | None:
    """The known option a misspelt ``key`` most likely meant, if any is close."""
    matches = difflib.get_close_matches(key.lower(), list(_BY_KEY), n=1, cutoff=0.75)
    return _BY_KEY[matches[0]] if matches else None
