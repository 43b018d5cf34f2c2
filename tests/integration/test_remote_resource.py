"""A remote resource end to end over the real test sshd: clients that die and come back, a
connection cut during a wait, the CLI, and every refusal (host key, password, passphrase,
a missing or incompatible swf) with its typed error."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from swf_adapters.transport.pyro.protocol import LEGACY_PROTOCOL, local_peer
from swf_adapters.transport.ssh import SshTarget
from swf_adapters.transport.ssh.session import RemoteSession
from swf_domain.errors import (
    HostKeyError,
    RemoteAuthenticationError,
    RemoteConnectionError,
    RemoteInstallError,
)
from swf_entry.client import Job, Workflow, WorkflowController
from tests.integration.facade_fixtures import wait_until
from tests.integration.ssh_fixtures import (
    SshService,
    shared_directory,
    sshd,
    write_remote_config,
)

__all__ = ["sshd"]  # fixtures, imported for pytest

pytestmark = [pytest.mark.timeout(180)]

SWF = [sys.executable, "-m", "swf_entry.cli"]
#: Appends its name to "$1" once the file "$2" exists.
WAIT_FOR_FLAG = 'while [ ! -e "$2" ]; do sleep 0.05; done; echo "$0" >> "$1"'


@pytest.fixture
def box() -> Iterator[Path]:
    """A directory the remote user's jobs can write in (files created here are theirs too)."""
    with shared_directory() as path:
        yield path


@pytest.fixture
def config(sshd: SshService, box: Path) -> Iterator[Path]:
    """A remote resource; its engine is stopped and its remote state removed afterwards."""
    path = write_remote_config(sshd, box)
    yield path
    _remove_remote_engine(path)


def _remove_remote_engine(config: Path, **login: str) -> None:
    with contextlib.suppress(Exception):
        controller = WorkflowController("remote", config=str(config), **login)
        link: Any = controller.link
        for workflow_id in controller.workflows():
            controller.delete_workflow(workflow_id, force=True)
        state_dir = link.connector.endpoint.state_dir
        link.stop_engine()
        link.connector.session.run(["rm", "-rf", state_dir])
        controller.disconnect()


def chain(box: Path, flag: Path, count: int = 3) -> Workflow:
    jobs = [
        Job(["sh", "-c", WAIT_FOR_FLAG, f"j{i}", str(box / "runs"), str(flag)], name=f"j{i}")
        for i in range(count)
    ]
    return Workflow(jobs, [(a, b) for a, b in itertools.pairwise(jobs)], name="chain")


def statuses(controller: WorkflowController, workflow_id: int) -> list[str]:
    return [entry[1] for entry in controller.workflow_elements_status(workflow_id)[0]]


# -- clients come and go ---------------------------------------------------------------------

SUBMIT_THEN_DIE = """
import json, os, signal, sys
from swf_entry.client import Job, Workflow, WorkflowController
config, runs, flag = sys.argv[1:4]
script = 'while [ ! -e "$2" ]; do sleep 0.05; done; echo "$0" >> "$1"'
jobs = [Job(["sh", "-c", script, f"j{i}", runs, flag], name=f"j{i}") for i in range(3)]
controller = WorkflowController("remote", config=config)
wf_id = controller.submit_workflow(Workflow(jobs, [(jobs[0], jobs[1]), (jobs[1], jobs[2])]))
print(json.dumps({"wf_id": wf_id, "ids": [j.job_id for j in controller.workflow(wf_id).jobs]}))
sys.stdout.flush()
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_killed_client_then_a_new_process_sees_everything(config: Path, box: Path) -> None:
    flag = box / "go"
    client = subprocess.run(
        [sys.executable, "-c", SUBMIT_THEN_DIE, str(config), str(box / "runs"), str(flag)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert client.returncode == -signal.SIGKILL, client.stderr
    submitted = json.loads(client.stdout)
    flag.touch()  # the jobs go on only now, with no client connected

    controller = WorkflowController("remote", config=str(config))
    try:
        wf_id = submitted["wf_id"]
        controller.wait_workflow(wf_id, timeout=60)
        assert statuses(controller, wf_id) == ["done"] * 3
        assert [j.job_id for j in controller.workflow(wf_id).jobs] == submitted["ids"]
        assert (box / "runs").read_text().split() == ["j0", "j1", "j2"]
    finally:
        controller.disconnect()


def _sshd_children_serving(session: RemoteSession, sshd: SshService) -> list[int]:
    """The sshd processes holding this session's TCP connection (found by its ports)."""
    transport: Any = session.transport()
    local_port = transport.sock.getsockname()[1]
    return sorted(
        {
            connection.pid
            for connection in psutil.net_connections("tcp")
            if connection.pid is not None
            and connection.pid != os.getpid()
            and connection.laddr.port == sshd.port
            and connection.raddr
            and connection.raddr.port == local_port
        }
    )


def test_a_wait_goes_on_across_a_cut_ssh_connection(
    sshd: SshService, config: Path, box: Path
) -> None:
    flag = box / "go"
    controller = WorkflowController("remote", config=str(config))
    link: Any = controller.link
    session: RemoteSession = link.connector.session
    killed: list[int] = []

    def cut_then_release() -> None:
        time.sleep(1.0)  # the wait below is on the wire by now
        for pid in _sshd_children_serving(session, sshd):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
        time.sleep(0.5)
        flag.touch()

    try:
        wf_id = controller.submit_workflow(chain(box, flag))
        opened = session.connections_opened
        cutter = threading.Thread(target=cut_then_release)
        cutter.start()
        controller.wait_workflow(wf_id, timeout=90)
        cutter.join()
        assert killed, "no sshd process served the connection"
        assert statuses(controller, wf_id) == ["done"] * 3
        assert session.connections_opened > opened  # it reconnected by itself
        # ... and the next calls just work, on the new connection
        assert controller.workflow_status(wf_id) == "workflow_done"
    finally:
        controller.disconnect()


def test_an_unreachable_host_is_a_typed_error_after_bounded_retries(tmp_path: Path) -> None:
    closed_port = 1  # nothing listens there
    session = RemoteSession(
        SshTarget("127.0.0.1", closed_port, "nobody", known_hosts=tmp_path / "kh"),
        attempts=3,
        delay=0.05,
    )
    started = time.monotonic()
    with pytest.raises(RemoteConnectionError, match="gave up after 3 attempts"):
        session.client()
    assert time.monotonic() - started < 10


# -- refusals ---------------------------------------------------------------------------------


def test_a_changed_host_key_is_refused(sshd: SshService, box: Path) -> None:
    fake = box / "fake"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(fake)], check=True)
    known = box / "known_hosts"
    public = " ".join(fake.with_suffix(".pub").read_text().split()[:2])
    known.write_text(f"[127.0.0.1]:{sshd.port} {public}\n")
    config = write_remote_config(sshd, box)
    with pytest.raises(HostKeyError, match="CHANGED"):
        WorkflowController("remote", config=str(config))


def test_an_unknown_host_key_is_refused_then_accepted_explicitly(
    sshd: SshService, box: Path
) -> None:
    known = box / "empty_known_hosts"
    config = write_remote_config(sshd, box, SSH_KNOWN_HOSTS=known)
    with pytest.raises(HostKeyError, match="SSH_HOST_KEY = SHA256:") as refused:
        WorkflowController("remote", config=str(config))
    assert not known.exists()
    accepted = write_remote_config(
        sshd, box, SSH_KNOWN_HOSTS=known, SSH_HOST_KEY=refused.value.fingerprint
    )
    try:
        WorkflowController("remote", config=str(accepted)).disconnect()
        assert f"[127.0.0.1]:{sshd.port}" in known.read_text()
    finally:
        _remove_remote_engine(accepted)


def test_password_login_and_a_wrong_password(sshd: SshService, box: Path) -> None:
    config = write_remote_config(sshd, box, SSHPort=sshd.password_port, SSH_KEY_FILE=None)
    with pytest.raises(
        RemoteAuthenticationError, match=f"swfremote@127.0.0.1:{sshd.password_port}"
    ):
        WorkflowController("remote", sshd.user, "wrong password", config=str(config))
    controller = WorkflowController("remote", sshd.user, sshd.password, config=str(config))
    try:
        wf_id = controller.submit_workflow(Workflow([Job(["true"], name="t")]))
        controller.wait_workflow(wf_id, timeout=60)
        assert statuses(controller, wf_id) == ["done"]
    finally:
        controller.disconnect()
        _remove_remote_engine(config, login=sshd.user, password=sshd.password)


def test_an_encrypted_key_needs_rsa_key_pass(sshd: SshService, box: Path) -> None:
    config = write_remote_config(sshd, box, SSH_KEY_FILE=sshd.encrypted_key)
    with pytest.raises(RemoteAuthenticationError, match="rsa_key_pass"):
        WorkflowController("remote", config=str(config))
    try:
        controller = WorkflowController(
            "remote", config=str(config), rsa_key_pass=sshd.key_passphrase
        )
        assert controller.workflows() == {}
        controller.disconnect()
    finally:
        _remove_remote_engine(config, rsa_key_pass=sshd.key_passphrase)


def test_a_remote_python_without_swf_is_named(sshd: SshService, box: Path) -> None:
    config = write_remote_config(sshd, box, PYTHON_COMMAND="/usr/bin/python3")
    with pytest.raises(RemoteInstallError, match=r"/usr/bin/python3.*No module named"):
        WorkflowController("remote", config=str(config))


def test_an_incompatible_remote_swf_is_named(sshd: SshService, box: Path) -> None:
    fake_hello = """echo '{"swf": "9.9.0", "python": "/opt/old/bin/python"}'"""
    config = write_remote_config(sshd, box, PYTHON_COMMAND=f"['sh', '-c', {fake_hello!r}, 'x']")
    with pytest.raises(RemoteInstallError, match=r"/opt/old/bin/python .* has swf 9\.9\.0"):
        WorkflowController("remote", config=str(config))


def test_a_remote_swf_of_another_link_protocol_is_named(sshd: SshService, box: Path) -> None:
    """Same version string, older wire (a build before the protocol number): refused."""
    here = local_peer()
    hello = json.dumps({"swf": here.version, "python": "/opt/old/bin/python"})
    config = write_remote_config(
        sshd, box, PYTHON_COMMAND=f"['sh', '-c', {'echo ' + shlex.quote(hello)!r}, 'x']"
    )
    expected = rf"has swf {re.escape(here.version)} \(link protocol {LEGACY_PROTOCOL}\)"
    with pytest.raises(RemoteInstallError, match=expected):
        WorkflowController("remote", config=str(config))


def test_installpath_puts_swf_on_the_remote_pythons_path(sshd: SshService, box: Path) -> None:
    """soma's INSTALLPATH: a python without swf finds it there (as PYTHONPATH)."""
    venv = Path(sshd.python).parent.parent  # the remote user's venv (same machine here)
    site = next(venv.glob("lib/python3*/site-packages"))
    config = write_remote_config(
        sshd, box, PYTHON_COMMAND="/usr/bin/python3", INSTALLPATH=str(site)
    )
    try:
        controller = WorkflowController("remote", config=str(config))
        assert controller.workflows() == {}
        controller.disconnect()
    finally:
        _remove_remote_engine(config)


def test_the_resources_own_configuration_wins(sshd: SshService, box: Path) -> None:
    """Its own file's section of the same name (here named by SWF_CONFIG over there)
    overrides the client's remote-side options, as soma's server side reads its own."""
    own_state = f"~/swf-tests/own-{box.name}"
    (box / "own.cfg").write_text(f"[remote]\nSTATE_DIR = {own_state}\n")
    python = f"env SWF_CONFIG={box / 'own.cfg'} {sshd.python}"
    config = write_remote_config(sshd, box, PYTHON_COMMAND=python)
    try:
        controller = WorkflowController("remote", config=str(config))
        link: Any = controller.link
        assert link.connector.endpoint.state_dir == f"/home/{sshd.user}/{own_state[2:]}"
        controller.disconnect()
    finally:
        _remove_remote_engine(config)


# -- the CLI ----------------------------------------------------------------------------------


def swf(config: Path, *arguments: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    command = [*SWF, "--config", str(config), "--resource", "remote", *arguments]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    if check:
        assert done.returncode == 0, (arguments, done.stdout, done.stderr)
    return done


def test_the_cli_works_unchanged_on_a_remote_resource(config: Path, box: Path) -> None:
    flag = box / "go"
    workflow_file = box / "pipeline.py"
    workflow_file.write_text(
        "from swf_entry.client import Job, Workflow\n"
        f"hello = Job(['sh', '-c', 'echo hello from $(id -un)'], name='hello')\n"
        f"gate = Job(['sh', '-c', {WAIT_FOR_FLAG!r}, 'gate', {str(box / 'runs')!r},"
        f" {str(flag)!r}], name='gate')\n"
        "workflow = Workflow([hello, gate], [(hello, gate)], name='cli-remote')\n"
    )
    wf_id = json.loads(swf(config, "submit", str(workflow_file), "--json").stdout)["id"]
    listed = swf(config, "list", "--json").stdout
    assert "cli-remote" in listed
    assert wait_until(lambda: "hello" in swf(config, "logs", str(wf_id), "hello").stdout, 60, 0.5)
    assert "hello from swfremote" in swf(config, "logs", str(wf_id), "hello").stdout
    swf(config, "stop", str(wf_id))
    assert not (box / "runs").exists()  # the gate was stopped before it could pass
    swf(config, "restart", str(wf_id))
    flag.touch()
    swf(config, "wait", str(wf_id))
    status = json.loads(swf(config, "status", str(wf_id), "--json").stdout)
    assert status["status"] == "workflow_done"
    assert (box / "runs").read_text() == "gate\n"  # run again by the restart
    swf(config, "delete", str(wf_id))
    assert "cli-remote" not in swf(config, "list", "--json").stdout
