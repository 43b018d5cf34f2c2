"""A worker started by ``MPI_Comm_spawn`` rather than by ``mpirun``.

The scheduler contract suite runs the adapter inside the test process: it spawns its
worker ranks with ``MPI.COMM_SELF.Spawn(python -m swf_adapters.schedulers.mpi.spawned)``
and talks to them over the resulting intercommunicator, where rank 0 of the parent
group plays rank 0.

    python -m swf_adapters.schedulers.mpi.spawned --cores 2 --heartbeat 0.25
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from swf_adapters.schedulers.mpi.channel import MpiChannel
from swf_adapters.schedulers.mpi.worker import Worker


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="swf-mpi-spawned-worker", description=__doc__)
    parser.add_argument("--cores", type=int, default=1)
    parser.add_argument("--heartbeat", type=float, default=2.0)
    parser.add_argument("--kill-grace", type=float, default=2.0)
    arguments = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    from mpi4py import MPI

    parent = MPI.Comm.Get_parent()
    if parent == MPI.COMM_NULL:
        parser.error("not started by MPI_Comm_spawn (use `swf mpi-run` under mpirun)")
    worker = Worker(
        MpiChannel(parent),
        arguments.cores,
        heartbeat=arguments.heartbeat,
        kill_grace=arguments.kill_grace,
    )
    try:
        return worker.run()
    finally:
        parent.Disconnect()


if __name__ == "__main__":
    sys.exit(main())
