"""The line formats the job host writes to its journal and exchanges with the engine.

One record per line, each a JSON array whose first item is a one-letter tag. The host
writes the very same bytes to the journal and to the engine (formatted once, with
f-strings rather than ``json.dumps`` because that is the hot path), and batches: many
lines per write under load. Engine to host:

- ``["H", version, env, cwd]`` hello: the engine's environment and working directory,
  the base every job of this connection starts from;
- ``["J", [[job_id, argv, env, stdout, stderr, cwd, stdin, private], ...]]`` submit a
  batch (``private``: ``LaunchRequest.private_outputs``, since version 2);
- ``["K", job_id, ...]`` kill; ``["A", job_id, ...]`` acknowledge ends.

Host to engine (and journal):

- ``["W", version, [held job ids]]`` welcome, the answer to hello (never journaled);
- ``["S", job_id, pid, start]`` spawned, ``["E", job_id, pid, exit_status, exit_value,
  term_signal, usage, start, end]`` ended (``swf_adapters.process.ends``: the MPI
  worker ranks tell the same records);
- ``["A", job_id, ...]`` acknowledged (journal only: the host may forget those ends).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from swf_adapters.process import ends

PROTOCOL_VERSION = 2

HELLO = "H"
WELCOME = "W"
SUBMIT = "J"
KILL = "K"
ACKNOWLEDGED = "A"
SPAWNED = ends.STARTED
ENDED = ends.ENDED

#: A submitted job as it travels: job_id, argv, env, stdout, stderr, cwd, stdin, private.
JobSpec = tuple[int, list[str], dict[str, str], str, str | None, str | None, str | None, bool]


def ids_line(tag: str, job_ids: Iterable[int]) -> str:
    return "[" + ",".join([f'"{tag}"', *[str(int(job_id)) for job_id in job_ids]]) + "]\n"


def hello_line(env: Mapping[str, str], cwd: str) -> str:
    return json.dumps([HELLO, PROTOCOL_VERSION, dict(env), cwd]) + "\n"


def welcome_line(held: Iterable[int]) -> str:
    return json.dumps([WELCOME, PROTOCOL_VERSION, sorted(held)]) + "\n"


def submit_line(specs: Sequence[JobSpec]) -> str:
    return json.dumps([SUBMIT, specs]) + "\n"  # default arguments: json's cached encoder


def parse_lines(chunk: bytes, on_bad_line: Callable[[bytes], None]) -> list[Any]:
    """Decode complete lines (``chunk`` holds no partial line), in one ``json.loads`` call.

    JSON never contains a raw newline, so joining the lines with commas makes one array:
    one parser call per batch instead of one per record. A batch holding a bad line (a
    journal line cut by a crash) is decoded again line by line, skipping the bad ones.
    """
    try:
        text = chunk.strip(b"\n").replace(b"\n", b",").decode()
        records = json.loads(f"[{text}]")
    except ValueError:  # UnicodeDecodeError included
        records = []
        for line in chunk.splitlines():
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except ValueError:
                on_bad_line(line)
    return [record for record in records if isinstance(record, list) and record]


def split_complete(buffer: bytes) -> tuple[bytes, bytes]:
    """(complete lines, trailing partial line) of a receive buffer."""
    cut = buffer.rfind(b"\n")
    if cut < 0:
        return b"", buffer
    return buffer[: cut + 1], buffer[cut + 1 :]
