"""Reading job output files on the local resource, for ``read_job_output``."""

from __future__ import annotations

import os

from swf_app.ports import WorkspaceError


class LocalOutputReader:
    """A ``JobOutputReader`` for files on this machine (the local resource)."""

    def read(self, path: str, offset: int, limit: int) -> tuple[bytes, int, int | None]:
        try:
            descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        except FileNotFoundError:
            return b"", max(0, offset), None
        except OSError as error:
            raise WorkspaceError(f"cannot read job output {path}: {error.strerror}") from None
        try:
            size = os.fstat(descriptor).st_size
            start = max(0, size + offset) if offset < 0 else offset
            data = os.pread(descriptor, limit, start) if limit > 0 and start < size else b""
        except OSError as error:
            raise WorkspaceError(f"cannot read job output {path}: {error.strerror}") from None
        finally:
            os.close(descriptor)
        return data, start, size
