"""The MPI scheduler: jobs on the worker ranks of one MPI allocation (pilot mode).

Everything MPI-specific lives here: the wire format between ranks (``wire``), the only
module that calls mpi4py (``channel``), the worker ranks' loop (``worker``) and the
``Scheduler`` adapter rank 0 runs beside the engine (``adapter``). The entry that puts
them together under ``mpirun`` is ``swf_entry.mpi_run``. mpi4py is imported only when a
real communicator is used, so this package loads without it.
"""

from __future__ import annotations

from swf_adapters.schedulers.mpi.adapter import MpiScheduler
from swf_adapters.schedulers.mpi.worker import Worker

__all__ = ["MpiScheduler", "Worker"]
