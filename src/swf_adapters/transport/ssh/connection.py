"""A verified paramiko SSH connection to a remote resource.

Verification first: the host key must be in the ``known_hosts`` file (or equal to the
fingerprint the user accepted explicitly, which is then written there); an unknown or
changed key is refused with its fingerprint, never added silently. Then the login: a key
file (encrypted ones with ``rsa_key_pass``), the agent, the user's default keys, or a
password. Every failure is a typed ``RemoteConnectionError`` naming ``login@host:port``.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import paramiko

from swf_domain.errors import (
    HostKeyError,
    KeyPassphraseError,
    RemoteAuthenticationError,
    RemoteConnectionError,
)

DEFAULT_KNOWN_HOSTS = Path("~/.ssh/known_hosts")
#: paramiko's ``SSHException`` when it has nothing to log in with.
_NOTHING_TO_OFFER = "No authentication methods available"


@dataclass(frozen=True)
class SshTarget:
    """Where and how to log in (the resource's CLUSTER_ADDRESS, SSHPort, LOGIN, keys)."""

    host: str
    port: int = 22
    login: str | None = None
    password: str | None = None
    key_file: Path | None = None
    #: Passphrase of an encrypted key (soma's ``rsa_key_pass``).
    key_passphrase: str | None = None
    known_hosts: Path = DEFAULT_KNOWN_HOSTS
    #: A SHA256 fingerprint the user accepted for this host (added to known_hosts when met).
    accept_host_key: str | None = None
    timeout: float = 15.0

    def describe(self) -> str:
        who = f"{self.login}@" if self.login else ""
        return f"{who}{self.host}:{self.port}"

    def known_hosts_name(self) -> str:
        """The host's name in known_hosts (OpenSSH writes ``[host]:port`` off port 22)."""
        return self.host if self.port == 22 else f"[{self.host}]:{self.port}"


def fingerprint(key: paramiko.PKey) -> str:
    """``SHA256:...`` as ``ssh-keygen -lf`` prints it."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


class _VerifyPolicy(paramiko.MissingHostKeyPolicy):
    """An unknown key is accepted only when it is the one the user accepted explicitly."""

    def __init__(self, target: SshTarget) -> None:
        self._target = target

    def missing_host_key(
        self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey
    ) -> None:
        seen = fingerprint(key)
        if self._target.accept_host_key == seen:
            _remember(self._target, key)
            return
        raise HostKeyError(
            f"the host key of {self._target.describe()} is unknown ({key.get_name()} {seen}):"
            f" not in {self._target.known_hosts}. If that fingerprint is the server's, accept"
            f" it with SSH_HOST_KEY = {seen} in the resource's configuration (or add the key"
            f" to that known_hosts file)",
            seen,
        )


def _remember(target: SshTarget, key: paramiko.PKey) -> None:
    """Append the accepted key to known_hosts (the file made private if new)."""
    path = target.known_hosts.expanduser()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    line = f"{target.known_hosts_name()} {key.get_name()} {key.get_base64()}\n"
    with open(path, "a", opener=lambda name, flags: os.open(name, flags, 0o600)) as file:
        file.write(line)


def _client(target: SshTarget) -> paramiko.SSHClient:
    client = paramiko.SSHClient()
    known = target.known_hosts.expanduser()
    if known.exists():
        client.load_host_keys(str(known))
    client.set_missing_host_key_policy(_VerifyPolicy(target))
    return client


def open_ssh(target: SshTarget) -> paramiko.SSHClient:
    """A logged-in SSH client whose host key was verified (see the module docstring)."""
    client = _client(target)
    try:
        _login(client, target)
    except BaseException:
        client.close()
        raise
    transport = client.get_transport()
    assert transport is not None
    transport.set_keepalive(30)
    return client


def _load_key(target: SshTarget) -> paramiko.PKey | None:
    """The key file's key, decrypted with ``rsa_key_pass`` (any key type)."""
    if target.key_file is None:
        return None
    path = target.key_file.expanduser()
    passphrase = target.key_passphrase.encode() if target.key_passphrase is not None else None
    try:
        return paramiko.PKey.from_path(path, cast(str | None, passphrase))  # bytes at runtime
    except (paramiko.PasswordRequiredException, TypeError):  # TypeError: PEM keys
        raise KeyPassphraseError(
            f"login to {target.describe()}: key file {path} is encrypted: give its"
            " passphrase (rsa_key_pass)"
        ) from None
    except (paramiko.SSHException, ValueError) as error:
        problem = f"cannot be read or decrypted with the passphrase given ({error})"
    except OSError as error:
        problem = f"cannot be read ({error.strerror})"
    raise RemoteAuthenticationError(f"login to {target.describe()}: key file {path} {problem}")


def _login(client: paramiko.SSHClient, target: SshTarget) -> None:
    key = _load_key(target)
    try:
        client.connect(
            target.host,
            port=target.port,
            username=target.login,
            password=target.password,
            pkey=key,
            passphrase=target.key_passphrase,
            look_for_keys=key is None,
            allow_agent=key is None,
            timeout=target.timeout,
            banner_timeout=target.timeout,
            auth_timeout=target.timeout,
        )
    except paramiko.BadHostKeyException as error:
        raise _changed_key(target, error) from None
    except paramiko.AuthenticationException as error:
        raise RemoteAuthenticationError(
            f"{target.describe()} refused the login ({_auth_means(target)}): {error}"
        ) from None
    except (paramiko.SSHException, OSError, EOFError) as error:
        if str(error) == _NOTHING_TO_OFFER:  # no key, agent nor password: a refusal too
            raise RemoteAuthenticationError(
                f"{target.describe()} refused the login (no key, agent nor password to offer)"
            ) from None
        raise RemoteConnectionError(f"cannot connect to {target.describe()}: {error}") from None


def _changed_key(target: SshTarget, error: paramiko.BadHostKeyException) -> HostKeyError:
    seen = fingerprint(error.key)
    return HostKeyError(
        f"the host key of {target.describe()} CHANGED: {target.known_hosts} holds"
        f" {fingerprint(error.expected_key)}, the server presented {error.key.get_name()}"
        f" {seen}. Someone may be intercepting the connection; if the server's key really"
        f" changed, remove its old line from {target.known_hosts}"
        f" (ssh-keygen -R '{target.known_hosts_name()}') and accept the new one",
        seen,
    )


def _auth_means(target: SshTarget) -> str:
    if target.key_file is not None:
        encrypted = " with a passphrase" if target.key_passphrase else ""
        means = f"key {target.key_file}{encrypted}"
    else:
        means = "agent and default keys"
    return means + (" and password" if target.password else "")
