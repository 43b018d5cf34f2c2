"""The verified SSH connection (swf_adapters.transport.ssh) against the real test sshd."""

from __future__ import annotations

import shlex
import socket
import subprocess
import time
from pathlib import Path

import paramiko
import pytest

from swf_adapters.transport.ssh import open_ssh
from swf_adapters.transport.ssh.forward import SocketForwarder, open_streamlocal
from swf_domain.errors import HostKeyError, RemoteAuthenticationError
from tests.integration.ssh_fixtures import SshService, known_hosts, sshd

__all__ = ["known_hosts", "sshd"]  # fixtures, imported for pytest


def _run(client: paramiko.SSHClient, command: str) -> str:
    _, out, _ = client.exec_command(command)
    return out.read().decode().strip()


def _fingerprint_by_ssh_keygen(public_key: Path) -> str:
    line = subprocess.run(["ssh-keygen", "-lf", str(public_key)], capture_output=True, text=True)
    return line.stdout.split()[1]


def test_key_login_verified_against_known_hosts(sshd: SshService, known_hosts: Path) -> None:
    client = open_ssh(sshd.target(known_hosts))
    try:
        assert _run(client, "id -un") == sshd.user
    finally:
        client.close()


def test_encrypted_key_with_its_passphrase(sshd: SshService, known_hosts: Path) -> None:
    target = sshd.target(
        known_hosts, key_file=sshd.encrypted_key, key_passphrase=sshd.key_passphrase
    )
    client = open_ssh(target)
    client.close()
    with pytest.raises(RemoteAuthenticationError, match="cannot be read or decrypted"):
        open_ssh(sshd.target(known_hosts, key_file=sshd.encrypted_key, key_passphrase="wrong"))
    with pytest.raises(RemoteAuthenticationError, match="rsa_key_pass"):
        open_ssh(sshd.target(known_hosts, key_file=sshd.encrypted_key))


def test_password_login_and_a_wrong_password(sshd: SshService, known_hosts: Path) -> None:
    good = sshd.target(known_hosts, port=sshd.password_port, key_file=None, password=sshd.password)
    open_ssh(good).close()
    bad = sshd.target(known_hosts, port=sshd.password_port, key_file=None, password="wrong")
    where = f"{sshd.user}@127.0.0.1:{sshd.password_port}"
    with pytest.raises(RemoteAuthenticationError, match=where):
        open_ssh(bad)


def test_key_only_port_refuses_a_password(sshd: SshService, known_hosts: Path) -> None:
    with pytest.raises(RemoteAuthenticationError):
        open_ssh(sshd.target(known_hosts, key_file=None, password=sshd.password))


def test_unknown_host_key_refused_with_its_fingerprint(sshd: SshService, tmp_path: Path) -> None:
    empty = tmp_path / "known_hosts"
    expected = _fingerprint_by_ssh_keygen(sshd.host_key)
    with pytest.raises(HostKeyError, match="unknown") as refused:
        open_ssh(sshd.target(empty))
    assert refused.value.fingerprint == expected
    assert expected in str(refused.value) and "SSH_HOST_KEY" in str(refused.value)
    assert not empty.exists()  # never added silently


def test_an_explicitly_accepted_fingerprint_is_remembered(sshd: SshService, tmp_path: Path) -> None:
    known = tmp_path / "sub" / "known_hosts"
    accepted = _fingerprint_by_ssh_keygen(sshd.host_key)
    open_ssh(sshd.target(known, accept_host_key=accepted)).close()
    assert f"[127.0.0.1]:{sshd.port} ssh-ed25519 " in known.read_text()
    open_ssh(sshd.target(known)).close()  # known from now on
    with pytest.raises(HostKeyError):  # another fingerprint is not this one
        open_ssh(sshd.target(tmp_path / "other", accept_host_key="SHA256:" + "A" * 43))


def test_changed_host_key_refused(sshd: SshService, tmp_path: Path) -> None:
    fake = tmp_path / "fake"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(fake)], check=True)
    known = tmp_path / "known_hosts"
    public = " ".join(fake.with_suffix(".pub").read_text().split()[:2])
    known.write_text(f"[127.0.0.1]:{sshd.port} {public}\n")
    with pytest.raises(HostKeyError, match="CHANGED") as refused:
        open_ssh(sshd.target(known))
    assert refused.value.fingerprint == _fingerprint_by_ssh_keygen(sshd.host_key)
    assert known.read_text().count("\n") == 1


ECHO_SERVER = """
import os, socket, sys
path = sys.argv[1]
server = socket.socket(socket.AF_UNIX)
server.bind(path)
server.listen(4)
print("ready", flush=True)
connection, _ = server.accept()
while data := connection.recv(65536):
    connection.sendall(data.upper())
"""


def test_a_remote_unix_socket_through_the_forwarder(sshd: SshService, known_hosts: Path) -> None:
    client = open_ssh(sshd.target(known_hosts))
    transport = client.get_transport()
    assert transport is not None
    remote_socket = f"/tmp/swf-echo-{time.monotonic_ns()}.sock"
    script = shlex.quote(ECHO_SERVER)
    _, out, _ = client.exec_command(f"{shlex.quote(sshd.python)} -c {script} {remote_socket}")
    assert out.readline().strip() == "ready"
    forwarder = SocketForwarder(lambda: open_streamlocal(transport, remote_socket))
    try:
        local = socket.socket(socket.AF_UNIX)
        local.connect(str(forwarder.path))
        local.sendall(b"hello through ssh")
        assert local.recv(100) == b"HELLO THROUGH SSH"
        local.close()
    finally:
        forwarder.close()
        _run(client, f"rm -f {remote_socket}")
        client.close()
    assert not forwarder.path.exists()
