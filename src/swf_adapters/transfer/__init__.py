"""Moving FileTransfer data: the local disk as a ``FileTree``, SFTP, the transfer area."""
