"""One SSH connection to a remote resource, re-established on demand.

Everything remote (the engine's channels, its start, the key read over SFTP, part B's file
transfers) goes through ``RemoteSession.client()``: a live client, reconnected first if the
connection dropped, within ``attempts`` tries spaced by a growing delay, then a
``RemoteConnectionError`` saying how many tries failed and why. Host-key and login refusals
are not retried: trying again cannot change their answer.
"""

from __future__ import annotations

import shlex
import threading
import time
from dataclasses import dataclass

import paramiko

from swf_adapters.transport.ssh.connection import SshTarget, open_ssh
from swf_domain.errors import HostKeyError, RemoteAuthenticationError, RemoteConnectionError

#: Connection attempts before a call gives up, and the first delay between two.
RECONNECT_ATTEMPTS = 4
RECONNECT_DELAY = 0.25


@dataclass(frozen=True)
class RemoteResult:
    """What a remote command returned."""

    status: int
    stdout: str
    stderr: str


class RemoteSession:
    """A paramiko client kept connected (see the module docstring). Thread-safe."""

    def __init__(
        self,
        target: SshTarget,
        attempts: int = RECONNECT_ATTEMPTS,
        delay: float = RECONNECT_DELAY,
    ) -> None:
        self.target = target
        self._attempts = attempts
        self._delay = delay
        self._lock = threading.Lock()
        self._client: paramiko.SSHClient | None = None
        #: SSH connections opened so far (a diagnostic: it grows on reconnections).
        self.connections_opened = 0

    def client(self) -> paramiko.SSHClient:
        """A logged-in client, reconnected first if its connection is gone."""
        with self._lock:
            if self._client is None or not _alive(self._client):
                self._replace_client()
            assert self._client is not None
            return self._client

    def transport(self) -> paramiko.Transport:
        transport = self.client().get_transport()
        assert transport is not None
        return transport

    def _replace_client(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        self._client = self._connect_with_retries()
        self.connections_opened += 1

    def _connect_with_retries(self) -> paramiko.SSHClient:
        delay = self._delay
        for attempt in range(1, self._attempts + 1):
            try:
                return open_ssh(self.target)
            except (HostKeyError, RemoteAuthenticationError):
                raise
            except RemoteConnectionError as error:
                if attempt == self._attempts:
                    raise RemoteConnectionError(
                        f"{error} (gave up after {attempt} attempts)"
                    ) from None
            time.sleep(delay)
            delay *= 2
        raise AssertionError("unreachable")

    def run(
        self, argv: list[str], stdin: str | None = None, timeout: float = 120.0
    ) -> RemoteResult:
        """Run ``argv`` remotely, each argument quoted (no remote shell interprets them)."""
        command = shlex.join(argv)
        try:
            channel_in, out, err = self.client().exec_command(command, timeout=timeout)
            if stdin is not None:
                channel_in.write(stdin)
            channel_in.channel.shutdown_write()
            stdout, stderr = out.read(), err.read()
            status = out.channel.recv_exit_status()
        except (paramiko.SSHException, OSError, EOFError) as error:
            raise RemoteConnectionError(
                f"{self.target.describe()}: running {argv[0]!r} failed: {error}"
            ) from None
        return RemoteResult(status, _text(stdout), _text(stderr))

    def drop(self) -> None:
        """Forget the connection (the next ``client()`` opens a new one)."""
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def close(self) -> None:
        self.drop()


def _alive(client: paramiko.SSHClient) -> bool:
    transport = client.get_transport()
    return transport is not None and transport.is_active()


def _text(data: bytes) -> str:
    return data.decode(errors="replace")
