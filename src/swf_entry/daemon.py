"""``python -m swf_entry.daemon``: the engine daemon's process main.

What the engine process does and how clients start, find and stop it is an adapter
(``swf_adapters.transport.pyro.local_daemon``); this entry parses the command line, detaches,
sets up logging and runs it. The names clients use are re-exported here.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from swf_adapters.transport.pyro.local_daemon import (
    DEFAULT_FACTORY,
    DEFAULT_IDLE_TIMEOUT,
    EngineEndpoint,
    EngineLayout,
    EngineOptions,
    engine_status,
    ensure_engine,
    live_endpoint,
    local_engine_link,
    lock_holder,
    run_engine,
    stop_engine,
    take_engine_lock,
)

__all__ = [
    "DEFAULT_FACTORY",
    "EngineEndpoint",
    "EngineLayout",
    "EngineOptions",
    "engine_status",
    "ensure_engine",
    "live_endpoint",
    "local_engine_link",
    "lock_holder",
    "main",
    "stop_engine",
    "take_engine_lock",
]


def _detach() -> None:
    """Fork once more so the engine is nobody's child and never a session leader."""
    if os.fork() > 0:
        os._exit(0)


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m swf_entry.daemon", description="Run the swf engine for a state directory."
    )
    parser.add_argument("--state-dir", required=True, type=Path)
    parser.add_argument("--factory", default=DEFAULT_FACTORY, help="module:function")
    parser.add_argument("--config", type=Path, default=None)
    parser.add_argument("--resource", default=None)
    parser.add_argument(
        "--idle-timeout",
        type=float,
        default=DEFAULT_IDLE_TIMEOUT,
        help="exit after this many seconds without clients nor running work (0: never)",
    )
    parser.add_argument("--detach", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--ready-fd", type=int, default=None, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    if args.ready_fd is not None:
        os.set_inheritable(args.ready_fd, False)  # jobs must not keep the starter waiting
    if args.detach:
        _detach()
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(process)d %(name)s %(levelname)s %(message)s",
    )
    options = EngineOptions(args.factory, args.config, args.resource, args.idle_timeout)
    return run_engine(EngineLayout.of(args.state_dir), options, args.ready_fd)


def _exit_even_with_stray_threads(code: int) -> None:
    """A stuck non-daemon thread of the service must not keep a stopped engine alive."""
    stray = [
        thread.name
        for thread in threading.enumerate()
        if thread is not threading.main_thread() and not thread.daemon and thread.is_alive()
    ]
    logging.shutdown()
    if stray:
        sys.stderr.write(f"engine exiting despite running threads: {', '.join(stray)}\n")
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    _exit_even_with_stray_threads(main())
