"""Fixtures of the facade scenario suite: one WorkflowController per engine mode.

The same scenarios run against both ways a client reaches an engine (issue: "both pass
the same facade test suite"):

- ``embedded``: ``WorkflowController(isolated_light_mode=home)``, the engine is a thread
  of the test process;
- ``daemon``: ``open_controller(ClientOptions(home=...))``, a detached engine process
  reached over Pyro5;
- ``remote`` (test_remote_scenarios only): ``WorkflowController(resource, config=...)`` on a
  remote resource: the engine runs as the test sshd's user, reached over SSH (the site's
  directories are opened to that user, see ``open_to_remote_user``).

Each site (one engine and its job host) lives in a short directory under one session
root in /tmp (Unix socket paths are short). Every process a site starts inherits a
marker variable from the test process, so the session guard finds any survivor,
however deep in a process tree, by its environment, and ends it by pid.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest

from swf_adapters.schedulers.local.launcher import shutdown_host
from swf_adapters.schedulers.local.layout import StateLayout
from swf_domain.status import WorkflowStatus
from swf_entry.client import WorkflowController
from swf_entry.composition import ClientOptions, open_controller
from swf_entry.daemon import stop_engine
from tests.integration.waiting import wait_until as wait_until  # re-exported

MODES = ("embedded", "daemon")
#: Variable every process of this suite inherits (its value is the session root).
MARK_VARIABLE = "FACADE_SUITE_MARK"
#: Namespace and uuids of the SharedResourcePaths of the soma-json fixture d.
TRANSLATION_NAMESPACE = "MyApp"
DATA_UUID = "data_dir_uuid"
OUTPUT_UUID = "output_dir_uuid"
#: Jobs the local scheduler runs at once: enough for the scenarios that hold a few
#: waiting jobs while others run, on a 2-core machine (most jobs only sleep).
CPU_NB = 4


@dataclass
class Site:
    """One engine (embedded or daemon) under ``home``, and a controller connected to it."""

    mode: str
    home: Path
    config_file: Path
    #: Root of the translated directories: ``data`` (data_dir_uuid), ``out`` (output_dir_uuid).
    data_root: Path
    controller: WorkflowController

    def connect(self) -> WorkflowController:
        """A new controller on this site's engine (embedded: a new engine on the same state,
        so the previous embedded controller must have been disconnected)."""
        return _controller(self.mode, self.home, self.config_file)

    def reconnect(self) -> WorkflowController:
        """Disconnect ``controller`` and replace it with a new one."""
        with contextlib.suppress(Exception):
            self.controller.disconnect()
        self.controller = self.connect()
        return self.controller

    def engine_pid(self) -> int | None:
        """The daemon's pid (None for embedded mode, or no daemon)."""
        from swf_entry.daemon import engine_status

        info = engine_status(self.home) if self.mode == "daemon" else None
        pid = info.get("pid") if info else None
        return pid if isinstance(pid, int) else None


def _controller(mode: str, home: Path, config_file: Path) -> WorkflowController:
    if mode == "remote":
        return WorkflowController("facade", config=str(config_file))
    if mode == "embedded":
        return WorkflowController(config=str(config_file), isolated_light_mode=str(home))
    controller: WorkflowController = open_controller(
        ClientOptions(home=home, config_file=config_file)
    )
    return controller


def _write_config(home: Path, data_root: Path, extra: str = "") -> Path:
    """A resource configuration with translation files for the SharedResourcePaths."""
    for sub in ("data", "out"):
        (data_root / sub).mkdir(parents=True, exist_ok=True)
    translations = home / "translations.txt"
    translations.write_text(
        f"{DATA_UUID} {data_root / 'data'}\n{OUTPUT_UUID} {data_root / 'out'}\n"
    )
    config = home / "swf.cfg"
    config.write_text(
        "[facade]\n"
        f"CPU_NB = {CPU_NB}\n"
        f"PATH_TRANSLATION_FILES = {TRANSLATION_NAMESPACE}{{{translations}}}\n" + extra
    )
    return config


class ProcessGuard:
    """Finds and ends every process started by this suite (marked by its environment)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.mark = str(root)
        self._names = itertools.count()

    def new_home(self, mode: str) -> Path:
        home = self.root / f"{mode[0]}{next(self._names)}"
        home.mkdir(mode=0o700)
        return home

    def survivors(self) -> list[psutil.Process]:
        """Live processes (not ours, not zombies) that carry this session's mark."""
        me = os.getpid()
        found = []
        for process in psutil.process_iter():
            if process.pid == me:
                continue
            try:
                if process.status() == psutil.STATUS_ZOMBIE:
                    continue
                if process.environ().get(MARK_VARIABLE) == self.mark:
                    found.append(process)
            except psutil.Error:
                continue
        return found

    def end(self, processes: list[psutil.Process]) -> list[str]:
        """SIGKILL ``processes`` (by pid, checked against their start time); their
        descriptions for the failure message."""
        described = []
        for process in processes:
            with contextlib.suppress(psutil.Error):
                described.append(f"pid {process.pid}: {' '.join(process.cmdline())[:200]}")
                process.kill()
        psutil.wait_procs(processes, timeout=5)
        return described


def open_site(guard: ProcessGuard, mode: str, extra_config: str = "") -> Site:
    """A site; ``extra_config`` adds options to its resource (another scheduler...)."""
    home = guard.new_home(mode)
    data_root = home / "shared"
    if mode == "remote":
        extra_config = _remote_options(guard, home) + extra_config
    config = _write_config(home, data_root, extra_config)
    if mode == "remote":
        open_to_remote_user(data_root)
        for sub in ("data", "out"):
            open_to_remote_user(data_root / sub)
    return Site(mode, home, config, data_root, _controller(mode, home, config))


def _remote_options(guard: ProcessGuard, home: Path) -> str:
    """The resource is remote: the test sshd's user runs its engine in its own home."""
    from tests.integration.ssh_fixtures import require_sshd

    sshd = require_sshd()
    known_hosts = home / "known_hosts"
    shutil.copyfile(sshd.known_hosts, known_hosts)
    open_to_remote_user(home)
    return (
        f"SUBMITTING_MACHINES = swf-remote-test-host\nCLUSTER_ADDRESS = {sshd.host}\n"
        f"LOGIN = {sshd.user}\nSSHPort = {sshd.port}\nPYTHON_COMMAND = {sshd.python}\n"
        f"SSH_KEY_FILE = {sshd.key}\nSSH_KNOWN_HOSTS = {known_hosts}\n"
        f"STATE_DIR = ~/swf-tests/{guard.root.name}-{home.name}\nENGINE_IDLE_TIMEOUT = 120\n"
    )


def open_to_remote_user(path: Path) -> None:
    """Let the remote user (another account on this machine) write ``path`` and reach it
    through its parents (test directories only: never above /tmp)."""
    path.chmod(0o777)
    for parent in path.parents:
        if parent in (Path("/tmp"), Path("/")) or parent.stat().st_uid != os.getuid():
            break
        parent.chmod(parent.stat().st_mode | 0o011)


def stop_unfinished(controller: WorkflowController, workflow_ids: list[int]) -> None:
    for workflow_id in workflow_ids:
        with contextlib.suppress(Exception):
            if controller.workflow_status(workflow_id) != WorkflowStatus.DONE.value:
                controller.stop_workflow(workflow_id)


def close_site(site: Site) -> None:
    """Kill the site's jobs, stop its engine and its job host; every process ends."""
    with contextlib.suppress(Exception):
        stop_unfinished(site.controller, list(site.controller.workflows()))
    if site.mode == "remote":
        _stop_remote_engine(site.controller)
    with contextlib.suppress(Exception):
        site.controller.disconnect()
    if site.mode == "daemon":
        stop_engine(site.home)
    shutdown_host(StateLayout(site.home / "jobhost"))


def _stop_remote_engine(controller: WorkflowController) -> None:
    """Stop the remote engine and remove its state directory (its jobs were stopped)."""
    with contextlib.suppress(Exception):
        link: Any = controller.link
        state_dir = link.connector.endpoint.state_dir
        link.stop_engine()
        link.connector.session.run(["rm", "-rf", state_dir])


@contextlib.contextmanager
def marked_environment(guard: ProcessGuard) -> Iterator[None]:
    """The mark in this process's environment, inherited by every process started here."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(MARK_VARIABLE, guard.mark)
        yield


# -- fixtures (imported by the test module) ----------------------------------------------


@pytest.fixture(scope="session")
def facade_guard() -> Iterator[ProcessGuard]:
    """The session root; at the end, no process of the suite may survive."""
    guard = ProcessGuard(Path(tempfile.mkdtemp(prefix="swf-fc-", dir="/tmp")))
    yield guard
    # The job host exits a moment after its engine asked it to: give it that moment.
    wait_until(lambda: not guard.survivors(), 10.0, period=0.1)
    leftovers = guard.end(guard.survivors())
    shutil.rmtree(guard.root, ignore_errors=True)
    assert not leftovers, f"processes left behind by the facade suite: {leftovers}"


@pytest.fixture(scope="module", params=MODES)
def site(request: pytest.FixtureRequest, facade_guard: ProcessGuard) -> Iterator[Site]:
    """One engine per mode, shared by the module's scenarios (each submits its own
    workflows and checks only those)."""
    with marked_environment(facade_guard):
        opened = open_site(facade_guard, request.param)
        try:
            yield opened
        finally:
            close_site(opened)


@pytest.fixture
def wfc(site: Site) -> Iterator[WorkflowController]:
    """The site's controller; workflows a scenario leaves running are stopped after it."""
    controller = site.controller
    before = set(controller.workflows())
    yield controller
    controller = site.controller  # a scenario may have reconnected
    stop_unfinished(controller, [wid for wid in controller.workflows() if wid not in before])


@pytest.fixture
def site_factory(facade_guard: ProcessGuard) -> Iterator[Callable[[str], Site]]:
    """Fresh sites (own engine, own state) for scenarios that disconnect or restart."""
    opened: list[Site] = []

    def make(mode: str) -> Site:
        with marked_environment(facade_guard):
            made = open_site(facade_guard, mode)
        opened.append(made)
        return made

    yield make
    for made in opened:
        close_site(made)
