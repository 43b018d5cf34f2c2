"""swf's own lines in a job's output files (why it could not start, why it was killed).

Every scheduler and the engine's workspace write them into files under swf's job
directories, where an earlier job may have planted a symlink to reach the engine's own
files: so they are never written through one (the open fails with ELOOP and the caller
logs the reason instead). One place, so that the rule cannot drift between writers; the
batch wrapper, a standalone script on the cluster's nodes, keeps its own few lines.
"""

from __future__ import annotations

import logging
import os

_log = logging.getLogger("swf.process")
_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
_MODE = 0o666


def write_reason(path: str, text: str, truncate: bool = False) -> None:
    """Append ``text`` to ``path`` (or replace its content), never through a symlink
    at ``path``; raises OSError."""
    flags = _FLAGS | (os.O_TRUNC if truncate else os.O_APPEND)
    descriptor = os.open(path, flags, _MODE)
    try:
        os.write(descriptor, text.encode())
    finally:
        os.close(descriptor)


def tell_job(path: str | None, reason: str, truncate: bool = False) -> None:
    """Write ``swf: <reason>`` where the job's user will look (its error output, or its
    output when it has none); log it instead when that cannot be written."""
    if path is None:
        return
    try:
        write_reason(path, f"swf: {reason}\n", truncate)
    except OSError as error:
        _log.warning("cannot write %r to %r: %s", reason, path, error)
