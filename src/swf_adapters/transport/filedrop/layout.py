"""Where the runner and its clients meet: the control directory and ``runner.json``."""

from __future__ import annotations

import os
import secrets
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from swf_adapters.transport.pyro.private_files import (
    ensure_private_dir,
    read_json,
    write_private_json,
)

#: The runner rewrites its heartbeat this often; clients give up on it after STALE_AFTER.
HEARTBEAT_EVERY = 5.0
STALE_AFTER = 30.0
REQUEST_SUFFIX = ".request.json"
ANSWER_SUFFIX = ".answer.json"


@dataclass(frozen=True, slots=True)
class ControlLayout:
    """The files of one state directory's runner."""

    state_dir: Path

    @property
    def control_dir(self) -> Path:
        return self.state_dir / "control"

    @property
    def runner_file(self) -> Path:
        return self.state_dir / "runner.json"

    def ensure(self) -> None:
        ensure_private_dir(self.state_dir)
        ensure_private_dir(self.control_dir)

    def new_request(self) -> tuple[Path, Path]:
        """(request path, answer path) of a new, unique request."""
        token = f"{time.time():.6f}-{os.getpid()}-{secrets.token_hex(6)}"
        return (
            self.control_dir / f"{token}{REQUEST_SUFFIX}",
            self.control_dir / f"{token}{ANSWER_SUFFIX}",
        )


@dataclass(frozen=True, slots=True)
class RunnerInfo:
    """What ``runner.json`` says: who drives the directory, and whether it still does."""

    kind: str
    host: str
    pid: int
    started_at: float
    heartbeat_at: float
    ended_at: float | None
    details: dict[str, Any]

    @property
    def queued(self) -> bool:
        """A pilot submitted to a batch system whose allocation has not started yet."""
        return self.ended_at is None and bool(self.details.get("queued"))

    def alive(self, now: float | None = None) -> bool:
        now = time.time() if now is None else now
        return not self.queued and self.ended_at is None and now - self.heartbeat_at < STALE_AFTER

    def describe(self) -> str:
        where = f"{self.kind} runner (pid {self.pid} on {self.host})"
        if self.queued:
            return f"the {self.kind} pilot (batch job {self.details.get('slurm_job')}) is queued"
        if self.ended_at is not None:
            return f"the {where} ended at {time.ctime(self.ended_at)}"
        if not self.alive():
            return f"the {where} has not been heard of since {time.ctime(self.heartbeat_at)}"
        return f"the {where} runs since {time.ctime(self.started_at)}"


def read_runner(state_dir: Path) -> RunnerInfo | None:
    """The runner bound to ``state_dir``, if a runner ever drove it."""
    data = read_json(ControlLayout(state_dir).runner_file)
    if data is None:
        return None
    try:
        ended = data.get("ended_at")
        return RunnerInfo(
            kind=str(data["kind"]),
            host=str(data["host"]),
            pid=int(data["pid"]),
            started_at=float(data["started_at"]),
            heartbeat_at=float(data["heartbeat_at"]),
            ended_at=None if ended is None else float(ended),
            details=dict(data.get("details") or {}),
        )
    except (KeyError, TypeError, ValueError):
        return None


def write_runner(
    layout: ControlLayout,
    kind: str,
    started_at: float,
    details: dict[str, Any],
    ended_at: float | None = None,
) -> None:
    write_private_json(
        layout.runner_file,
        {
            "kind": kind,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "started_at": started_at,
            "heartbeat_at": time.time(),
            "ended_at": ended_at,
            "details": details,
        },
    )
