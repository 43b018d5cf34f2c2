"""The SLURM pilot: ``swf submit FILE --pilot 3`` on the single-node SLURM of the tests
submits ONE allocation whose 3 tasks (``srun --mpi=pmi2``) run ``swf mpi-run``."""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path

import pytest

from swf_entry.client import Helper, Job, Workflow
from swf_entry.composition import ClientOptions, open_controller
from tests.integration.mpi_fixtures import SWF, MpiGuard, jobs_by_name, mpi, wait_until
from tests.integration.slurm_fixtures import slurm_cluster

__all__ = ["mpi", "slurm_cluster"]  # fixtures, imported for pytest

pytestmark = pytest.mark.timeout(240)


def test_a_pilot_runs_the_whole_workflow_in_one_allocation(
    mpi: MpiGuard, tmp_path: Path, slurm_cluster: None
) -> None:
    config = tmp_path / "swf.cfg"
    config.write_text(
        f"[pilot_test]\nSCHEDULER_TYPE = slurm\nSUBMITTING_MACHINES = {socket.gethostname()}\n"
    )
    first = [Job(["sh", "-c", f"echo $$ > {tmp_path}/j{i}.pid"], name=f"j{i}") for i in range(8)]
    last = Job(["true"], name="last")
    workflow = Workflow([*first, last], dependencies=[(job, last) for job in first], name="pl")
    file = tmp_path / "wf.json"
    Helper.serialize(str(file), workflow)
    state = tmp_path / "state"

    options = ["--config", str(config), "--home", str(state)]
    submitted = subprocess.run(
        [str(SWF), *options, "submit", str(file), "--pilot", "3", "--json"],
        env=mpi.env(),
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert submitted.returncode == 0, submitted.stderr
    outcome = json.loads(submitted.stdout)
    home = Path(outcome["home"])
    assert home == state / "pilots" / "pl" and outcome["tasks"] == 3
    wfc = open_controller(ClientOptions(home=home, config_file=config))
    try:
        assert wait_until(lambda: len(list(wfc.workflows())) == 1, 120)
        (wf_id,) = list(wfc.workflows())
        assert wfc.wait_workflow(wf_id, timeout=120) is not False
        jobs = jobs_by_name(wfc, wf_id)
        assert {entry[1] for entry in jobs.values()} == {"done"}, jobs
        ranks = {entry[5].split(":")[0] for entry in jobs.values()}
        assert ranks <= {"rank1", "rank2"} and ranks  # run by the pilot's worker ranks
    finally:
        wfc.disconnect()

    def allocation_over() -> bool:
        queue = subprocess.run(
            ["squeue", "-h", "-j", outcome["slurm_job"]], capture_output=True, text=True
        )
        return outcome["slurm_job"] not in queue.stdout

    assert wait_until(allocation_over, 60)
    log = next(home.glob("pilot-*.log")).read_text()
    assert "Traceback" not in log, log
