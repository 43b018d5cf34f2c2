"""SSH transport of remote resources (paramiko): a verified connection (``connection``),
Unix-socket forwarding through it (``forward``) and the Pyro connector of a remote engine
(``connector``)."""

from swf_adapters.transport.ssh.connection import SshTarget, fingerprint, open_ssh

__all__ = ["SshTarget", "fingerprint", "open_ssh"]
