"""The typed, resolved configuration of one computing resource."""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

LIGHT_MODE = "light"
LOCAL_MODE = "local"
REMOTE_MODE = "remote"

#: soma-workflow's default engine log format (a logging format, read without interpolation).
DEFAULT_ENGINE_LOG_FORMAT = "%(asctime)s => %(module)s line %(lineno)s: %(message)s"
DEFAULT_ENGINE_LOG_LEVEL = "WARNING"
#: An idle engine daemon exits after this long, so none lingers for days per user.
DEFAULT_ENGINE_IDLE_TIMEOUT = 600.0
DEFAULT_SSH_PORT = 22


@dataclass(frozen=True)
class ResourceConfig:
    """Everything swf needs to know about one resource, every value already validated.

    ``sources`` tells, per field name, where its value came from: ``"default"``,
    ``"<file>:[section]:line N"``, ``"env SWF_..."`` or ``"isolated_dir"``; it lets
    ``swf config show`` explain a surprising value.
    """

    resource_id: str
    #: The file read, None when defaults only.
    config_file: Path | None
    #: soma-workflow's mode: ``light`` (engine inside the client), ``local`` (engine
    #: daemon on this machine), ``remote`` (engine on the cluster, reached over SSH).
    mode: str
    light_mode: bool
    scheduler_type: str
    #: Cores the local scheduler may use at once.
    cpu_nb: int
    #: Jobs of the default queue submitted and not finished, at most (None: no limit).
    max_job_running: int | None
    #: ``MAX_JOB_RUNNING`` per queue (None: the default queue); includes max_job_running.
    running_jobs_limits: dict[str | None, int]
    #: ``MAX_JOB_IN_QUEUE`` per queue: jobs waiting in the scheduler's queue, at most.
    queue_limits: dict[str | None, int]
    queues: list[str]
    #: Translation files per namespace, for SharedResourcePath (see translation_table).
    path_translation_files: dict[str, list[Path]]
    #: Prefix prepended to every job's command (docker, singularity...).
    container_command: list[str] | None
    native_specification: str | None
    #: Where the engine keeps its state (database, logs, transfers) for this resource.
    state_dir: Path
    #: SQLAlchemy URL of the store.
    database_url: str
    transfer_dir: Path
    shared_temporary_dir: Path
    engine_log_dir: Path
    engine_log_level: str
    engine_log_format: str
    #: Seconds an engine daemon with nothing to do waits before exiting (None: never).
    engine_idle_timeout: float | None
    #: Batch schedulers: job files (tables, end files) on the shared file system.
    job_dir: Path
    #: Batch schedulers: bounds of the adaptive interval between two reads of the queue.
    poll_interval_min: float
    poll_interval_max: float
    submitting_machines: list[str]
    cluster_address: str | None
    login: str | None
    ssh_port: int
    install_path: str | None
    #: swf: the private key to log in with (default: the agent and ~/.ssh's keys).
    ssh_key_file: Path | None
    #: swf: the known_hosts file the host key is checked against.
    ssh_known_hosts: Path
    #: swf: a host-key fingerprint (``SHA256:...``) the user accepted explicitly.
    ssh_host_key: str | None
    allowed_python_versions: list[int] | None
    python_command: str | None
    drmaa_implementation: str | None
    mpi_job_timeout: int | None
    #: swf: runs a job that does not say (``Job(attempts=...)``) may take (1: soma's).
    max_attempts: int
    #: Parallel job settings for cluster schedulers (``MPI``, ``OpenMP``, DRMAA attributes).
    parallel_job_config: dict[str, str]
    #: Options kept as written but not used: soma-workflow ones swf ignores, unknown ones.
    unknown: dict[str, str]
    sources: dict[str, str]

    @property
    def database_file(self) -> Path | None:
        """The SQLite file behind ``database_url``, None for another database."""
        prefix = "sqlite:///"
        if not self.database_url.startswith(prefix):
            return None
        return Path(self.database_url[len(prefix) :].split("?", 1)[0])

    def describe(self) -> list[tuple[str, str, str]]:
        """``(field, value, source)`` rows, for ``swf config show``."""
        rows: list[tuple[str, str, str]] = []
        for field in fields(self):
            if field.name == "sources":
                continue
            value = getattr(self, field.name)
            rows.append((field.name, _shown(value), self.sources.get(field.name, "default")))
        return rows


def _shown(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, list):
        return " ".join(str(item) for item in value) if value else "-"
    if isinstance(value, dict):
        if not value:
            return "-"
        return " ".join(f"{'{default}' if k is None else k}={_shown(v)}" for k, v in value.items())
    return str(value)
