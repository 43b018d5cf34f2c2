"""The engine's small parts: ready queue, slot budget, job ids, notifier, inbox."""

from __future__ import annotations

import threading
import time

import pytest

from swf_app.inbox import Command, Inbox
from swf_app.job_ids import JobIds
from swf_app.notifier import ChangeNotifier
from swf_app.ready_queue import ReadyQueue
from swf_app.slot_budget import SlotBudget, requested_slots
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


def test_slot_budget_total_and_queue_limits() -> None:
    budget = SlotBudget(4, {"short": 1})
    assert budget.clamp(None, 10) == 4 and budget.clamp("short", 3) == 1
    budget.take("short", 1)
    assert not budget.has_room("short") and budget.has_room(None)
    assert budget.fits(None, 3) and not budget.fits(None, 4)
    budget.take(None, 3)
    assert not budget.has_room(None)
    budget.release("short", 1)
    assert budget.has_room("short") and budget.fits("short", 1)


@pytest.mark.parametrize(
    ("info", "slots"),
    [
        (None, 1),
        ({}, 1),
        ({"nodes_number": 2, "cpu_per_node": 3}, 6),
        ({"cpu_per_node": "4"}, 4),
        ({"nodes_number": 0}, 1),
        ({"nodes_number": "x"}, 1),
    ],
)
def test_requested_slots(info: dict[str, object] | None, slots: int) -> None:
    assert requested_slots(info) == slots


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
