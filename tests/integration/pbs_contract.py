"""Contract backends of the PBS adapter on the stand-in server (tests/pbs/): PBS Pro's
command forms and Torque's; listed in scheduler_contract.BACKENDS. No real PBS server can
run here: these check the adapter against the documented formats, not against PBS."""

from __future__ import annotations

from pathlib import Path

from swf_adapters.schedulers.batch import BatchScheduler, BatchSettings
from swf_app.ports import Scheduler
from tests.integration.scheduler_contract import ContractBackend
from tests.pbs.standin import PbsStandIn, pbs_system


class PbsProBackend(ContractBackend):
    """BatchScheduler on the PBS Pro stand-in; pause = every command waits."""

    name = "pbspro-standin"
    flavor = "pbspro"
    #: Seconds the server keeps finished jobs (here: qstat says "Job has finished" for
    #: them; the cluster suites run with history off: "Unknown Job Id").
    history = 5.0

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.standin = PbsStandIn(root / "pbs", self.flavor, cores=4, history=self.history)
        self.standin.start()
        self.settings = BatchSettings(
            job_dir=root / "pbs-jobs", poll_min=0.1, poll_max=0.5, retry_first=0.2, retry_max=1.0
        )

    def new_scheduler(self) -> Scheduler:
        return BatchScheduler(pbs_system(self.standin), self.settings)

    def pause(self) -> None:
        self.standin.pause()

    def resume(self) -> None:
        self.standin.resume()

    def close(self) -> None:
        self.standin.stop()


class TorqueBackend(PbsProBackend):
    """The same on the Torque stand-in (``-t`` arrays, XML status, PBS_ARRAYID)."""

    name = "torque-standin"
    flavor = "torque"
