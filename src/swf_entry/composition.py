"""The composition root: the one place that picks and wires adapters.

Two ways to reach an engine, chosen from the configuration:
- embedded ("light" mode): the engine thread runs in the client process; used by
  ``isolated_light_mode``, an explicit ``LIGHT_MODE`` configuration, and ``swf run --embedded``;
- local daemon (soma's "local" mode, the default): a detached engine process per state
  directory, started on demand, reached over Pyro5 on a private Unix socket.

Both hand the facade the same ``EngineLink``, so every mode passes the same tests.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from swf_adapters.config import ResourceConfig, load_config, translation_table
from swf_app.link import EngineLink
from swf_domain.errors import (
    ConfigurationError,
    EngineError,
    KeyPassphraseError,
    RemoteAuthenticationError,
)

if TYPE_CHECKING:
    from swf_adapters.schedulers.registry import SchedulerFactory
    from swf_adapters.transport.pyro.client import PyroEngineLink
    from swf_app.ports import Scheduler
    from swf_app.queries import QueryService
    from swf_app.service import EngineService
    from swf_entry.embedded import EmbeddedLink
    from swf_entry.transfers import FacadeTransfers

# The store, engine and scheduler (SQLAlchemy and friends) are imported where they are
# built: a CLI command that talks to the daemon never needs them, and importing them
# costs more CPU than the command itself.


@dataclass(frozen=True, slots=True)
class Credentials:
    """How ``WorkflowController(resource_id, login, password, rsa_key_pass=...)`` logs into
    a remote resource (each None: the configuration's LOGIN / SSH_KEY_FILE, the agent)."""

    login: str | None = None
    password: str | None = None
    rsa_key_pass: str | None = None


@dataclass(frozen=True, slots=True)
class ClientOptions:
    """What a client (CLI, facade) says about where its engine is."""

    resource_id: str | None = None
    config_file: Path | None = None
    #: Keep everything (database, engine, job files) in this directory.
    home: Path | None = None
    #: Cores for this client's engine (``swf run -j``), over CPU_NB; embedded engines only.
    cpu_nb: int | None = None
    #: Asks the user for the SSH password of a remote resource that refused the login
    #: without one (the CLI on a terminal); None: the refusal stands.
    ask_password: Callable[[str], str] | None = None


# -- configuration ---------------------------------------------------------------------


def resource_config(options: ClientOptions) -> ResourceConfig:
    """The resource configuration a client with ``options`` uses."""
    config = load_config(options.config_file, options.resource_id, isolated_dir=options.home)
    if options.cpu_nb is None:
        return config
    limits = {**config.running_jobs_limits, None: options.cpu_nb}
    sources = {**config.sources, "cpu_nb": "-j", "max_job_running": "-j"}
    return replace(
        config,
        cpu_nb=options.cpu_nb,
        max_job_running=options.cpu_nb,
        running_jobs_limits=limits,
        sources=sources,
    )


def describe_config(options: ClientOptions) -> dict[str, Any]:
    """``swf config show``: the file, the resource, and each value with its origin."""
    config = resource_config(options)
    values = {
        field.name: {
            "value": _plain(getattr(config, field.name)),
            "source": config.sources.get(field.name, "default"),
        }
        for field in fields(config)
        if field.name not in ("sources", "unknown")
    }
    values["config_file"]["source"] = _config_file_source(options, config)
    return {
        "file": str(config.config_file) if config.config_file else None,
        "resource": config.resource_id,
        "values": values,
        "unknown_options": dict(config.unknown),
    }


def _config_file_source(options: ClientOptions, config: ResourceConfig) -> str:
    """How the file was chosen: ``--config``, an environment variable, or the lookup."""
    if config.config_file is None:
        return "default (no file found)"
    if options.config_file is not None:
        return "--config"
    for variable in ("SWF_CONFIG", "SOMA_WORKFLOW_CONFIG"):
        value = os.environ.get(variable)
        if value and Path(value).expanduser() == config.config_file:
            return f"env {variable}"
    return "default location"


def _plain(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


# -- engine construction ---------------------------------------------------------------


def _check_supported(
    config: ResourceConfig, scheduler_given: bool = False
) -> SchedulerFactory | None:
    """The resource's scheduler factory, once it is known that it can run here (None
    when the caller brings its own scheduler: the MPI runner)."""
    from swf_adapters.schedulers.registry import scheduler_factory

    if config.mode == "remote":
        raise ConfigurationError(
            f"resource {config.resource_id!r} is remote (SUBMITTING_MACHINES elsewhere): its"
            " engine runs there, reached over SSH, not on this machine"
        )
    if config.scheduler_type == "mpi" and not scheduler_given:
        raise ConfigurationError(
            f"resource {config.resource_id!r} (SCHEDULER_TYPE mpi) runs its engine inside an"
            " MPI allocation: start it with `mpirun -n K swf mpi-run WORKFLOW_FILE`"
        )
    if scheduler_given:
        return None
    factory = scheduler_factory(config.scheduler_type)
    availability = factory.can_run_here()
    if not availability.ok:
        raise ConfigurationError(
            f"resource {config.resource_id!r}: SCHEDULER_TYPE {config.scheduler_type!r} cannot"
            f" run on this machine: {availability.reason}"
        )
    return factory


def _soma_plugins_get_soma_configurations() -> None:
    """A soma-workflow scheduler plugin's ``build_scheduler`` is handed soma's
    ``Configuration`` (with its getters), as in soma-workflow."""
    from swf_adapters.schedulers import soma_plugin
    from swf_entry.configuration import Configuration

    soma_plugin.configuration_for = Configuration.from_resource_config


def build_service(
    config: ResourceConfig,
    link_class: type[EngineService] | None = None,
    scheduler: Scheduler | None = None,
    commit_window: float | None = None,
) -> EngineService:
    """An engine (started) and its service for ``config``: store, scheduler (from the
    registry unless given: the MPI runner brings its own), workspace. ``commit_window``:
    seconds the engine may group its store writes (None: the engine's default; the MPI
    runner writes less often, its readers see changes that much later)."""
    from swf_adapters.store import open_store
    from swf_adapters.transfer.area import LocalTransferArea
    from swf_adapters.workspace.local import LocalWorkspace
    from swf_adapters.workspace.output_reader import LocalOutputReader
    from swf_app.engine import DEFAULT_COMMIT_WINDOW, Engine
    from swf_app.service import EngineService
    from swf_app.system_clock import SystemClock
    from swf_domain.translation import TranslationTable

    factory = _check_supported(config, scheduler_given=scheduler is not None)
    config.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    store = open_store(config.database_url)
    clock = SystemClock()
    # The MPI runner lifts the job limits, as soma-workflow's did: its capacity is the
    # allocation's, which the scheduler it brings knows.
    limited = scheduler is None
    if factory is not None:
        _soma_plugins_get_soma_configurations()
        scheduler = factory.create(config)
    assert scheduler is not None
    translations = TranslationTable.from_namespaces(translation_table(config))
    transfers = LocalTransferArea(config.transfer_dir)
    engine = Engine(
        store,
        scheduler,
        clock,
        LocalWorkspace(
            config.state_dir,
            [file for file in [config.database_file] if file],
            open_areas=[config.transfer_dir],
        ),
        max_running_jobs=config.running_jobs_limits if limited else None,
        max_queued_jobs=config.queue_limits if limited else None,
        translations=translations,
        transfers=transfers,
        default_attempts=config.max_attempts,
        commit_window=DEFAULT_COMMIT_WINDOW if commit_window is None else commit_window,
    )
    engine.start()
    return (link_class or EngineService)(
        store, engine, clock, output=LocalOutputReader(), transfers=transfers
    )


def build_engine_service(
    state_dir: Path, config_file: Path | None, resource_id: str | None
) -> EngineService:
    """The daemon's factory (``swf_entry.daemon --factory``): the service for ``state_dir``."""
    service = build_service(daemon_config(state_dir, config_file, resource_id))
    service.freeze_kept_models = True  # the daemon's own process: see EngineService
    return service


def daemon_config(
    state_dir: Path, config_file: Path | None, resource_id: str | None
) -> ResourceConfig:
    """The configuration the daemon of ``state_dir`` runs with, and its clients read.

    The configured one (its DATABASE_URL included) when its state lives in ``state_dir``;
    otherwise (``--home`` / isolated clients) the same one forced into that directory.
    """
    config = load_config(config_file, resource_id)
    if config.state_dir.expanduser().resolve() == state_dir.expanduser().resolve():
        return config
    return load_config(config_file, resource_id, isolated_dir=state_dir)


# -- connecting ------------------------------------------------------------------------


def _isolated_dir(isolated: bool | str | os.PathLike[str]) -> Path:
    if isolated is True:
        return Path(tempfile.mkdtemp(prefix="swf-isolated-"))
    return Path(os.fspath(isolated)).expanduser()  # type: ignore[arg-type]


def _wants_embedded(config: ResourceConfig) -> bool:
    """soma-workflow makes every local resource "light"; swf defaults to the daemon, so
    only an explicit LIGHT_MODE in the configuration embeds the engine."""
    return config.light_mode and config.sources.get("light_mode", "default") != "default"


def connect_config(
    config: ResourceConfig,
    embedded: bool,
    temporary: bool = False,
    credentials: Credentials | None = None,
) -> EngineLink:
    """A link to the engine of ``config``, embedded or through the local daemon (or, for a
    state directory an MPI runner drives, through the files they share; for a remote
    resource, over SSH). ``temporary``: the state directory is a throwaway one
    (``isolated_light_mode=True``) that goes with the link."""
    if temporary:
        return _temporary_link(config)
    if config.mode == "remote" and not embedded:
        return _remote_link(config, credentials or Credentials())
    if config.scheduler_type == "mpi" or _runner_bound(config):
        return _runner_link(config)
    _check_supported(config)
    if embedded:
        return _embedded_link(config)
    from swf_entry.split_link import SplitLink

    commands = _daemon_link(config)
    # Both links serve the operations table generically (``__getattr__``): the casts tell
    # the type checker what the table guarantees.
    split = SplitLink(
        partial(_client_queries, config), cast(EngineLink, commands), keep_alive=commands.ping
    )
    return cast(EngineLink, split)


def _remote_link(config: ResourceConfig, credentials: Credentials) -> EngineLink:
    """The engine on the remote resource, over SSH (started there if none answers).

    Every call goes to the remote daemon, which answers queries on its Pyro worker
    threads (each with its own store connection), never on the engine's thread."""
    from swf_adapters.config.remote import remote_host, remote_python, remote_side_options
    from swf_adapters.transport.ssh import SshTarget
    from swf_adapters.transport.ssh.connector import RemoteEngineSpec
    from swf_adapters.transport.ssh.link import remote_engine_link

    target = SshTarget(
        host=remote_host(config),
        port=config.ssh_port,
        login=credentials.login or config.login,
        password=credentials.password,
        key_file=config.ssh_key_file,
        key_passphrase=credentials.rsa_key_pass,
        known_hosts=config.ssh_known_hosts,
        accept_host_key=config.ssh_host_key,
    )
    spec = RemoteEngineSpec(
        config.resource_id,
        python=remote_python(config),
        install_path=config.install_path,
        options=remote_side_options(config),
    )
    return cast(EngineLink, remote_engine_link(target, spec))


def _daemon_link(config: ResourceConfig) -> PyroEngineLink:
    """The command link to the daemon of ``config`` (started first if none answers)."""
    from swf_adapters.transport.pyro.local_daemon import local_engine_link

    idle = config.engine_idle_timeout
    return local_engine_link(
        config.state_dir,
        idle_timeout=idle if idle is not None else 0.0,
        config_file=config.config_file,
        resource_id=config.resource_id,
    )


def _client_queries(config: ResourceConfig) -> tuple[QueryService, Callable[[], None]]:
    """Queries read in this process (monitors polling big workflows would starve the
    daemon), from the database the daemon writes: the one build_engine_service opens."""
    from swf_adapters.store import open_store
    from swf_adapters.transfer.area import LocalTransferArea
    from swf_adapters.workspace.output_reader import LocalOutputReader
    from swf_app.queries import QueryService

    resolved = daemon_config(config.state_dir, config.config_file, config.resource_id)
    store = open_store(resolved.database_url)
    transfers = LocalTransferArea(resolved.transfer_dir)
    return QueryService(store, output=LocalOutputReader(), transfers=transfers), store.close


class _StartedOnDemand:
    """A daemon command link made (the engine started) only at the first command."""

    def __init__(self, config: ResourceConfig) -> None:
        self._config = config
        self._link: EngineLink | None = None

    def __getattr__(self, name: str) -> Any:
        if self._link is None:
            self._link = _daemon_link(self._config)
        return getattr(self._link, name)

    def close(self) -> None:
        if self._link is not None:
            self._link.close()


def open_reader(options: ClientOptions) -> tuple[Any, int | None]:
    """A WorkflowController for read-only commands, and the pid of an engine it started.

    A read-only command starts no engine that would have nothing to do: when none runs and
    every workflow has ended, it reads the store alone. An unfinished workflow needs its
    engine (to follow jobs that ended meanwhile), so then one is started, as any client
    would, and its pid returned so that the command can say so.
    """
    from swf_adapters.transport.pyro.local_daemon import live_endpoint
    from swf_entry.client import WorkflowController
    from swf_entry.split_link import SplitLink

    config = resource_config(options)
    if config.mode == "remote":
        return open_controller(options), None
    if config.scheduler_type == "mpi" or _runner_bound(config):
        return open_controller(options), None  # the runner's store, read as it is
    _check_supported(config)
    if _wants_embedded(config) or live_endpoint(config.state_dir) is not None:
        return open_controller(options), None
    split = SplitLink(partial(_client_queries, config), cast(EngineLink, _StartedOnDemand(config)))
    reader = cast(EngineLink, split)
    if not _unfinished(reader):
        return WorkflowController.from_link(reader), None
    reader.close()
    controller = open_controller(options)
    started = live_endpoint(config.state_dir)
    return controller, started.pid if started is not None else None


def _unfinished(link: EngineLink) -> list[int]:
    return [wid for wid in link.workflows() if link.workflow_status(wid) != "workflow_done"]


def _runner_bound(config: ResourceConfig) -> bool:
    from swf_adapters.transport.filedrop import read_runner

    return read_runner(config.state_dir) is not None


def _runner_link(config: ResourceConfig) -> EngineLink:
    """Queries read the store here; commands are dropped for the runner (``swf mpi-run``)
    that drives the state directory: no local engine is ever started for it."""
    from swf_adapters.store import open_store
    from swf_adapters.transport.filedrop import ControlLayout, FileDropLink
    from swf_adapters.workspace.output_reader import LocalOutputReader
    from swf_app.queries import QueryService
    from swf_entry.split_link import SplitLink

    def client_queries() -> tuple[QueryService, Callable[[], None]]:
        store = open_store(config.database_url)
        return QueryService(store, output=LocalOutputReader()), store.close

    holder: list[SplitLink] = []
    commands = FileDropLink(ControlLayout(config.state_dir), lambda: holder[0].queries)
    link = SplitLink(client_queries, cast(EngineLink, commands))
    holder.append(link)
    return cast(EngineLink, link)


def _embedded_link(config: ResourceConfig) -> EmbeddedLink:
    """An engine in this process, once it holds the state directory's engine lock."""
    from swf_adapters.transport.pyro.local_daemon import (
        EngineLayout,
        live_endpoint,
        lock_holder,
        take_engine_lock,
    )
    from swf_entry.embedded import EmbeddedLink

    config.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    layout = EngineLayout.of(config.state_dir)
    descriptor = take_engine_lock(layout)
    if descriptor is None:
        holder = lock_holder(layout) or "unknown"
        who = (
            f"an engine daemon already runs (pid {holder}): it"
            if live_endpoint(config.state_dir) is not None
            else f"another engine (pid {holder})"
        )
        raise EngineError(
            f"{who} already drives {config.state_dir}: use it (without --embedded /"
            " isolated_light_mode), or stop it first (`swf engine stop`)"
        )
    try:
        link = build_service(config, EmbeddedLink)
    except BaseException:
        os.close(descriptor)
        raise
    assert isinstance(link, EmbeddedLink)
    link.lock_descriptor = descriptor
    return link


def connect(
    resource_id: str | None = None,
    login: str | None = None,
    password: str | None = None,
    config: Any = None,
    isolated: bool | str | None = None,
) -> EngineLink:
    """The link ``WorkflowController(...)`` uses (soma-workflow's constructor arguments)."""
    resolved, embedded = client_config(resource_id, login, password, config, isolated)
    return connect_config(resolved, embedded=embedded, temporary=isolated is True)


def client_config(
    resource_id: str | None = None,
    login: str | None = None,
    password: str | None = None,
    config: Any = None,
    isolated: bool | str | None = None,
) -> tuple[ResourceConfig, bool]:
    """The configuration a ``WorkflowController(...)`` uses, and whether it embeds the
    engine. ``config`` is a ``ResourceConfig``, an object with ``resource_config()``
    (``swf_entry.configuration.Configuration``), a file path, or None."""
    to_resolved = getattr(config, "resource_config", None)
    if callable(to_resolved):
        config = to_resolved()
    if isinstance(config, ResourceConfig):
        return config, _wants_embedded(config) or bool(isolated)
    if config is not None and not isinstance(config, str | os.PathLike):
        raise ConfigurationError(
            f"config must be a Configuration or a configuration file path, not"
            f" {type(config).__name__}"
        )
    config_file = Path(config) if config is not None else None
    if isolated:
        resolved = load_config(config_file, resource_id, isolated_dir=_isolated_dir(isolated))
        return resolved, True
    resolved = load_config(config_file, resource_id)
    return resolved, _wants_embedded(resolved)


def _temporary_link(config: ResourceConfig) -> EngineLink:
    """An embedded engine in a temporary directory (``isolated_light_mode=True``) that
    goes with the link."""
    from swf_entry.embedded import EmbeddedLink

    try:
        link = connect_config(config, embedded=True)  # not temporary: no recursion
    except BaseException:
        shutil.rmtree(config.state_dir, ignore_errors=True)
        raise
    if isinstance(link, EmbeddedLink):
        link.remove_on_close(config.state_dir)
    return link


def open_controller(options: ClientOptions, embedded: bool = False) -> Any:
    """A WorkflowController for the CLI."""
    from swf_entry.client import WorkflowController

    config = resource_config(options)
    embedded = embedded or _wants_embedded(config)
    return WorkflowController.from_link(_connect_asking(config, embedded, options.ask_password))


def _connect_asking(
    config: ResourceConfig, embedded: bool, ask: Callable[[str], str] | None
) -> EngineLink:
    """``connect_config``; a remote login refused (no key, or one the server does not
    take) is tried once more with the password ``ask`` gets from the user, and an
    encrypted key file with the passphrase it gets (soma's ``rsa_key_pass``)."""
    try:
        return connect_config(config, embedded=embedded)
    except RemoteAuthenticationError as error:
        if ask is None or config.mode != "remote" or embedded:
            raise
        credentials = _asked(config, error, ask)
    return connect_config(config, embedded=embedded, credentials=credentials)


def _asked(config: ResourceConfig, error: Exception, ask: Callable[[str], str]) -> Credentials:
    if isinstance(error, KeyPassphraseError):
        return Credentials(rsa_key_pass=ask(f"passphrase of key {config.ssh_key_file}: "))
    from swf_adapters.config.remote import remote_host

    who = f"{config.login}@{remote_host(config)}" if config.login else remote_host(config)
    return Credentials(password=ask(f"password of {who}: "))


# -- engine daemon management (swf engine ...) ------------------------------------------


def engine_start(options: ClientOptions) -> dict[str, Any]:
    from swf_adapters.transport.pyro.local_daemon import engine_status, ensure_engine

    config = resource_config(options)
    if config.mode == "remote":
        return _remote_stats(config)
    _check_supported(config)
    idle = config.engine_idle_timeout
    endpoint = ensure_engine(
        config.state_dir,
        idle_timeout=idle if idle is not None else 0.0,
        config_file=config.config_file,
        resource_id=config.resource_id,
    )
    info = engine_status(config.state_dir) or {}
    info.setdefault("pid", endpoint.pid)
    info.setdefault("socket", str(endpoint.socket_path))
    return info


def engine_stop(options: ClientOptions) -> bool:
    from swf_adapters.transport.pyro.local_daemon import stop_engine

    config = resource_config(options)
    if config.mode != "remote":
        return stop_engine(config.state_dir)
    link: Any = _remote_link(config, Credentials())
    try:
        return bool(link.stop_engine())
    finally:
        link.close()


def engine_status(options: ClientOptions) -> dict[str, Any] | None:
    from swf_adapters.transport.pyro.local_daemon import engine_status as status

    config = resource_config(options)
    return _remote_stats(config) if config.mode == "remote" else status(config.state_dir)


def _remote_stats(config: ResourceConfig) -> dict[str, Any]:
    """The remote engine's stats (started there first if none ran)."""
    link: Any = _remote_link(config, Credentials())
    try:
        stats: dict[str, Any] = link.stats()
    finally:
        link.close()
    return stats


# -- file transfers ----------------------------------------------------------------------


def facade_transfers(link: EngineLink) -> FacadeTransfers:
    """The controller's transfers: a link to a remote resource offers ``resource_tree()``
    (its files over SFTP) and the workflows are staged; otherwise the resource is this
    machine, whose files the engine shares (workflow transfers used in place)."""
    from swf_adapters.transfer.local_tree import LocalTree
    from swf_entry.transfers import FacadeTransfers

    remote = getattr(link, "resource_tree", None)
    if callable(remote):
        return FacadeTransfers(link, LocalTree(), remote(), staged=True)
    return FacadeTransfers(link, LocalTree(), LocalTree(), staged=False)
