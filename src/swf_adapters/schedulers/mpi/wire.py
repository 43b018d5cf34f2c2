"""What rank 0 and the worker ranks say to each other: three tags, JSON payloads.

Every message is a batch, so that the hot path never pays one MPI message per job:

- ``HELLO`` (worker -> 0): ``{"rank", "host", "pid", "cores", "inventory", "held",
  "ended"}``, once at start and again whenever rank 0 asks for an inventory: ``held``
  lists the jobs it has (``[job_id, pid, start, slots]``, pid 0 while queued) and
  ``ended`` the end records rank 0 has not acknowledged yet, so that a new adapter on
  rank 0 adopts what the previous one left;
- ``ORDERS`` (0 -> worker): ``{"jobs": [spec, ...], "kill": [job_id, ...], "ack":
  [job_id, ...], "inventory": bool, "stop": bool}``, where a spec is ``[job_id, argv,
  env, stdout, stderr, cwd, stdin, slots, timeout, private]`` (``env`` only holds the
  job's own variables; ``timeout`` in seconds or null; ``private``:
  ``LaunchRequest.private_outputs``). Acknowledged ends are forgotten. An empty order is
  rank 0's heartbeat;
- ``REPORT`` (worker -> 0): a list of records, ``["S", job_id, pid, start]`` when a job
  started and ``["E", job_id, pid, exit_status, exit_value, term_signal, usage, start,
  end]`` when it ended (``swf_adapters.process.ends``: the local job host's records).
  An empty report is the worker's heartbeat; ``["B"]`` alone says goodbye.

JSON rather than pickle: the payloads are plain data, and nothing that arrives is ever
executed, whichever process sent it.
"""

from __future__ import annotations

import json
from typing import Any

from swf_adapters.process import ends

HELLO = 1
ORDERS = 2
REPORT = 3

STARTED = ends.STARTED
ENDED = ends.ENDED
BYE = "B"

#: A job as it travels to its worker (see the module docstring).
JobSpec = list[Any]

SPEC_ID, SPEC_ARGV, SPEC_ENV, SPEC_STDOUT, SPEC_STDERR, SPEC_CWD, SPEC_STDIN = range(7)
SPEC_SLOTS, SPEC_TIMEOUT, SPEC_PRIVATE = 7, 8, 9


def encode(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def decode(data: bytes) -> Any:
    return json.loads(data)


def orders(
    jobs: list[JobSpec],
    kill: list[int],
    stop: bool = False,
    ack: list[int] | None = None,
    inventory: bool = False,
) -> bytes:
    return encode(
        {"jobs": jobs, "kill": kill, "ack": ack or [], "inventory": inventory, "stop": stop}
    )
