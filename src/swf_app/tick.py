"""What one engine tick changed: written in one store transaction, then acknowledged."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .ports import JobState

if TYPE_CHECKING:
    from .running_workflow import RunningWorkflow


@dataclass(slots=True)
class TickChanges:
    """Collected while a tick runs; a job changed twice in a tick is written once."""

    #: job id -> its whole new state (the object may be updated again within the tick).
    jobs: dict[int, JobState] = field(default_factory=dict)
    #: Workflows whose ready set or status may have changed, by serial.
    touched: dict[int, RunningWorkflow] = field(default_factory=dict)
    #: Jobs whose end this tick records: acknowledged to the scheduler after the commit.
    ended: list[int] = field(default_factory=list)
    #: Jobs to kill once the tick is committed.
    kills: list[int] = field(default_factory=list)
    #: Workflows to delete from the store after the commit.
    deleted: list[int] = field(default_factory=list)
    #: Failed attempts to run again (workflow serial, job index), queued only once the
    #: end that asked for them is committed and acknowledged (see ``retries``).
    retries: list[tuple[int, int]] = field(default_factory=list)

    def record(self, job_id: int, state: JobState) -> None:
        self.jobs[job_id] = state

    def touch(self, runtime: RunningWorkflow) -> None:
        self.touched[runtime.serial] = runtime
