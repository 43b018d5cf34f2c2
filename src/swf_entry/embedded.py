"""The embedded ("light" mode) link: the engine runs in the client's process."""

from __future__ import annotations

import os
import shutil
import weakref
from pathlib import Path

from swf_app.engine import Engine
from swf_app.ports import WorkflowStore
from swf_app.service import EngineService


class EmbeddedLink(EngineService):
    """The in-process link: closing the client stops the engine thread.

    Jobs keep running in the job host, and the next engine for the same state directory
    (embedded or daemon) picks them up, so closing is never destructive. The link holds
    the state directory's engine lock (the daemon's), so that one engine at most drives a
    store and its job host, whichever way it was started.
    """

    lock_descriptor: int | None = None
    _finalizer: weakref.finalize[..., EmbeddedLink] | None = None

    def remove_on_close(self, directory: Path) -> None:
        """Own a throwaway state directory (``isolated_light_mode=True``): it goes, with
        the engine, when the link is closed, garbage collected, or at interpreter exit.

        A job still running then goes on, unwatched, and its job host leaves once it
        ends (nothing can observe it any more: the database went with the directory).
        """
        self._finalizer = weakref.finalize(
            self, _tear_down, self._engine, self._store, self.lock_descriptor, directory
        )
        self.lock_descriptor = None  # the finalizer releases it

    def close(self) -> None:
        if self._finalizer is not None:
            self._finalizer()
            return
        try:
            self.shutdown()
        finally:
            if self.lock_descriptor is not None:
                os.close(self.lock_descriptor)  # releases the flock
                self.lock_descriptor = None


def _tear_down(
    engine: Engine, store: WorkflowStore, lock_descriptor: int | None, directory: Path
) -> None:
    try:
        engine.shutdown()
    finally:
        store.close()
        if lock_descriptor is not None:
            os.close(lock_descriptor)
        shutil.rmtree(directory, ignore_errors=True)
