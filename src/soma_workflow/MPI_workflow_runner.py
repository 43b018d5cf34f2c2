"""``mpirun ... python -m soma_workflow.MPI_workflow_runner``: soma-workflow's MPI runner
command line, run by ``swf mpi-run`` (see the package docstring).

Its spellings carry over: ``[RESOURCE_ID] --workflow=FILE`` or ``[RESOURCE_ID] -r WF_ID``,
``--nb_attempt_per_job=N``, ``--log_level=L``; the resource's ``MPI_JOB_TIMEOUT`` is read.
"""

from __future__ import annotations

import sys

from swf_entry.cli.app import main as _swf_main


def main() -> None:
    sys.argv[1:1] = ["mpi-run"]
    _swf_main(prog_name="python -m soma_workflow.MPI_workflow_runner")


if __name__ == "__main__":
    main()
