"""Running the batch system's commands: argument lists (never a shell), timeouts, counts.

Counting every call per program lets tests and benchmarks check the promise made to the
cluster's administrators: one submission per batch, one status call per poll.
"""

from __future__ import annotations

import subprocess
import threading
from collections import Counter
from dataclasses import dataclass

#: Exit code reported when a command did not answer in time (as ``timeout(1)`` does).
TIMED_OUT = 124


@dataclass(frozen=True, slots=True)
class CommandResult:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def message(self) -> str:
        """What the command said about its failure, in one line for a user."""
        text = (self.stderr.strip() or self.stdout.strip()).replace("\n", " / ")
        return text or f"{self.argv[0]} exited with {self.returncode}"


class CommandRunner:
    """Runs commands with a timeout and counts the calls per program (thread-safe)."""

    def __init__(self, timeout: float = 60.0) -> None:
        self.timeout = timeout
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()

    def run(self, argv: list[str], timeout: float | None = None) -> CommandResult:
        with self._lock:
            self.calls[argv[0].rsplit("/", 1)[-1]] += 1
        try:
            done = subprocess.run(
                argv,
                capture_output=True,
                text=True,
                timeout=timeout or self.timeout,
                stdin=subprocess.DEVNULL,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return CommandResult(tuple(argv), TIMED_OUT, "", f"{argv[0]}: no answer in time")
        except OSError as error:  # the command itself is missing: nothing to retry
            return CommandResult(tuple(argv), 127, "", f"{argv[0]}: {error}")
        return CommandResult(tuple(argv), done.returncode, done.stdout, done.stderr)


class Backoff:
    """Waiting times between retries of a controller that does not answer: doubling from
    ``first`` up to ``ceiling`` seconds, back to ``first`` after a success."""

    def __init__(self, first: float = 1.0, ceiling: float = 60.0) -> None:
        self.first, self.ceiling = first, ceiling
        self._next = first

    def next_delay(self) -> float:
        delay = self._next
        self._next = min(self._next * 2, self.ceiling)
        return delay

    def reset(self) -> None:
        self._next = self.first
