"""The job host's journal: every spawn and end, appended before the engine hears of it.

It lets a new host (after the previous one died) know which jobs were running and which
ends the engine has not acknowledged. Appends are plain ``write`` calls, no ``fsync``: the
journal must survive the death of processes, not a power cut. Acknowledgements are
journaled too, and the file is rewritten with only what is still live once it has grown
well beyond that, so it stays bounded however many jobs run.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from swf_adapters.process import ends
from swf_adapters.schedulers.local import wire
from swf_adapters.schedulers.local.layout import write_private

_log = logging.getLogger(__name__)

#: Rewrite once this many records were appended and they outnumber live ones 4 to 1.
_COMPACT_AFTER = 4096


@dataclass(slots=True)
class JournalState:
    """What a journal says: spawn lines of jobs without an end, and unacknowledged ends."""

    running: dict[int, list[Any]] = field(default_factory=dict)
    ended: dict[int, str] = field(default_factory=dict)


def read_journal(path: Path) -> JournalState:
    """Replay a journal file (a line cut short by a crash is skipped)."""
    state = JournalState()
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return state
    complete, partial = wire.split_complete(data)
    if partial.strip():
        _log.warning("journal %s: ignoring a truncated last line", path)
    for record in wire.parse_lines(complete, _warn_bad_line):
        tag = record[0]
        if tag == wire.SPAWNED and len(record) == 4:
            state.running[int(record[1])] = record
            state.ended.pop(int(record[1]), None)
        elif tag == wire.ENDED and len(record) == 9:
            job_id = int(record[1])
            state.running.pop(job_id, None)
            state.ended[job_id] = ends.ended_line(
                job_id, record[2], record[7], ends.end_facts(record)
            )
        elif tag == wire.ACKNOWLEDGED:
            for job_id in record[1:]:
                state.ended.pop(int(job_id), None)
    return state


def _warn_bad_line(line: bytes) -> None:
    _log.warning("journal: skipping an unreadable line %r", line[:200])


class Journal:
    """The append side of the journal, owned by the one host holding the lock."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._fd = self._open()
        self._appended = 0

    def _open(self) -> int:
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
        return os.open(self._path, flags, 0o600)

    def append(self, data: bytes, records: int) -> None:
        """Append complete lines (one write per batch)."""
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        self._appended += records

    def needs_compaction(self, live_records: int) -> bool:
        return self._appended > _COMPACT_AFTER and self._appended > 4 * live_records

    def rewrite(self, lines: Iterable[str]) -> None:
        """Replace the journal with ``lines`` (the live state), atomically."""
        data = "".join(lines).encode()
        write_private(self._path, data)
        os.close(self._fd)
        self._fd = self._open()
        self._appended = data.count(b"\n")

    def remove(self) -> None:
        """Delete the journal (the host holds nothing any more)."""
        os.close(self._fd)
        self._fd = -1
        self._path.unlink(missing_ok=True)
