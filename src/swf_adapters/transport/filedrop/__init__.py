"""Reaching an engine that only shares a file system with its clients (the MPI runner).

An engine inside an MPI allocation runs on a compute node that clients on a login node
cannot connect to; what they share is the file system holding the state directory and
the store. So clients read the store themselves (like ``SplitLink``), and commands travel
as files: the client drops a request into ``DIR/control/``, the runner picks it up on its
next look (a directory listing every half second), runs it on its ``EngineService`` and
drops the answer beside it. ``DIR/runner.json`` says which runner drives the directory and
whether it is alive (a heartbeat date), so a client never waits on a runner that is gone.

Only JSON crosses, in a directory private to the user (0700): nothing is unpickled, and
only the link's command operations can be asked for.
"""

from __future__ import annotations

from swf_adapters.transport.filedrop.client import FileDropLink
from swf_adapters.transport.filedrop.layout import ControlLayout, RunnerInfo, read_runner
from swf_adapters.transport.filedrop.server import ControlServer

__all__ = ["ControlLayout", "ControlServer", "FileDropLink", "RunnerInfo", "read_runner"]
