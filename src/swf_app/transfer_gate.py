"""Holding the jobs of a staged workflow until their input files are on the resource.

A workflow whose client does not share the resource's files (``is_staged``) has its
FileTransfers in the resource's transfer area. A job that reads one may start only once
the client has copied it there and said so (``set_transfer_status``): until then the
job is parked (still "not submitted"), and the arrival puts it back in the ready queue.
The state records in the area are the journal: an engine restarted in between reads
them again, so nothing is lost and nothing starts early.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from swf_domain.model import FileTransfer, Workflow
from swf_domain.status import TransferStatus
from swf_domain.transfer_paths import engine_path
from swf_domain.transfers import ON_RESOURCE, TransferRoles, is_staged, transfer_roles

from .ports import TransferArea
from .running_workflow import RunningWorkflow


@dataclass(slots=True)
class _Plan:
    roles: TransferRoles
    #: Ranks known to be on the resource.
    arrived: set[int] = field(default_factory=set)
    #: Ranks whose data directory exists.
    made: set[int] = field(default_factory=set)
    #: Input rank -> jobs parked until it arrives.
    parked: dict[int, list[int]] = field(default_factory=dict)


class TransferGate:
    """The engine thread's view of staged transfers (see the module docstring)."""

    def __init__(self, area: TransferArea | None) -> None:
        self._area = area

    def locator(self, workflow_id: int, workflow: Workflow) -> Callable[[FileTransfer], str] | None:
        area = self._area
        if area is None or not is_staged(workflow):
            return None
        ranks = {id(t): rank for rank, t in enumerate(transfer_roles(workflow).transfers)}

        def locate(transfer: FileTransfer) -> str:
            directory = area.directory(workflow_id, ranks[id(transfer.referent())])
            return engine_path(directory, transfer.client_path, transfer.client_paths)

        return locate

    def holds(self, runtime: RunningWorkflow, index: int) -> bool:
        """True (and the job parked) when an input of the job is not on the resource yet;
        otherwise its output directories are made and the job may start."""
        plan = self._plan(runtime)
        for rank in plan.roles.reads[index]:
            if not self._on_resource(plan, runtime.workflow_id, rank):
                plan.parked.setdefault(rank, []).append(index)
                return True
        for rank in plan.roles.writes[index]:
            if rank not in plan.made:
                self._make(runtime.workflow_id, rank)
                plan.made.add(rank)
        return False

    def arrived(self, runtime: RunningWorkflow, rank: int) -> list[int]:
        """The input ``rank`` is on the resource: the jobs parked for it."""
        plan = self._plan(runtime)
        plan.arrived.add(rank)
        return plan.parked.pop(rank, [])

    def _plan(self, runtime: RunningWorkflow) -> _Plan:
        if runtime.transfer_plan is None:
            runtime.transfer_plan = _Plan(transfer_roles(runtime.workflow))
        plan: _Plan = runtime.transfer_plan
        return plan

    def _on_resource(self, plan: _Plan, workflow_id: int, rank: int) -> bool:
        if rank in plan.arrived:
            return True
        assert self._area is not None  # a gated workflow exists only with an area
        state = self._area.state(workflow_id, rank)
        if state is not None and TransferStatus(state["status"]) in ON_RESOURCE:
            plan.arrived.add(rank)
            return True
        return False

    def _make(self, workflow_id: int, rank: int) -> None:
        assert self._area is not None
        self._area.make(workflow_id, rank)
