"""soma-workflow's ``configuration`` module on swf's configuration adapter.

``Configuration`` is soma-workflow's class (same constructor, class methods and getters,
same return shapes) over swf's :class:`~swf_adapters.config.ResourceConfig`: the file is
read once by swf's loader (its lookup order, environment overrides and typed errors),
and each getter answers from the resolved values. ``WorkflowController(resource_id,
config=Configuration.load_from_file(...))`` connects with it.

Differences, deliberate: values are validated when the file is loaded (a bad
``MAX_JOB_IN_QUEUE`` is a ConfigurationError naming file, section and line, not a
ValueError from a getter); ``save_to_file`` does nothing, as in soma-workflow 6.0.
``AddLineDefinitions2BashrcFile`` (soma's installer helper that edits ``~/.bashrc``) is
not provided: swf's installation never edits shell start-up files.
"""

from __future__ import annotations

import configparser
import io
import os
import socket
import sys
from dataclasses import replace
from pathlib import Path
from typing import IO, Any

from swf_adapters.config import (
    LIGHT_MODE,
    LOCAL_MODE,
    REMOTE_MODE,
    ResourceConfig,
    find_config_file,
    load_config,
    load_config_text,
    local_host_names,
    translation_table,
)
from swf_adapters.config.ini import read_ini
from swf_adapters.config.locate import (
    default_resource_id,
    python_version_allowed,
)
from swf_adapters.config.values import BadValue, parse_python_versions
from swf_domain.errors import ConfigurationError

__all__ = [
    "CFG_CLUSTER_ADDRESS",
    "CFG_DATABASE_FILE",
    "CFG_SERVER_NAME",
    "CFG_SUBMITTING_MACHINES",
    "CFG_TRANSFERED_FILES_DIR",
    "DB_VERSION",
    "DRMAA_SCHEDULER",
    "LIGHT_MODE",
    "LOCAL_MODE",
    "LOCAL_SCHEDULER",
    "MODES",
    "MPI_SCHEDULER",
    "OCFG_ALLOWED_PYTHON_VERSIONS",
    "OCFG_CONTAINER_COMMAND",
    "OCFG_DRMAA_IMPLEMENTATION",
    "OCFG_ENGINE_LOG_DIR",
    "OCFG_ENGINE_LOG_FORMAT",
    "OCFG_ENGINE_LOG_LEVEL",
    "OCFG_INSTALLPATH",
    "OCFG_LIGHT_MODE",
    "OCFG_LOGIN",
    "OCFG_MAX_JOB_IN_QUEUE",
    "OCFG_MAX_JOB_RUNNING",
    "OCFG_MPI_JOB_TIMEOUT",
    "OCFG_MPI_LOG_DIR",
    "OCFG_MPI_LOG_FORMAT",
    "OCFG_NATIVE_SPECIFICATION",
    "OCFG_PARALLEL_COMMAND",
    "OCFG_PARALLEL_ENV_MPI_BIN",
    "OCFG_PARALLEL_ENV_NODE_FILE",
    "OCFG_PARALLEL_JOB_CATEGORY",
    "OCFG_PARALLEL_PC_MPI",
    "OCFG_PARALLEL_PC_NATIVE",
    "OCFG_PARALLEL_PC_OPEN_MP",
    "OCFG_PATH_TRANSLATION_FILES",
    "OCFG_PYTHON_COMMAND",
    "OCFG_QUEUES",
    "OCFG_REMOVE_ORPHAN_FILES",
    "OCFG_SCDL_CPU_NB",
    "OCFG_SCDL_INTERVAL",
    "OCFG_SCDL_MAX_CPU_NB",
    "OCFG_SCHEDULER_TYPE",
    "OCFG_SERVER_LOG_FILE",
    "OCFG_SERVER_LOG_FORMAT",
    "OCFG_SERVER_LOG_LEVEL",
    "OCFG_SHARED_TEMPORARY_DIR",
    "OCFG_SWF_DIR",
    "PARALLEL_CONFIGURATIONS",
    "PARALLEL_DRMAA_ATTRIBUTES",
    "PARALLEL_JOB_ENV",
    "REMOTE_MODE",
    "Configuration",
    "ConfigurationError",
    "LocalSchedulerCfg",
    "OCFG_SSHPort",
    "WriteOutConfiguration",
    "change_soma_workflow_directory",
    "cpu_count",
    "default_cpu_number",
    "restore_soma_workflow_directory",
]

MODES = [LIGHT_MODE, LOCAL_MODE, REMOTE_MODE]
LOCAL_SCHEDULER = "local_basic"
DRMAA_SCHEDULER = "drmaa"
MPI_SCHEDULER = "mpi"
#: The version of swf's store schema (soma-workflow names its database file after its own).
DB_VERSION = "swf-1"

# -- option names (soma-workflow's constants) --------------------------------------------
CFG_CLUSTER_ADDRESS = "CLUSTER_ADDRESS"
CFG_SUBMITTING_MACHINES = "SUBMITTING_MACHINES"
CFG_DATABASE_FILE = "DATABASE_FILE"
CFG_TRANSFERED_FILES_DIR = "TRANSFERED_FILES_DIR"
CFG_SERVER_NAME = "SERVER_NAME"
OCFG_DRMAA_IMPLEMENTATION = "DRMAA_IMPLEMENTATION"
OCFG_SCHEDULER_TYPE = "SCHEDULER_TYPE"
OCFG_QUEUES = "QUEUES"
OCFG_LOGIN = "LOGIN"
OCFG_INSTALLPATH = "INSTALLPATH"
OCFG_MAX_JOB_IN_QUEUE = "MAX_JOB_IN_QUEUE"
OCFG_MAX_JOB_RUNNING = "MAX_JOB_RUNNING"
OCFG_MPI_JOB_TIMEOUT = "MPI_JOB_TIMEOUT"
OCFG_REMOVE_ORPHAN_FILES = "REMOVE_ORPHAN_FILES"
OCFG_SERVER_LOG_FILE = "SERVER_LOG_FILE"
OCFG_SERVER_LOG_LEVEL = "SERVER_LOG_LEVEL"
OCFG_SERVER_LOG_FORMAT = "SERVER_LOG_FORMAT"
OCFG_ENGINE_LOG_DIR = "ENGINE_LOG_DIR"
OCFG_ENGINE_LOG_LEVEL = "ENGINE_LOG_LEVEL"
OCFG_ENGINE_LOG_FORMAT = "ENGINE_LOG_FORMAT"
OCFG_SHARED_TEMPORARY_DIR = "SHARED_TEMPORARY_DIR"
OCFG_MPI_LOG_FORMAT = "MPI_LOG_FORMAT"
OCFG_MPI_LOG_DIR = "MPI_LOG_DIR"
OCFG_PATH_TRANSLATION_FILES = "PATH_TRANSLATION_FILES"
OCFG_LIGHT_MODE = "LIGHT_MODE"
OCFG_PARALLEL_COMMAND = "drmaa_native_specification"
OCFG_PARALLEL_JOB_CATEGORY = "drmaa_job_category"
PARALLEL_DRMAA_ATTRIBUTES = [OCFG_PARALLEL_COMMAND, OCFG_PARALLEL_JOB_CATEGORY]
OCFG_PARALLEL_PC_MPI = "MPI"
OCFG_PARALLEL_PC_OPEN_MP = "OpenMP"
OCFG_PARALLEL_PC_NATIVE = "native"
PARALLEL_CONFIGURATIONS = [OCFG_PARALLEL_PC_MPI, OCFG_PARALLEL_PC_OPEN_MP, OCFG_PARALLEL_PC_NATIVE]
OCFG_PARALLEL_ENV_MPI_BIN = "PARALLEL_ENV_MPI_BIN"
OCFG_PARALLEL_ENV_NODE_FILE = "PARALLEL_ENV_NODE_FILE"
PARALLEL_JOB_ENV = [OCFG_PARALLEL_ENV_MPI_BIN, OCFG_PARALLEL_ENV_NODE_FILE]
OCFG_NATIVE_SPECIFICATION = "NATIVE_SPECIFICATION"
OCFG_CONTAINER_COMMAND = "CONTAINER_COMMAND"
OCFG_ALLOWED_PYTHON_VERSIONS = "ALLOWED_PYTHON_VERSIONS"
OCFG_PYTHON_COMMAND = "PYTHON_COMMAND"
OCFG_SCDL_CPU_NB = "CPU_NB"
OCFG_SCDL_MAX_CPU_NB = "MAX_CPU_NB"
OCFG_SCDL_INTERVAL = "SCHEDULER_INTERVAL"
OCFG_SWF_DIR = "SOMA_WORKFLOW_DIR"
OCFG_SSHPort = "SSHPort"

ConfigSource = str | os.PathLike[str] | IO[str]


class Configuration:
    """One computing resource's configuration, with soma-workflow's API."""

    QUEUE_LIMITS_CHANGED = 0
    RUNNING_JOBS_LIMITS_CHANGED = 1
    #: Cached answers of the getters of the same names (soma's public attributes).
    parallel_job_config: dict[str, str] | None
    path_translation: dict[str, dict[str, str]] | None

    def __init__(
        self,
        resource_id: str,
        mode: str | None,
        scheduler_type: str | None,
        database_file: str | None,
        transfered_file_dir: str | None,
        submitting_machines: list[str] | None = None,
        cluster_address: str | None = None,
        server_name: str | None = None,
        queues: list[str] | None = None,
        queue_limits: dict[str | None, int] | None = None,
        drmaa_implementation: str | None = None,
        login: str | None = None,
        native_specification: str | None = None,
        sshport: int = 22,
        res_install_path: str | None = None,
        running_jobs_limits: dict[str | None, int] | None = None,
    ) -> None:
        """Built directly (as soma-workflow's isolated mode does), the configuration is
        the given values over this machine's defaults, its state kept beside
        ``database_file``; ``load_from_file`` builds one from a configuration file."""
        self._resource_id = resource_id
        self._explicit: dict[str, Any] = {
            "mode": mode,
            "scheduler_type": scheduler_type,
            "database_file": database_file,
            "transfer_dir": transfered_file_dir,
            "submitting_machines": submitting_machines,
            "cluster_address": cluster_address,
            "login": login,
            "native_specification": native_specification,
            "ssh_port": sshport,
            "install_path": res_install_path,
            "drmaa_implementation": drmaa_implementation,
        }
        self._server_name = server_name
        self._queues: list[str | None] | None = list(queues) if queues else None
        self._queue_limits = dict(queue_limits) if queue_limits else None
        self._running_jobs_limits = dict(running_jobs_limits) if running_jobs_limits else None
        self._queue_limits_disabled = False
        self._resolved: ResourceConfig | None = None
        self._config_path: str | None = None
        self._config_parser: configparser.ConfigParser | None = None
        self._scheduler_config: LocalSchedulerCfg | None = None
        self.parallel_job_config = None
        self.path_translation = None

    # -- construction from a file ----------------------------------------------------

    @classmethod
    def load_from_file(
        cls, resource_id: str | None = None, config_file_path: ConfigSource | None = None
    ) -> Configuration:
        """The configuration of ``resource_id`` (default: soma's choice of a local one) from
        ``config_file_path`` (a path or an open text file; default: ``search_config_path``)."""
        source = config_file_path if config_file_path else cls.search_config_path()
        resolved = _load(source, resource_id)
        config = cls(
            resolved.resource_id,
            resolved.mode,
            resolved.scheduler_type,
            None,
            None,
        )
        config._explicit = {}
        config._resolved = resolved
        if resolved.config_file is not None:
            config._config_path = str(resolved.config_file)
        elif source is not None and not isinstance(source, str | os.PathLike):
            config._config_path = None
        return config

    @classmethod
    def from_resource_config(cls, resolved: ResourceConfig) -> Configuration:
        """A Configuration answering from an already resolved ``ResourceConfig``."""
        config = cls(resolved.resource_id, resolved.mode, resolved.scheduler_type, None, None)
        config._explicit = {}
        config._resolved = resolved
        config._config_path = str(resolved.config_file) if resolved.config_file else None
        return config

    def resource_config(self) -> ResourceConfig:
        """swf's resolved configuration (what ``WorkflowController(config=...)`` uses)."""
        if self._resolved is None:
            self._resolved = self._from_explicit_values()
        return self._resolved

    def _from_explicit_values(self) -> ResourceConfig:
        explicit = self._explicit
        database = explicit.get("database_file")
        state_dir = Path(database).expanduser().absolute().parent if database else None
        base = load_config(None, None, isolated_dir=state_dir) if state_dir else load_config()
        changes: dict[str, Any] = {"resource_id": self._resource_id}
        if database:
            changes["database_url"] = f"sqlite:///{Path(database).expanduser().absolute()}"
        if explicit.get("transfer_dir"):
            changes["transfer_dir"] = Path(explicit["transfer_dir"]).expanduser().absolute()
        mode = explicit.get("mode")
        if mode:
            changes["mode"] = mode
            changes["light_mode"] = mode == LIGHT_MODE
        for field in ("scheduler_type", "cluster_address", "login", "native_specification"):
            if explicit.get(field):
                changes[field] = explicit[field]
        sources = dict(base.sources)
        sources.update({name: "Configuration()" for name in changes})
        return replace(base, sources=sources, **changes)

    # -- locating files and resources ------------------------------------------------

    @staticmethod
    def get_home_dir() -> str:
        home = os.path.expanduser("~")
        return "" if home == "~" else home

    @staticmethod
    def search_config_path() -> ConfigSource | None:
        """The configuration file swf reads (``$SWF_CONFIG``, ``$SOMA_WORKFLOW_CONFIG``,
        ``~/.soma-workflow.cfg``, ``/etc/soma-workflow.cfg``), or None."""
        found = find_config_file()
        return str(found) if found is not None else None

    @staticmethod
    def get_configured_resources(
        config_file_path: str | None = None, filtered: bool = True
    ) -> list[str]:
        """The resource ids of the file's sections (those allowing this Python when
        ``filtered``), plus this machine's id when no section describes it."""
        path = config_file_path or _path_of(Configuration.search_config_path())
        if path is None:
            return [socket.gethostname()]
        document = read_ini(Path(path))
        resources = [
            section
            for section in document.sections
            if not filtered or python_version_allowed(document, section)
        ]
        local = default_resource_id(document)
        if local in local_host_names():
            local = socket.gethostname()
        if local not in resources:
            resources.append(local)
        return resources

    @staticmethod
    def is_local_resource(
        config_parser: configparser.ConfigParser | None, resource_id: str
    ) -> bool:
        """soma-workflow's rule (this machine, light mode, or no cluster option)."""
        if resource_id is None or resource_id in local_host_names():
            return True
        if config_parser is None or not config_parser.has_section(resource_id):
            return False
        light = config_parser.get(resource_id, OCFG_LIGHT_MODE, fallback=None)
        if light is not None and light.strip().lower() in ("1", "yes", "true", "on"):
            return True
        markers = (OCFG_SCHEDULER_TYPE, CFG_SUBMITTING_MACHINES, CFG_CLUSTER_ADDRESS)
        return not any(config_parser.has_option(resource_id, name) for name in markers)

    @staticmethod
    def get_local_resource_id(
        config: Configuration | None = None,
        config_file_path: str | None = None,
        filtered: bool = True,
    ) -> str:
        """The resource used when none is named (soma-workflow's choice)."""
        path = config_file_path
        if config is not None and config._config_path is not None:
            path = config._config_path
        path = path or _path_of(Configuration.search_config_path())
        if path is None:
            return socket.gethostname()
        return default_resource_id(read_ini(Path(path)))

    @staticmethod
    def get_logins(config_file_path: str | None = None) -> dict[str, str | None]:
        """``resource id -> LOGIN`` of every section, this machine's id included."""
        logins: dict[str, str | None] = {}
        if config_file_path is not None:
            parser = _raw_parser(config_file_path)
            for section in parser.sections():
                login = parser.get(section, OCFG_LOGIN, fallback=None)
                logins[section] = os.path.expandvars(login) if login is not None else None
        logins[socket.gethostname()] = None
        return logins

    @staticmethod
    def get_allowed_python_versions(
        config_parser: configparser.ConfigParser, resource_id: str
    ) -> list[int] | None:
        text = config_parser.get(resource_id, OCFG_ALLOWED_PYTHON_VERSIONS, fallback=None)
        if text is None:
            return None
        try:
            return parse_python_versions(text)
        except BadValue as error:
            raise ConfigurationError(
                f"[{resource_id}] {OCFG_ALLOWED_PYTHON_VERSIONS} {error}, got {text!r}"
            ) from None

    @staticmethod
    def is_python_version_matching(
        config_parser: configparser.ConfigParser, resource_id: str
    ) -> bool:
        versions = Configuration.get_allowed_python_versions(config_parser, resource_id)
        return versions is None or sys.version_info.major in versions

    @staticmethod
    def get_python_command(
        config_parser: configparser.ConfigParser, resource_id: str
    ) -> str | None:
        return config_parser.get(resource_id, OCFG_PYTHON_COMMAND, fallback=None)

    # -- getters ---------------------------------------------------------------------

    def get_config_parser(self) -> configparser.ConfigParser | None:
        """The raw options of the file read (uninterpreted), None without a file."""
        if self._config_parser is None and self._config_path is not None:
            self._config_parser = _raw_parser(self._config_path)
        return self._config_parser

    def get_mode(self) -> str:
        return str(self._explicit.get("mode") or self.resource_config().mode)

    def get_scheduler_type(self) -> str:
        return str(self._explicit.get("scheduler_type") or self.resource_config().scheduler_type)

    def get_soma_workflow_dir(self) -> str:
        return str(self.resource_config().state_dir)

    def get_res_install_path(self) -> str | None:
        return self._explicit.get("install_path") or self.resource_config().install_path

    def get_ssh_port(self) -> int:
        return int(self._explicit.get("ssh_port") or self.resource_config().ssh_port)

    def get_submitting_machines(self) -> list[str]:
        machines = self._explicit.get("submitting_machines")
        return list(machines) if machines else list(self.resource_config().submitting_machines)

    def get_cluster_address(self) -> str | None:
        return self.resource_config().cluster_address

    def get_database_file(self) -> str | None:
        """The SQLite file of the store (None when ``DATABASE_URL`` names another database)."""
        database = self.resource_config().database_file
        return str(database) if database is not None else None

    def get_transfered_file_dir(self) -> str:
        return str(self.resource_config().transfer_dir)

    def get_shared_temporary_directory(self) -> str:
        return str(self.resource_config().shared_temporary_dir)

    def get_remove_orphan_files(self) -> bool:
        """swf removes a workflow's files with the workflow; kept for soma's API."""
        text = self.resource_config().unknown.get(OCFG_REMOVE_ORPHAN_FILES)
        return True if text is None else text.strip().lower() in ("1", "yes", "true", "on")

    def get_parallel_job_config(self) -> dict[str, str]:
        if self.parallel_job_config is None:
            self.parallel_job_config = dict(self.resource_config().parallel_job_config)
        return self.parallel_job_config

    def get_drmaa_implementation(self) -> str | None:
        explicit = self._explicit.get("drmaa_implementation")
        return explicit or self.resource_config().drmaa_implementation

    def get_login(self) -> str | None:
        return self.resource_config().login

    def get_native_specification(self) -> str | None:
        return self.resource_config().native_specification

    def get_path_translation(self) -> dict[str, dict[str, str]]:
        """``namespace -> uuid -> path`` from the configured translation files."""
        if self.path_translation is None:
            self.path_translation = translation_table(self.resource_config())
        return self.path_translation

    def get_server_name(self) -> str | None:
        """soma's database server name (swf has no separate database server)."""
        return self._server_name or self.resource_config().unknown.get(CFG_SERVER_NAME)

    def get_queue_limits(self) -> dict[str | None, int]:
        if self._queue_limits_disabled:
            return {}
        if self._queue_limits is None:
            self._queue_limits = dict(self.resource_config().queue_limits)
        return self._queue_limits

    def get_running_jobs_limits(self) -> dict[str | None, int]:
        if self._running_jobs_limits is None:
            self._running_jobs_limits = dict(self.resource_config().running_jobs_limits)
        return self._running_jobs_limits

    def change_queue_limits(self, queue_name: str | None, queue_limit: int) -> None:
        """Set one queue's limit (0: unlimited) for this object; the file is unchanged."""
        _change_limit(self.get_queue_limits(), queue_name, queue_limit)

    def change_running_jobs_limits(self, queue_name: str | None, running_jobs_limit: int) -> None:
        _change_limit(self.get_running_jobs_limits(), queue_name, running_jobs_limit)

    def disable_queue_limits(self) -> None:
        self._queue_limits_disabled = True

    def get_queues(self) -> list[str | None]:
        """``QUEUES`` plus the queues that have limits (None: the default queue), as
        soma-workflow lists them."""
        if self._queues is None:
            resolved = self.resource_config()
            queues: list[str | None] = list(resolved.queues)
            for field in ("queue_limits", "running_jobs_limits"):
                if resolved.sources.get(field, "default") != "default":
                    queues.extend(getattr(resolved, field))
            self._queues = list(dict.fromkeys(queues))
        return self._queues

    def get_engine_log_info(self) -> tuple[str, str, str]:
        """(log directory, log format, log level) of the engine."""
        resolved = self.resource_config()
        return (
            str(resolved.engine_log_dir),
            resolved.engine_log_format,
            resolved.engine_log_level,
        )

    def get_server_log_info(self) -> tuple[str | None, str | None, str | None]:
        """soma's database server logs: swf has no database server."""
        return (None, None, None)

    def get_container_command(self) -> list[str] | None:
        command = self.resource_config().container_command
        return list(command) if command is not None else None

    # -- directories and saving --------------------------------------------------------

    def make_dirs(self, anypath: str, is_file_path: bool = False) -> None:
        directory = os.path.dirname(anypath) if is_file_path else anypath
        os.makedirs(directory, exist_ok=True)

    def mk_config_dirs(self) -> None:
        """Create the state, transfer and log directories of the resource."""
        resolved = self.resource_config()
        for directory in (resolved.state_dir, resolved.transfer_dir, resolved.engine_log_dir):
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)

    def save_to_file(self, config_path: str | None = None) -> None:
        """Does nothing, as in soma-workflow 6.0 (writing would lose the file's comments)."""

    def set_scheduler_config(self, scheduler_config: LocalSchedulerCfg | None) -> None:
        self._scheduler_config = scheduler_config

    def get_scheduler_config(self) -> LocalSchedulerCfg | None:
        return self._scheduler_config


def _load(source: ConfigSource | None, resource_id: str | None) -> ResourceConfig:
    if source is None:
        return load_config(None, resource_id)
    if isinstance(source, str | os.PathLike):
        return load_config(Path(source), resource_id)
    return load_config_text(source.read(), resource_id, source=getattr(source, "name", "<file>"))


def _path_of(source: ConfigSource | None) -> str | None:
    return os.fspath(source) if isinstance(source, str | os.PathLike) else None


def _raw_parser(path: str | os.PathLike[str]) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keep spellings
    parser.read(path)
    return _case_insensitive(parser)


def _case_insensitive(parser: configparser.ConfigParser) -> configparser.ConfigParser:
    """soma-workflow's parser lowercases option names; lookups by any case must work."""
    lowered = configparser.ConfigParser(interpolation=None)
    lowered.read_dict({s: dict(parser.items(s, raw=True)) for s in parser.sections()})
    return lowered


def _change_limit(limits: dict[str | None, int], queue: str | None, limit: int) -> None:
    if limit == 0:
        limits.pop(queue, None)
    else:
        limits[queue] = limit


def cpu_count() -> int:
    """Cores this process may run on (CPU affinity and cgroup cpusets respected)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def default_cpu_number() -> int:
    """0: "use every core", as in soma-workflow 6.0."""
    return 0


class LocalSchedulerCfg:
    """The local scheduler's settings: cores used at once (``proc_nb``), a maximum, and
    the polling interval. ``WorkflowController.scheduler_config`` is one of these; with
    an engine in the client's process, ``set_proc_nb`` changes it live."""

    PROC_NB_CHANGED = 0
    INTERVAL_CHANGED = 1
    MAX_PROC_NB_CHANGED = 2

    def __init__(
        self, proc_nb: int = default_cpu_number(), interval: float = 0.05, max_proc_nb: int = 0
    ) -> None:
        self._proc_nb = proc_nb
        self._max_proc_nb = max_proc_nb
        self._interval = interval
        self._config_path: str | None = None
        #: Called with the new proc_nb (the controller's live engine), or None.
        self.on_proc_nb_change: Any = None

    @classmethod
    def load_from_file(cls, config_file_path: str | None = None) -> LocalSchedulerCfg:
        """This machine's section of soma-workflow's scheduler file."""
        path = config_file_path or cls.search_config_path()
        host = socket.gethostname()
        parser = _raw_parser(path) if path else configparser.ConfigParser()
        if not parser.has_section(host):
            raise ConfigurationError(f"{path}: no section [{host}] for this machine")
        config = cls(
            proc_nb=_int_option(parser, host, OCFG_SCDL_CPU_NB, path),
            interval=float(parser.get(host, OCFG_SCDL_INTERVAL, fallback="0.05")),
            max_proc_nb=_int_option(parser, host, OCFG_SCDL_MAX_CPU_NB, path),
        )
        config._config_path = path
        return config

    @staticmethod
    def search_config_path() -> str | None:
        """``~/.soma-workflow-scheduler.cfg`` or ``/etc/soma-workflow-scheduler.cfg`` when
        it has a section for this machine."""
        home = Configuration.get_home_dir()
        host = socket.gethostname()
        for path in (
            os.path.join(home, ".soma-workflow-scheduler.cfg"),
            "/etc/soma-workflow-scheduler.cfg",
        ):
            if os.path.isfile(path) and _raw_parser(path).has_section(host):
                return path
        return None

    def get_proc_nb(self) -> int:
        return self._proc_nb

    def get_max_proc_nb(self) -> int:
        return self._max_proc_nb

    def get_cpu_count(self) -> int:
        return cpu_count()

    def get_interval(self) -> float:
        return self._interval

    def set_proc_nb(self, proc_nb: int) -> None:
        if type(proc_nb) is not int or proc_nb < 0:
            raise ConfigurationError(
                f"proc_nb must be an int >= 0 (0: every core), not {proc_nb!r}"
            )
        self._proc_nb = proc_nb
        if self.on_proc_nb_change is not None:
            self.on_proc_nb_change(proc_nb or cpu_count())

    def set_max_proc_nb(self, proc_nb: int) -> None:
        self._max_proc_nb = proc_nb

    def set_interval(self, interval: float) -> None:
        self._interval = interval

    def save_to_file(self, config_path: str | None = None) -> None:
        """Write this machine's section of soma-workflow's scheduler file."""
        path = config_path or self._config_path or self.search_config_path()
        if path is None:
            path = os.path.join(Configuration.get_home_dir(), ".soma-workflow-scheduler.cfg")
        parser = configparser.ConfigParser(interpolation=None)
        parser.read(path)
        host = socket.gethostname()
        if not parser.has_section(host):
            parser.add_section(host)
        parser.set(host, OCFG_SCDL_CPU_NB, str(self._proc_nb))
        parser.set(host, OCFG_SCDL_INTERVAL, str(self._interval))
        parser.set(host, OCFG_SCDL_MAX_CPU_NB, str(self._max_proc_nb))
        WriteOutConfiguration(parser, path)


def _int_option(parser: configparser.ConfigParser, host: str, option: str, path: Any) -> int:
    text = parser.get(host, option, fallback="0")
    try:
        return int(text)
    except ValueError:
        raise ConfigurationError(
            f"{path}: [{host}] {option} must be an int, got {text!r}"
        ) from None


def WriteOutConfiguration(config_parser: configparser.ConfigParser, config_path: str) -> None:
    """Write ``config_parser`` to ``config_path`` (soma-workflow's helper)."""
    with open(config_path, "w") as stream:
        config_parser.write(stream)


def change_soma_workflow_directory(directory: str, config_name: str | None = None) -> None:
    """Until ``restore_soma_workflow_directory``, keep every state of this process's
    controllers in ``directory`` (soma-workflow's test isolation helper)."""
    from swf_entry.client import WorkflowController

    section = config_name or socket.gethostname()
    text = f"[{section}]\n{OCFG_SWF_DIR} = {directory}\n"
    if "_old_search_config_path" not in vars(Configuration):
        Configuration._old_search_config_path = Configuration.search_config_path  # type: ignore[attr-defined]
    Configuration.search_config_path = staticmethod(lambda: io.StringIO(text))  # type: ignore[method-assign]
    WorkflowController.isolated_light_mode = directory


def restore_soma_workflow_directory() -> None:
    """Undo ``change_soma_workflow_directory``."""
    from swf_entry.client import WorkflowController

    previous = vars(Configuration).get("_old_search_config_path")
    if previous is not None:
        Configuration.search_config_path = previous  # type: ignore[method-assign]
        del Configuration._old_search_config_path  # type: ignore[attr-defined]
        WorkflowController.isolated_light_mode = None
