"""The embedded ("light" mode) link: the engine runs in the client's process."""

from __future__ import annotations

import os

from swf_app.service import EngineService


class EmbeddedLink(EngineService):
    """The in-process link: closing the client stops the engine thread.

    Jobs keep running in the job host, and the next engine for the same state directory
    (embedded or daemon) picks them up, so closing is never destructive. The link holds
    the state directory's engine lock (the daemon's), so that one engine at most drives a
    store and its job host, whichever way it was started.
    """

    lock_descriptor: int | None = None

    def close(self) -> None:
        try:
            self.shutdown()
        finally:
            if self.lock_descriptor is not None:
                os.close(self.lock_descriptor)  # releases the flock
                self.lock_descriptor = None
