"""Timestamps of each step of a small workflow's life, in every process (bench only).

``bench_latency.py --trace FILE`` loads this module in the client and, through a
``sitecustomize`` on PYTHONPATH, in the engine daemon and the job host it starts. Each
wrapped function appends ``monotonic_ns pid name B|E size`` lines to FILE (``size``: the
length of the first sequence argument, e.g. the jobs of a submit batch). CLOCK_MONOTONIC
is one clock for the whole machine, so the lines of the three processes interleave.
``summarize`` turns the file into per-step medians over the rounds.

The wrapped functions are named by module and qualified name; a name a tree does not have
is skipped, so the pre-reshape tree can be traced too.
"""

from __future__ import annotations

import functools
import importlib
import os
import runpy
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

#: (module, qualified name) of the functions timed.
TARGETS = [
    ("swf_entry.client", "WorkflowController.submit_workflow"),
    ("swf_entry.client", "WorkflowController.wait_workflow"),
    ("swf_adapters.transport.pyro.client", "PyroEngineLink._attempt"),
    ("swf_adapters.transport.pyro.server", "EngineObject.call"),
    ("swf_adapters.transport.pyro.server", "EngineObject._invoke"),
    ("swf_app.service", "EngineService.submit_workflow"),
    ("swf_app.service", "EngineService.wait_workflow"),
    ("swf_adapters.store.sqlalchemy_store", "SqlAlchemyStore.add_workflow"),
    ("swf_adapters.store.sqlalchemy_store", "SqlAlchemyStore.apply"),
    ("swf_app.engine", "Engine.add_workflow"),
    ("swf_app.engine", "Engine._tick"),
    ("swf_app.engine", "Engine._commit"),
    ("swf_app.notifier", "ChangeNotifier.changed"),
    ("swf_adapters.schedulers.local.adapter", "LocalScheduler.submit"),
    ("swf_adapters.schedulers.local.adapter", "LocalScheduler._deliver"),
    ("swf_adapters.schedulers.local.adapter", "LocalScheduler.acknowledge"),
    ("swf_adapters.schedulers.local.host", "JobHost._start"),
    ("swf_adapters.schedulers.local.host", "JobHost._reap"),
    ("swf_adapters.schedulers.local.host", "JobHost._write_journal"),
    ("swf_adapters.schedulers.local.host", "JobHost._broadcast"),
    ("os", "posix_spawn"),
]
HOST_MAIN = "swf_adapters.schedulers.local.host"

_fd: int | None = None


def _write(line: str) -> None:
    if _fd is not None:
        os.write(_fd, line.encode())


def mark(what: str, number: int) -> None:
    _write(f"{time.monotonic_ns()} {os.getpid()} mark:{what} M {number}\n")


def _size(args: Sequence[Any]) -> int:
    for arg in args[1:2]:
        if isinstance(arg, list | tuple | dict | set | frozenset):
            return len(arg)
    return -1


def _timed(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)
    def timed(*args: Any, **kwargs: Any) -> Any:
        pid = os.getpid()
        _write(f"{time.monotonic_ns()} {pid} {name} B {_size(args)}\n")
        try:
            return function(*args, **kwargs)
        finally:
            _write(f"{time.monotonic_ns()} {pid} {name} E -1\n")

    return timed


def _wrap_all() -> None:
    for module_name, qualified in TARGETS:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        owner_name, _, attribute = qualified.rpartition(".")
        owner = getattr(module, owner_name, None) if owner_name else module
        function = getattr(owner, attribute, None) if owner is not None else None
        if function is None or getattr(function, "__wrapped__", None) is not None:
            continue
        setattr(owner, attribute, _timed(qualified, function))


def _run_host_traced(original: Callable[..., Any]) -> Callable[..., Any]:
    """``python -m`` runs the job host as ``__main__``, a copy the wrapping above cannot
    reach: run its ``main`` from the imported (wrapped) module instead."""

    def run_module(mod_name: str, *args: Any, **kwargs: Any) -> Any:
        if mod_name != HOST_MAIN:
            return original(mod_name, *args, **kwargs)
        module = importlib.import_module(HOST_MAIN)
        sys.exit(module.main())

    return run_module


def install() -> None:
    """Open the trace file of SWF_LATENCY_TRACE and wrap the targets (nothing without it)."""
    global _fd
    path = os.environ.get("SWF_LATENCY_TRACE")
    if not path or _fd is not None:
        return
    _fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    _wrap_all()
    runpy._run_module_as_main = _run_host_traced(runpy._run_module_as_main)  # type: ignore[attr-defined]


# -- reading a trace ------------------------------------------------------------------------


def _rounds(
    lines: list[tuple[int, int, str, str, int]],
) -> list[list[tuple[int, int, str, str, int]]]:
    """The lines of each timed round (from its ``round`` mark to its ``waited`` mark)."""
    rounds, current = [], None
    for line in lines:
        _, _, name, _, number = line
        if name == "mark:round":
            current = [line] if number >= 0 else None
        elif current is not None:
            current.append(line)
            if name == "mark:waited":
                rounds.append(current)
                current = None
    return rounds


def _steps(lines: list[tuple[int, int, str, str, int]]) -> dict[str, float]:
    """Milliseconds from the round's start to the first / last occurrence of each event,
    and counts of calls, for one round."""
    start = lines[0][0]
    found: dict[str, float] = {}
    counts: dict[str, int] = defaultdict(int)
    busy: dict[str, float] = defaultdict(float)
    open_calls: dict[tuple[int, str], int] = {}
    for stamp, pid, name, kind, _ in lines:
        at = (stamp - start) / 1e6
        key = f"{name} {kind}"
        found.setdefault(f"first {key}", at)
        found[f"last {key}"] = at
        if kind == "B":
            counts[name] += 1
            open_calls[(pid, name)] = stamp
        elif kind == "E" and (pid, name) in open_calls:
            busy[name] += (stamp - open_calls.pop((pid, name))) / 1e6
    found.update({f"calls {name}": float(count) for name, count in counts.items()})
    found.update({f"busy ms {name}": value for name, value in busy.items()})
    return found


def summarize(path: Path) -> str:
    lines = []
    for text in path.read_text().splitlines():
        stamp, pid, name, kind, size = text.split()
        lines.append((int(stamp), int(pid), name, kind, int(size)))
    lines.sort()
    per_round = [_steps(chunk) for chunk in _rounds(lines)]
    keys = sorted(
        {key for steps in per_round for key in steps},
        key=lambda k: (
            statistics.median([s[k] for s in per_round if k in s])
            if k.startswith(("first", "last"))
            else 1e9,
            k,
        ),
    )
    out = [f"{len(per_round)} rounds; ms from submit (median, p10-p90)"]
    for key in keys:
        values = sorted(s[key] for s in per_round if key in s)
        deciles = statistics.quantiles(values, n=10) if len(values) > 1 else [values[0]] * 9
        out.append(
            f"  {key:58s} {statistics.median(values):8.2f}  ({deciles[0]:.2f}-{deciles[-1]:.2f})"
        )
    return "\n".join(out)


if __name__ == "__main__":
    print(summarize(Path(sys.argv[1])))
