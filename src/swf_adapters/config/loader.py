"""Building a :class:`ResourceConfig` from a file, the environment and defaults.

Precedence for each option: ``SWF_<OPTION>`` environment variable, then the resource's
section (``DEFAULT`` included), then the default. ``isolated_dir`` (soma-workflow's
"isolated light mode") wins over all of them for where state lives, and with no explicit
``path`` no configuration file is read at all, so tests and embedded uses are hermetic.

Loading has no side effect: no directory is created here (the engine does it).
"""

from __future__ import annotations

import os
import re
import socket
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

from swf_domain.errors import ConfigurationError

from . import options as opt
from .ini import ENV_SOURCE_PREFIX, IniDocument, RawValue, parse_ini, read_ini
from .locate import (
    default_resource_id,
    find_config_file,
    home_directory,
    is_local_resource,
    local_host_names,
    resolve_section,
)
from .resource import (
    DEFAULT_ENGINE_IDLE_TIMEOUT,
    DEFAULT_ENGINE_LOG_FORMAT,
    DEFAULT_ENGINE_LOG_LEVEL,
    DEFAULT_SSH_PORT,
    LIGHT_MODE,
    LOCAL_MODE,
    REMOTE_MODE,
    ResourceConfig,
)
from .values import (
    BadValue,
    expand_path_text,
    expand_variables,
    parse_bool,
    parse_command,
    parse_int,
    parse_log_level,
    parse_python_versions,
    parse_queue_limits,
    parse_scheduler_type,
    parse_seconds,
    parse_translation_files,
    parse_words,
)

T = TypeVar("T")

RESOURCE_VARIABLE = "SWF_RESOURCE_ID"
#: soma-workflow's separate local scheduler file, read for ``CPU_NB`` of this machine.
SCHEDULER_CONFIG_NAME = ".soma-workflow-scheduler.cfg"
SYSTEM_SCHEDULER_CONFIG_FILES: tuple[Path, ...] = (Path("/etc/soma-workflow-scheduler.cfg"),)
STATE_ROOT_NAME = ".swf"
DATABASE_NAME = "swf.db"
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://")
_UNSAFE_IN_DIRECTORY_NAME = re.compile(r"[^A-Za-z0-9._@+-]")
_ISOLATED = "isolated_dir"


def load_config(
    path: Path | None = None,
    resource_id: str | None = None,
    *,
    env: Mapping[str, str] | None = None,
    isolated_dir: Path | None = None,
) -> ResourceConfig:
    """The configuration of ``resource_id`` (default: soma-workflow's choice of local one).

    ``path`` None means "look it up" (:func:`find_config_file`), except with
    ``isolated_dir``, which reads no file unless one is given. Raises
    :class:`ConfigurationError` naming file, section, option and value on bad input;
    warns :class:`UnknownOptionWarning` for options nobody knows.
    """
    environ: Mapping[str, str] = os.environ if env is None else env
    if path is None and isolated_dir is None:
        path = find_config_file(environ)
    document = read_ini(Path(path)) if path is not None else None
    return _build(document, resource_id, environ, isolated_dir)


def load_config_text(
    text: str,
    resource_id: str | None = None,
    *,
    env: Mapping[str, str] | None = None,
    source: str = "<string>",
) -> ResourceConfig:
    """Like :func:`load_config` for configuration text (``source`` names it in messages)."""
    environ: Mapping[str, str] = os.environ if env is None else env
    return _build(parse_ini(text, Path(source)), resource_id, environ, None)


def _build(
    document: IniDocument | None,
    resource_id: str | None,
    env: Mapping[str, str],
    isolated_dir: Path | None,
) -> ResourceConfig:
    requested = resource_id or env.get(RESOURCE_VARIABLE) or default_resource_id(document)
    section = _section_for(document, requested)
    canonical = section or (socket.gethostname() if requested in local_host_names() else requested)
    settings = _Settings(document, section, env)
    settings.warn_unknown()
    builder = _Builder(settings, canonical, requested, env, isolated_dir)
    return builder.build()


def _section_for(document: IniDocument | None, requested: str) -> str | None:
    """The section of ``requested``; only this machine may go without one."""
    section = resolve_section(document, requested)
    if section is not None or requested in local_host_names():
        return section
    if document is None:
        raise ConfigurationError(
            f"resource {requested!r}: no configuration file found (looked at $SWF_CONFIG, "
            "$SOMA_WORKFLOW_CONFIG, ~/.soma-workflow.cfg, /etc/soma-workflow.cfg); one with "
            f"a [{requested}] section is needed to use a resource other than this machine"
        )
    known = ", ".join(document.sections) or "none"
    raise ConfigurationError(
        f"{document.path}: no section [{requested}] for resource {requested!r} (sections: {known})"
    )


class _Settings:
    """Option lookup with environment overrides, remembering where each value came from."""

    def __init__(self, document: IniDocument | None, section: str | None, env: Mapping[str, str]):
        self.document = document
        self.section = section
        self.env = env

    def raw(self, option: str) -> RawValue | None:
        variable = opt.env_variable(option)
        if variable in self.env:
            return RawValue(option, self.env[variable], f"{ENV_SOURCE_PREFIX}{variable}")
        if self.document is None or self.section is None:
            return None
        return self.document.value(self.section, option.lower())

    def typed(self, option: str, parse: Callable[[str], T]) -> tuple[T, str] | None:
        """``(value, source)`` of an option, or None when it is not set anywhere."""
        raw = self.raw(option)
        if raw is None:
            return None
        try:
            return parse(raw.text), raw.location
        except BadValue as exc:
            raise ConfigurationError(f"{raw.location}: {option} {exc}, got {raw.text!r}") from None

    def config_directory(self) -> Path | None:
        return self.document.path.parent if self.document is not None else None

    def kept(self) -> dict[str, str]:
        """Options swf does not interpret, as written (no interpolation: never fails)."""
        if self.document is None or self.section is None:
            return {}
        typed = {name.lower() for name in opt.SOMA_TYPED_OPTIONS + opt.SWF_OPTIONS}
        document, section = self.document, self.section
        return {
            document.spelling(section, key): document.raw_text(section, key) or ""
            for key in document.keys(section)
            if key not in typed
        }

    def warn_unknown(self) -> None:
        if self.document is None or self.section is None:
            return
        for key in self.document.keys(self.section):
            if opt.canonical_name(key) is not None or self.document.inherited(self.section, key):
                continue  # DEFAULT holds interpolation helpers, a documented INI idiom
            name = self.document.spelling(self.section, key)
            hint = opt.suggestion(key)
            advice = f"; did you mean {hint}?" if hint else ""
            warnings.warn(
                opt.UnknownOptionWarning(
                    f"{self.document.option_location(self.section, key)}: unknown option "
                    f"{name!r} (neither soma-workflow nor swf knows it), kept but not "
                    f"used{advice}"
                ),
                stacklevel=4,
            )


class _Builder:
    """Resolves every field in dependency order (state_dir before the paths under it)."""

    def __init__(
        self,
        settings: _Settings,
        resource_id: str,
        requested: str,
        env: Mapping[str, str],
        isolated_dir: Path | None,
    ) -> None:
        self.s = settings
        self.resource_id = resource_id
        self.requested = requested
        self.env = env
        self.home = home_directory(env)
        self.isolated_dir = Path(isolated_dir).absolute() if isolated_dir is not None else None
        self.values: dict[str, object] = {}
        self.sources: dict[str, str] = {}

    def build(self) -> ResourceConfig:
        self._identity()
        self._scheduling()
        self._paths()
        self._logging()
        self._batch()
        self._remote()
        self._set("parallel_job_config", self._parallel_job_config(), "default")
        self._set("unknown", self.s.kept(), "default")
        return ResourceConfig(sources=self.sources, **self.values)  # type: ignore[arg-type]

    # -- helpers ---------------------------------------------------------------------

    def _set(self, field: str, value: object, source: str) -> None:
        self.values[field] = value
        self.sources[field] = source

    def _option(self, field: str, option: str, parse: Callable[[str], T], default: T) -> T:
        found = self.s.typed(option, parse)
        value, source = found if found is not None else (default, "default")
        self._set(field, value, source)
        return value

    def _text(self, field: str, option: str, *, expand: bool = False) -> str | None:
        def parse(text: str) -> str | None:
            text = text.strip()
            if expand:
                text = expand_variables(text, self.env)
            return text or None

        return self._option(field, option, parse, None)

    def _path(self, option: str) -> tuple[Path, str] | None:
        """A path option: variables and ``~`` expanded, relative to the file's directory."""
        raw = self.s.raw(option)
        if raw is None:
            return None
        text = expand_path_text(raw.text, self.env, self.home)
        if not text:
            raise ConfigurationError(f"{raw.location}: {option} must not be empty")
        path = Path(text)
        base = None if raw.from_environment else self.s.config_directory()
        if not path.is_absolute():
            path = (base / path) if base is not None else path.absolute()
        return path, raw.location

    # -- groups of fields ------------------------------------------------------------

    def _identity(self) -> None:
        source = "default"
        if self.requested != self.resource_id:
            source = f"requested {self.requested!r}, an alias of this machine"
        self._set("resource_id", self.resource_id, source)
        document = self.s.document
        self._set("config_file", document.path if document else None, "default")
        local = is_local_resource(document, self.s.section or self.requested)
        self._option(
            "scheduler_type",
            "SCHEDULER_TYPE",
            parse_scheduler_type,
            "local_basic" if local else "drmaa",
        )
        light = self._option("light_mode", "LIGHT_MODE", parse_bool, local)
        machines = self._option(
            "submitting_machines",
            "SUBMITTING_MACHINES",
            lambda text: [expand_variables(m, self.env) for m in parse_words(text)],
            _no_words(),
        )
        mode = _mode(light, machines)
        self._set("mode", mode, self.sources["light_mode"])

    def _scheduling(self) -> None:
        cpu_nb = self._cpu_nb()
        scheduler = self.values["scheduler_type"]
        running = dict(
            self._option("running_jobs_limits", "MAX_JOB_RUNNING", parse_queue_limits, _no_limits())
        )
        if None in running:
            self._set("max_job_running", running[None], self.sources["running_jobs_limits"])
        elif scheduler == "local_basic":
            running[None] = cpu_nb
            self._set("max_job_running", cpu_nb, "default (cpu_nb)")
        else:
            self._set("max_job_running", None, "default")
        self.values["running_jobs_limits"] = running
        in_queue = self._option(
            "queue_limits", "MAX_JOB_IN_QUEUE", parse_queue_limits, _no_limits()
        )
        queues = self._option("queues", "QUEUES", parse_words, _no_words())
        limited = [q for q in [*running, *in_queue] if q is not None]
        self.values["queues"] = list(dict.fromkeys([*queues, *limited]))
        self._option("container_command", "CONTAINER_COMMAND", self._command, None)
        self._option("max_attempts", "MAX_ATTEMPTS", lambda t: parse_int(t, minimum=1), 1)
        self._text("native_specification", "NATIVE_SPECIFICATION")
        self._translation_files()

    def _cpu_nb(self) -> int:
        found = self.s.typed("CPU_NB", lambda text: parse_int(text, minimum=0))
        if found is None and self.values["scheduler_type"] == "local_basic":
            found = self._scheduler_file_cpu_nb()
        value, source = found if found is not None else (0, "default")
        if value == 0:
            value = _detected_cpus()
            source = "default (cores of this machine)" if source == "default" else source
        self._set("cpu_nb", value, source)
        return value

    def _scheduler_file_cpu_nb(self) -> tuple[int, str] | None:
        """soma-workflow keeps ``CPU_NB`` of this machine in a separate scheduler file."""
        if self.isolated_dir is not None and self.s.document is None:
            return None
        candidates = [Path(self.home) / SCHEDULER_CONFIG_NAME, *SYSTEM_SCHEDULER_CONFIG_FILES]
        hostname = socket.gethostname()
        for candidate in candidates:
            if not candidate.is_file():
                continue
            document = read_ini(candidate)
            if not document.has_section(hostname):
                continue
            raw = document.value(hostname, "cpu_nb")
            if raw is None:
                return None
            try:
                return parse_int(raw.text, minimum=0), raw.location
            except BadValue as exc:
                raise ConfigurationError(
                    f"{raw.location}: CPU_NB {exc}, got {raw.text!r}"
                ) from None
        return None

    def _command(self, text: str) -> list[str]:
        return [expand_variables(word, self.env) for word in parse_command(text)]

    def _translation_files(self) -> None:
        found = self.s.typed("PATH_TRANSLATION_FILES", parse_translation_files)
        if found is None:
            self._set("path_translation_files", {}, "default")
            return
        files, source = found
        base = None if source.startswith(ENV_SOURCE_PREFIX) else self.s.config_directory()
        resolved: dict[str, list[Path]] = {}
        for namespace, names in files.items():
            for name in names:
                path = Path(expand_path_text(name, self.env, self.home))
                if not path.is_absolute():
                    path = (base / path) if base is not None else path.absolute()
                resolved.setdefault(namespace, []).append(path)
        self._set("path_translation_files", resolved, source)

    def _paths(self) -> None:
        state_dir = self._state_dir()
        self._database_url(state_dir)
        transfer = self._dir("transfer_dir", "TRANSFERED_FILES_DIR", "transfered_files")
        shared = self.s.raw("SHARED_TEMPORARY_DIR")
        if shared is not None and not shared.text.strip():
            self._set("shared_temporary_dir", transfer, shared.location)  # soma's fallback
        else:
            self._dir("shared_temporary_dir", "SHARED_TEMPORARY_DIR", "tmp", isolatable=False)

    def _state_dir(self) -> Path:
        if self.isolated_dir is not None:
            self._set("state_dir", self.isolated_dir, _ISOLATED)
            return self.isolated_dir
        found = self._path("STATE_DIR") or self._path("SOMA_WORKFLOW_DIR")
        if found is None:
            safe = _UNSAFE_IN_DIRECTORY_NAME.sub("_", self.resource_id)
            found = (Path(self.home) / STATE_ROOT_NAME / safe, "default")
        self._set("state_dir", found[0], found[1])
        return found[0]

    def _database_url(self, state_dir: Path) -> None:
        if self.isolated_dir is not None:
            self._set("database_url", f"sqlite:///{state_dir / DATABASE_NAME}", _ISOLATED)
            return
        url = self.s.raw("DATABASE_URL")
        if url is not None:
            text = expand_variables(url.text.strip(), self.env)
            if not _URL.match(text):
                raise ConfigurationError(
                    f"{url.location}: DATABASE_URL must be an SQLAlchemy URL like "
                    f"'sqlite:////path/swf.db' or 'postgresql+psycopg://user@host/db', "
                    f"got {url.text!r}"
                )
            self._set("database_url", text, url.location)
            return
        file = self._path("DATABASE_FILE")
        if file is not None:
            self._set("database_url", f"sqlite:///{file[0]}", file[1])
            return
        self._set("database_url", f"sqlite:///{state_dir / DATABASE_NAME}", "default")

    def _dir(self, field: str, option: str, default_name: str, *, isolatable: bool = True) -> Path:
        """A directory option: isolated, configured, or a default under state_dir."""
        state_dir = self.values["state_dir"]
        assert isinstance(state_dir, Path)
        if self.isolated_dir is not None and isolatable:
            self._set(field, self.isolated_dir / default_name, _ISOLATED)
            return self.isolated_dir / default_name
        found = self._path(option)
        path, source = found if found is not None else (state_dir / default_name, "default")
        self._set(field, path, source)
        return path

    def _logging(self) -> None:
        # The engine daemon writes engine.log in its state directory: name that by default.
        self._dir("engine_log_dir", "ENGINE_LOG_DIR", "")
        self._option(
            "engine_log_level", "ENGINE_LOG_LEVEL", parse_log_level, DEFAULT_ENGINE_LOG_LEVEL
        )
        self._option(
            "engine_log_format",
            "ENGINE_LOG_FORMAT",
            lambda text: text.strip() or DEFAULT_ENGINE_LOG_FORMAT,
            DEFAULT_ENGINE_LOG_FORMAT,
        )
        timeout = self._option(
            "engine_idle_timeout", "ENGINE_IDLE_TIMEOUT", parse_seconds, DEFAULT_ENGINE_IDLE_TIMEOUT
        )
        if timeout == 0:
            self.values["engine_idle_timeout"] = None

    def _batch(self) -> None:
        """Batch schedulers (SLURM...): where job files live, how often the queue is read."""
        self._dir("job_dir", "JOB_DIR", "jobs")
        low = self._option("poll_interval_min", "POLL_INTERVAL_MIN", parse_seconds, 0.5)
        high = self._option("poll_interval_max", "POLL_INTERVAL_MAX", parse_seconds, 10.0)
        if low <= 0 or high < low:
            raise ConfigurationError(
                f"resource {self.resource_id!r}: POLL_INTERVAL_MIN ({low}) must be above 0"
                f" and at most POLL_INTERVAL_MAX ({high})"
            )

    def _remote(self) -> None:
        self._text("cluster_address", "CLUSTER_ADDRESS", expand=True)
        self._text("login", "LOGIN", expand=True)
        self._option(
            "ssh_port",
            "SSHPort",
            lambda t: parse_int(t, minimum=1, maximum=65535),
            DEFAULT_SSH_PORT,
        )
        self._text("install_path", "INSTALLPATH", expand=True)
        self._ssh_login()
        self._option(
            "allowed_python_versions", "ALLOWED_PYTHON_VERSIONS", parse_python_versions, None
        )
        self._text("python_command", "PYTHON_COMMAND")
        self._text("drmaa_implementation", "DRMAA_IMPLEMENTATION")
        self._option("mpi_job_timeout", "MPI_JOB_TIMEOUT", lambda t: parse_int(t, minimum=1), None)

    def _ssh_login(self) -> None:
        key = self._path("SSH_KEY_FILE")
        self._set("ssh_key_file", key[0] if key else None, key[1] if key else "default")
        known = self._path("SSH_KNOWN_HOSTS")
        default_known = Path(self.home) / ".ssh" / "known_hosts"
        self._set("ssh_known_hosts", *(known or (default_known, "default")))
        self._text("ssh_host_key", "SSH_HOST_KEY")

    def _parallel_job_config(self) -> dict[str, str]:
        found: dict[str, str] = {}
        for option in opt.PARALLEL_JOB_OPTIONS:
            raw = self.s.raw(option)
            if raw is not None:
                found[option] = raw.text.strip()
        return found


def _no_words() -> list[str]:
    return []


def _no_limits() -> dict[str | None, int]:
    return {}


def _mode(light: bool, submitting_machines: list[str]) -> str:
    """soma-workflow's mode: remote only when the submitting machines are elsewhere."""
    if light:
        return LIGHT_MODE
    if submitting_machines and not set(submitting_machines) & set(local_host_names()):
        return REMOTE_MODE
    return LOCAL_MODE


def _detected_cpus() -> int:
    """Cores this process may run on (CPU affinity, cgroup cpusets), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)
