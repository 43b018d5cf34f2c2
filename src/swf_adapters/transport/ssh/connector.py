"""The Pyro ``Connector`` of an engine on a remote resource, reached over SSH.

At start, and whenever the link finds the engine gone (``restart``):
1. one remote command, the agent's ``ensure``: the remote python answers with its swf
   version and link protocol (a missing swf, or one whose ``major.minor`` or protocol
   differs from this client's, is a ``RemoteInstallError`` naming the remote python and
   what it found), writes the remote
   side's configuration of the resource, starts the engine daemon there if none answers,
   and says where its socket and key are;
2. the key is read over SFTP (after checking that the key file is private to the login).

The engine's Unix socket is reached through ``direct-streamlocal`` channels of the one SSH
connection (``RemoteSession``, reconnected transparently): a private local socket forwards
each Pyro connection to its own channel, so ``PyroEngineLink`` is the local one, unchanged.
"""

from __future__ import annotations

import json
import stat
from dataclasses import dataclass, field
from importlib.metadata import version
from typing import Any

import paramiko

from swf_adapters.transport.pyro.private_files import check_socket_is_ours
from swf_adapters.transport.pyro.protocol import compatible, engine_uri, local_peer, peer_of
from swf_adapters.transport.ssh.forward import SocketForwarder, open_streamlocal
from swf_adapters.transport.ssh.session import RemoteResult, RemoteSession
from swf_domain.errors import RemoteConnectionError, RemoteInstallError

AGENT_MODULE = "swf_entry.remote_agent"


@dataclass(frozen=True)
class RemoteEngineSpec:
    """Which engine to reach on the remote side, and how to run swf there."""

    resource_id: str
    #: The remote interpreter with swf (``PYTHON_COMMAND``), as an argument list.
    python: list[str] = field(default_factory=lambda: ["python3"])
    #: ``INSTALLPATH``: put on the remote ``PYTHONPATH`` (swf installed there, not in a venv).
    install_path: str | None = None
    #: The remote side's own configuration of the resource (SCHEDULER_TYPE, queues, ...).
    options: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RemoteEndpoint:
    socket: str
    key_file: str
    pid: int
    state_dir: str


class SshEngineConnector:
    """``Connector`` of a remote engine (see the module docstring)."""

    def __init__(self, session: RemoteSession, spec: RemoteEngineSpec) -> None:
        self.session = session
        self.spec = spec
        self._endpoint: RemoteEndpoint | None = None
        self._key: str | None = None
        self._forwarder = SocketForwarder(self._open_channel)
        try:
            self.restart()
        except BaseException:
            self._forwarder.close()
            raise

    @property
    def endpoint(self) -> RemoteEndpoint:
        assert self._endpoint is not None
        return self._endpoint

    # -- the Connector protocol -------------------------------------------------------
    def describe(self) -> str:
        where = self._endpoint.socket if self._endpoint else "(not started)"
        host = self.session.target.describe()
        return f"the engine of {self.spec.resource_id!r} on {host} at {where}"

    def uri(self) -> str:
        return engine_uri(self._forwarder.path)

    def key(self) -> str:
        if self._key is None:
            raise RemoteConnectionError(f"no key read yet from {self.describe()}")
        return self._key

    def check(self) -> None:
        check_socket_is_ours(self._forwarder.path)

    def restart(self) -> None:
        """Reconnect if needed, make sure the remote engine runs, read its key."""
        self._endpoint = self._ensure()
        self._key = self._read_key(self._endpoint.key_file)

    # -- steps ------------------------------------------------------------------------
    def _agent(self, *arguments: str) -> list[str]:
        prefix = ["env", f"PYTHONPATH={self.spec.install_path}"] if self.spec.install_path else []
        return [*prefix, *self.spec.python, "-m", AGENT_MODULE, *arguments]

    def _installed(self, result: RemoteResult, answer: dict[str, Any] | None) -> dict[str, Any]:
        """``answer`` if it comes from a compatible swf, else a RemoteInstallError."""
        python = " ".join(self.spec.python)
        where = self.session.target.describe()
        local = version("swf")
        if answer is None or "swf" not in answer:
            found = (result.stderr.strip().splitlines() or ["no answer"])[-1]
            raise RemoteInstallError(
                f"swf is not usable with {python!r} on {where}: {found}. Install swf"
                f" {local} there, or set PYTHON_COMMAND to the python that has it"
            )
        there, here = peer_of(answer), local_peer()
        if not compatible(there, here):
            raise RemoteInstallError(
                f"{answer.get('python', python)} on {where} has {there.describe()}; this client"
                f" is {here.describe()}: install swf {local} there (the versions must share"
                " major.minor and the link protocol)"
            )
        return answer

    def _ensure(self) -> RemoteEndpoint:
        """One remote run: the version check and the engine's start (if none answers)."""
        request = json.dumps(
            {
                "options": self.spec.options,
                "client_version": version("swf"),
                "client_protocol": local_peer().protocol,
            }
        )
        result = self.session.run(self._agent("ensure", self.spec.resource_id), stdin=request)
        answer = self._installed(result, _json_line(result.stdout))
        if result.status != 0 or "socket" not in answer:
            reason = answer.get("error") or result.stderr.strip() or "no answer"
            raise RemoteConnectionError(
                f"cannot start the engine of {self.spec.resource_id!r} on"
                f" {self.session.target.describe()}: {reason}"
            )
        return RemoteEndpoint(
            str(answer["socket"]),
            str(answer["key_file"]),
            int(answer["pid"]),
            str(answer["state_dir"]),
        )

    def _read_key(self, key_file: str) -> str:
        """The engine's key, over SFTP, once its file is found private to the login."""
        try:
            with self.session.client().open_sftp() as sftp:
                mode = sftp.stat(key_file).st_mode or 0
                if stat.S_IMODE(mode) & 0o077:
                    raise RemoteConnectionError(
                        f"{key_file} on {self.session.target.describe()} is readable by others"
                        f" (mode {stat.S_IMODE(mode):o}): refusing to use it"
                    )
                with sftp.open(key_file, "r") as remote:
                    return bytes(remote.read(4096)).decode().strip()
        except (paramiko.SSHException, OSError) as error:
            host = self.session.target.describe()
            raise RemoteConnectionError(
                f"cannot read the engine key {key_file} on {host}: {error}"
            ) from None

    def _open_channel(self) -> paramiko.Channel:
        return open_streamlocal(self.session.transport(), self.endpoint.socket)

    def stop_engine(self) -> bool:
        """Stop the remote engine (its jobs go on); True if one was stopped."""
        request = json.dumps({"options": self.spec.options})
        result = self.session.run(self._agent("stop", self.spec.resource_id), stdin=request)
        answer = _json_line(result.stdout)
        return bool(answer and answer.get("stopped"))

    def close(self) -> None:
        """Close the forwarder and the SSH connection; the remote engine goes on."""
        self._forwarder.close()
        self.session.close()


def _json_line(text: str) -> dict[str, Any] | None:
    """The agent's answer: the last line of its output that is a JSON object."""
    for line in reversed(text.strip().splitlines()):
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return None
