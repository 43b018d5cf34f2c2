"""Fixtures of the tests on the real sshd that scripts/test.sh starts (scripts/services/sshd.sh).

When the test command was supposed to start it (``SWF_TEST_SSH`` set), an sshd that does not
answer FAILS the tests with the start log; a developer running pytest by hand without one
gets them skipped with the command that starts one. How to reach it comes from
``sshd.sh env`` (the ``SWF_TEST_SSH_*`` variables). Nothing here touches the real
``~/.ssh``: every test gets its own known_hosts copy.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from swf_adapters.transport.ssh import SshTarget

SERVICE = Path(__file__).resolve().parents[2] / "scripts" / "services" / "sshd.sh"


@dataclass(frozen=True)
class SshService:
    """The test sshd: a key-only port, a port that also takes passwords, one remote user."""

    host: str
    port: int
    password_port: int
    user: str
    key: Path
    encrypted_key: Path
    key_passphrase: str
    password: str
    known_hosts: Path
    host_key: Path
    python: str
    server_pid_file: Path

    def target(self, known_hosts: Path, **changes: object) -> SshTarget:
        """Key login on the key-only port, verified against ``known_hosts``."""
        base = SshTarget(self.host, self.port, self.user, key_file=self.key)
        base = SshTarget(**{**base.__dict__, "known_hosts": known_hosts})
        return SshTarget(**{**base.__dict__, **changes})  # type: ignore[arg-type]


def _read_env() -> dict[str, str]:
    answer = subprocess.run([str(SERVICE), "env"], capture_output=True, text=True, timeout=30)
    pairs = (line.split("=", 1) for line in answer.stdout.splitlines() if "=" in line)
    return {name: value for name, value in pairs}


def require_sshd() -> SshService:
    expected = os.environ.get("SWF_TEST_SSH")
    if subprocess.run([str(SERVICE), "status"], check=False, timeout=30).returncode == 0:
        return _service(_read_env())
    if expected:
        log_file = os.environ.get("SWF_TEST_SSH_LOG", "")
        log = Path(log_file).read_text() if log_file and Path(log_file).exists() else ""
        pytest.fail(f"the test command started sshd ({expected}) but it does not answer:\n{log}")
    pytest.skip(f"no test sshd here (start one: {SERVICE} start DIR)")


def _service(env: dict[str, str]) -> SshService:
    def get(name: str) -> str:
        return env[f"SWF_TEST_SSH_{name}"]

    return SshService(
        host=get("HOST"),
        port=int(get("PORT")),
        password_port=int(get("PASSWORD_PORT")),
        user=get("USER"),
        key=Path(get("KEY")),
        encrypted_key=Path(get("ENCRYPTED_KEY")),
        key_passphrase=get("KEY_PASSPHRASE"),
        password=get("PASSWORD"),
        known_hosts=Path(get("KNOWN_HOSTS")),
        host_key=Path(get("HOST_KEY")),
        python=get("PYTHON"),
        server_pid_file=Path(get("SERVER_PID_FILE")),
    )


@pytest.fixture(scope="session")
def sshd() -> SshService:
    """The test sshd answers on this machine (see the module docstring)."""
    return require_sshd()


@pytest.fixture
def known_hosts(sshd: SshService, tmp_path: Path) -> Path:
    """A private copy of the sshd's known_hosts (never the real ~/.ssh/known_hosts)."""
    copy = tmp_path / "known_hosts"
    shutil.copyfile(sshd.known_hosts, copy)
    return copy


def write_remote_config(
    sshd: SshService, directory: Path, resource: str = "remote", **options: object
) -> Path:
    """A configuration file whose ``resource`` is the test sshd's user (a remote resource
    with its own STATE_DIR there); ``options`` (name=value) add or replace options."""
    known_hosts = directory / "known_hosts"
    if not known_hosts.exists():
        shutil.copyfile(sshd.known_hosts, known_hosts)
    values: dict[str, object] = {
        "SUBMITTING_MACHINES": "swf-remote-test-host",
        "CLUSTER_ADDRESS": sshd.host,
        "LOGIN": sshd.user,
        "SSHPort": sshd.port,
        "PYTHON_COMMAND": sshd.python,
        "SSH_KEY_FILE": sshd.key,
        "SSH_KNOWN_HOSTS": known_hosts,
        "STATE_DIR": f"~/swf-tests/{directory.name}-{os.getpid()}",
        "ENGINE_IDLE_TIMEOUT": 120,
        "CPU_NB": 4,
        **options,
    }
    lines = [f"{name} = {value}" for name, value in values.items() if value is not None]
    path = directory / "swf.cfg"
    path.write_text(f"[{resource}]\n" + "\n".join(lines) + "\n")
    return path


def sshd_serving(path: str, user: str) -> int | None:
    """The sshd process serving the connection that has ``path`` open on the resource:
    the SFTP server inside sshd, or the command an ``ssh`` runs (its nearest sshd
    ancestor) — killing it cuts whichever connection carries a transfer's bytes."""
    for process in psutil.process_iter(["username"]):
        try:
            if process.info["username"] == user and _has_open(process, path):
                return _sshd_of(process)
        except psutil.Error:
            continue  # ended meanwhile
    return None


def _has_open(process: psutil.Process, path: str) -> bool:
    return any(found.path == path for found in process.open_files())


def _sshd_of(process: psutil.Process) -> int | None:
    current: psutil.Process | None = process
    while current is not None and not current.name().startswith("sshd"):
        current = current.parent()
    return current.pid if current is not None else None


@contextlib.contextmanager
def shared_directory() -> Iterator[Path]:
    """A directory the remote user (another account here) can write in, and every file
    made in it too (umask 0 meanwhile). Not under pytest's tmp_path: its root is private
    to root, and every pytest session (another test run's) makes it private again."""
    path = Path(tempfile.mkdtemp(prefix="swf-remote-", dir="/tmp"))
    path.chmod(0o777)
    umask = os.umask(0)
    try:
        yield path
    finally:
        os.umask(umask)
        shutil.rmtree(path, ignore_errors=True)
