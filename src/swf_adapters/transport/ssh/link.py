"""The link of a remote resource: ``PyroEngineLink`` over an ``SshEngineConnector``."""

from __future__ import annotations

from swf_adapters.transfer.openssh_stream import OpenSshStreams
from swf_adapters.transfer.sftp_tree import SftpTree
from swf_adapters.transport.pyro.client import PyroEngineLink
from swf_adapters.transport.ssh.connection import SshTarget
from swf_adapters.transport.ssh.connector import RemoteEngineSpec, SshEngineConnector
from swf_adapters.transport.ssh.session import RemoteSession


class SshEngineLink(PyroEngineLink):
    """A Pyro link whose ``close`` also closes the SSH connection (the engine goes on)."""

    connector: SshEngineConnector

    def close(self) -> None:
        super().close()
        self.connector.close()

    def resource_tree(self) -> SftpTree:
        """The resource's files over SFTP, through this link's SSH connection (file
        transfers: ``swf_entry.composition.facade_transfers``); files are hashed there by
        the resource's ``PYTHON_COMMAND``, not whatever ``python3`` its PATH has; big
        files' bytes go through the OpenSSH client where it logs in (``openssh_stream``)."""
        spec, session = self.connector.spec, self.connector.session
        streams = OpenSshStreams(session.target, spec.python)
        return SftpTree(session.client, python=spec.python, openssh=streams)

    def stop_engine(self) -> bool:
        """Stop the remote engine (``swf engine stop``); its jobs go on."""
        return self.connector.stop_engine()


def remote_engine_link(target: SshTarget, spec: RemoteEngineSpec) -> SshEngineLink:
    """Log in, check swf there, start its engine if needed, and link to it."""
    connector = SshEngineConnector(RemoteSession(target), spec)
    return SshEngineLink(connector=connector)
