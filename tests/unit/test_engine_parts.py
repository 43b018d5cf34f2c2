"""The engine's small parts: ready queue, slot budget, job ids, notifier, inbox."""

from __future__ import annotations

import threading
import time

import pytest

from swf_app.capacity_budget import CapacityBudget
from swf_app.inbox import Command, Inbox
from swf_app.job_ids import JobIds
from swf_app.notifier import ChangeNotifier
from swf_app.ports import (
    Capacity,
    CapacityUnit,
    ParallelSpec,
    job_id_of_launch_name,
    launch_name,
)
from swf_app.ready_queue import ReadyQueue
from swf_domain.errors import EngineError


def drain(queue: ReadyQueue, name: str | None) -> list[tuple[int, int]]:
    popped = []
    while (top := queue.peek(name)) is not None:
        popped.append(top)
        queue.pop(name)
    return popped


def test_ready_queue_priority_then_arrival_across_workflows() -> None:
    queue = ReadyQueue()
    queue.push_many(None, 1, [(0, 10), (5, 11), (0, 12)])
    queue.push(None, 5, 2, 3)
    queue.push(None, -(10**12), 2, 4)  # clamped, still last
    queue.push_many(None, 3, [(10**12, 0)])  # clamped, still first
    assert drain(queue, None) == [(3, 0), (1, 11), (2, 3), (1, 10), (1, 12), (2, 4)]


def test_ready_queue_bulk_push_into_a_big_heap_keeps_order() -> None:
    queue = ReadyQueue()
    queue.push_many("q", 1, [(index % 3, index) for index in range(1000)])
    queue.push_many("q", 2, [(1, 5), (2, 6)])
    popped = drain(queue, "q")
    assert len(popped) == 1002
    ranks = {index: index % 3 for index in range(1000)}
    priorities = [ranks[i] if s == 1 else {5: 1, 6: 2}[i] for s, i in popped]
    assert priorities == sorted(priorities, reverse=True)
    assert queue.queues_by_urgency() == []


def test_ready_queue_urgency_and_entries() -> None:
    queue = ReadyQueue()
    queue.push("low", 1, 1, 0)
    queue.push("high", 9, 1, 1)
    assert queue.queues_by_urgency() == ["high", "low"]
    assert sorted(queue.entries(), key=str) == [("high", 1, 1), ("low", 1, 0)]
    assert len(queue) == 2


def test_capacity_budget_counts_cpus_and_clamps_to_the_capacity() -> None:
    budget = CapacityBudget(Capacity(CapacityUnit.CPUS, 4, {"short": 1}))
    assert budget.cost(None, ParallelSpec("MPI", 2, 5)) == 4
    assert budget.cost("short", ParallelSpec("native", 1, 3)) == 1
    assert budget.cost(None, None) == 1
    budget.take("short", 1)
    assert not budget.has_room("short") and budget.has_room(None)
    assert budget.fits(None, 3) and not budget.fits(None, 4)
    budget.take(None, 3)
    assert not budget.has_room(None)
    budget.release("short", 1, queued=True)
    assert budget.has_room("short") and budget.fits("short", 1)


def test_capacity_budget_in_jobs_ignores_job_sizes() -> None:
    budget = CapacityBudget(Capacity(CapacityUnit.JOBS, 2))
    assert budget.cost(None, ParallelSpec("MPI", 8, 8)) == 1
    budget.take(None, 1)
    budget.take(None, 1)
    assert not budget.has_room(None)


def test_capacity_budget_without_a_total_is_capped_by_the_job_limits() -> None:
    budget = CapacityBudget(
        Capacity(CapacityUnit.JOBS, None), max_running={None: 3}, max_queued={None: 2}
    )
    budget.take(None, 1)
    budget.take(None, 1)
    assert not budget.has_room(None)  # two waiting in the scheduler's queue
    budget.started(None)
    assert budget.has_room(None)
    budget.take(None, 1)
    assert not budget.has_room(None)  # three submitted and not ended
    budget.release(None, 1, queued=False)
    assert not budget.has_room(None)  # still two waiting in the queue
    budget.started(None)
    assert budget.has_room(None)


def test_capacity_change_applies_to_the_next_submissions() -> None:
    budget = CapacityBudget(Capacity(CapacityUnit.CPUS, 0))
    assert not budget.has_room(None)
    budget.change(Capacity(CapacityUnit.CPUS, 8))
    assert budget.fits(None, 8) and not budget.fits(None, 9)
    assert budget.cost(None, ParallelSpec("MPI", 4, 4)) == 8


@pytest.mark.parametrize(
    ("info", "spec"),
    [
        (None, None),
        ({}, None),
        ({"nodes_number": 2, "cpu_per_node": 3}, ParallelSpec("native", 2, 3)),
        ({"config_name": "MPI", "cpu_per_node": "4"}, ParallelSpec("MPI", 1, 4)),
        ({"nodes_number": 0}, ParallelSpec("native", 1, 1)),
        ({"nodes_number": "x"}, ParallelSpec("native", 1, 1)),
    ],
)
def test_parallel_spec_of_parallel_job_info(
    info: dict[str, object] | None, spec: ParallelSpec | None
) -> None:
    assert ParallelSpec.of(info) == spec


def test_launch_names_carry_the_job_id() -> None:
    assert launch_name(12, 345) == "swf-12-345"
    assert job_id_of_launch_name("swf-12-345") == 345
    assert job_id_of_launch_name("swf-x-1") is None
    assert job_id_of_launch_name("other-1-2") is None


def test_job_ids_consecutive_and_not() -> None:
    consecutive = JobIds([5, 6, 7])
    assert consecutive.id_of(2) == 7 and consecutive.index_of(6) == 1
    assert consecutive.index_of(8) is None and consecutive.index_of(4) is None
    sparse = JobIds([5, 9, 7])
    assert sparse.id_of(1) == 9 and sparse.index_of(7) == 2 and sparse.index_of(6) is None
    assert len(JobIds([])) == 0 and JobIds([]).index_of(0) is None


def test_notifier_wakes_only_the_waiters_of_touched_workflows() -> None:
    notifier = ChangeNotifier()
    checks = {"a": 0}
    done = threading.Event()

    def predicate() -> bool:
        checks["a"] += 1
        return done.is_set()

    result: list[bool] = []
    waiter = threading.Thread(target=lambda: result.append(notifier.wait_for(predicate, 5, [1])))
    waiter.start()
    time.sleep(0.05)
    for _ in range(20):
        notifier.changed([2])  # another workflow: no re-check
    time.sleep(0.05)
    assert checks["a"] == 1
    done.set()
    notifier.changed([1])
    waiter.join(5)
    assert result == [True] and checks["a"] == 2


def test_notifier_deletion_and_failure_wake_waiters() -> None:
    notifier = ChangeNotifier()
    gone = threading.Event()
    results: list[object] = []

    def wait() -> None:
        results.append(notifier.wait_for(gone.is_set, 5, [7]))

    waiter = threading.Thread(target=wait)
    waiter.start()
    time.sleep(0.05)
    gone.set()
    notifier.changed([], forgotten=[7])  # deleted without any tick touching it before
    waiter.join(5)
    assert results == [True]
    assert notifier.wait_for(lambda: False, 0.01) is False
    notifier.fail("broken")
    with pytest.raises(EngineError, match="broken"):
        notifier.wait_for(lambda: False, None)


def test_inbox_keeps_arrival_order_and_wakes_at_once() -> None:
    inbox = Inbox()
    command = Command(lambda tx: 1)
    inbox.put_events([])  # nothing to deliver: ignored
    start = time.monotonic()
    threading.Timer(0.05, lambda: inbox.put_command(command)).start()
    items = inbox.take_all(5)
    assert items == [command] and time.monotonic() - start < 2
    assert inbox.take_all(0.01) == []
    inbox.wake()
    assert inbox.take_all(None) == []
