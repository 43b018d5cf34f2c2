"""The ready-set tracker: release order, failure propagation, restart, resume."""

from __future__ import annotations

import pytest

from swf_domain.ready import NodeState, ReadyTracker, TrackerError

P, R, U, D, F, A = (
    NodeState.PENDING,
    NodeState.READY,
    NodeState.RUNNING,
    NodeState.DONE,
    NodeState.FAILED,
    NodeState.ABORTED,
)


def dag(size: int, edges: list[tuple[int, int]]) -> tuple[list[list[int]], list[list[int]]]:
    parents: list[list[int]] = [[] for _ in range(size)]
    children: list[list[int]] = [[] for _ in range(size)]
    for parent, child in edges:
        parents[child].append(parent)
        children[parent].append(child)
    return parents, children


def tracker(
    size: int, edges: list[tuple[int, int]], states: list[NodeState] | None = None
) -> ReadyTracker:
    parents, children = dag(size, edges)
    return ReadyTracker(parents, children, states)


def states(track: ReadyTracker, size: int) -> list[NodeState]:
    return [track.state(job) for job in range(size)]


def recount(track: ReadyTracker, size: int) -> dict[NodeState, int]:
    found = dict.fromkeys(NodeState, 0)
    for state in states(track, size):
        found[state] += 1
    return found


# diamond: 0 -> 1, 0 -> 2, 1 -> 3, 2 -> 3
DIAMOND = [(0, 1), (0, 2), (1, 3), (2, 3)]


def test_jobs_without_parents_are_ready_first_and_taken_once() -> None:
    track = tracker(4, [(0, 2), (1, 3)])
    assert states(track, 4) == [R, R, P, P]
    assert track.take_ready() == [0, 1]
    assert states(track, 4) == [U, U, P, P]
    assert track.take_ready() == []


def test_a_job_waits_for_all_its_parents() -> None:
    track = tracker(4, DIAMOND)
    assert track.take_ready() == [0]
    track.succeeded(0)
    assert track.take_ready() == [1, 2]
    track.succeeded(1)
    assert track.take_ready() == []
    assert track.state(3) is P
    track.succeeded(2)
    assert track.take_ready() == [3]
    track.succeeded(3)
    assert track.is_finished()
    assert track.counts() == {P: 0, R: 0, U: 0, D: 4, F: 0, A: 0}


def test_a_failure_aborts_the_descendants_and_spares_independent_branches() -> None:
    # 0 -> 1 -> 2, 0 -> 3 (branch), 4 alone; 1 fails
    track = tracker(5, [(0, 1), (1, 2), (0, 3)])
    assert track.take_ready() == [0, 4]
    track.succeeded(0)
    assert track.take_ready() == [1, 3]
    assert track.failed(1) == [2]
    assert states(track, 5) == [D, F, A, U, U]
    assert not track.is_finished()
    track.succeeded(3)
    track.succeeded(4)
    assert track.is_finished()
    assert track.counts() == {P: 0, R: 0, U: 0, D: 3, F: 1, A: 1}


def test_a_child_of_a_failed_and_a_running_parent_is_aborted_at_once() -> None:
    track = tracker(4, DIAMOND)
    track.take_ready()
    track.succeeded(0)
    track.take_ready()
    assert track.failed(1) == [3]
    track.succeeded(2)
    assert track.take_ready() == []
    assert states(track, 4) == [D, F, D, A]


def test_a_ready_job_can_fail_before_running_and_is_not_handed_out() -> None:
    track = tracker(2, [(0, 1)])
    assert track.failed(0) == [1]
    assert track.take_ready() == []
    assert track.is_finished()


def test_deep_descendants_are_aborted_without_recursion() -> None:
    size = 100_000
    track = tracker(size, [(job, job + 1) for job in range(size - 1)])
    track.take_ready()
    aborted = track.failed(0)
    assert sorted(aborted) == list(range(1, size))
    assert track.counts()[A] == size - 1


def test_restart_brings_back_the_failed_job_and_what_it_aborted() -> None:
    track = tracker(3, [(0, 1), (1, 2)])
    track.take_ready()
    track.succeeded(0)
    track.take_ready()
    track.failed(1)
    assert track.restart([1]) == [1, 2]
    assert states(track, 3) == [D, R, P]
    assert track.take_ready() == [1]
    track.succeeded(1)
    assert track.take_ready() == [2]


def test_restart_leaves_aborted_a_job_that_another_failure_still_blocks() -> None:
    track = tracker(4, DIAMOND)
    track.take_ready()
    track.succeeded(0)
    track.take_ready()
    track.failed(1)
    track.failed(2)
    assert track.restart([1]) == [1]
    assert states(track, 4) == [D, R, F, A]
    assert track.restart([2]) == [2, 3]
    assert states(track, 4) == [D, R, R, P]


def test_restart_of_an_aborted_job_alone_keeps_it_aborted_while_its_cause_failed() -> None:
    track = tracker(2, [(0, 1)])
    track.take_ready()
    track.failed(0)
    assert track.restart([1]) == []
    assert states(track, 2) == [F, A]
    assert track.counts() == {P: 0, R: 0, U: 0, D: 0, F: 1, A: 1}


def test_a_restarted_job_waits_for_a_parent_still_running() -> None:
    # 0 -> 2, 1 -> 2: 0 fails while 1 runs; restart 0; 2 waits for both
    track = tracker(3, [(0, 2), (1, 2)])
    assert track.take_ready() == [0, 1]
    assert track.failed(0) == [2]
    track.restart([0])
    assert states(track, 3) == [R, U, P]
    assert track.take_ready() == [0]
    track.succeeded(0)
    assert track.take_ready() == []
    track.succeeded(1)
    assert track.take_ready() == [2]


def test_restart_does_not_touch_done_ready_or_running_jobs() -> None:
    track = tracker(4, [(0, 1)])
    assert track.take_ready() == [0, 2, 3]
    track.succeeded(0)  # 1 READY, 2 RUNNING, 3 RUNNING
    track.succeeded(3)
    before = states(track, 4)
    assert track.restart([0, 1, 2, 3]) == []
    assert states(track, 4) == before == [D, R, U, D]
    assert track.take_ready() == [1]
    assert track.take_ready() == []


def test_restart_ignores_repeated_jobs() -> None:
    track = tracker(1, [])
    track.take_ready()
    track.failed(0)
    track.restart([0, 0, 0])
    assert track.take_ready() == [0]
    assert track.counts()[U] == 1


def test_counts_follow_every_change() -> None:
    track = tracker(4, DIAMOND)
    assert track.counts() == recount(track, 4)
    track.take_ready()
    assert track.counts() == recount(track, 4)
    track.succeeded(0)
    assert track.counts() == recount(track, 4)
    track.take_ready()
    track.failed(2)
    assert track.counts() == recount(track, 4)
    track.restart([2, 3])
    assert track.counts() == recount(track, 4)


def test_repeated_success_or_failure_reports_are_harmless() -> None:
    track = tracker(2, [(0, 1)])
    track.take_ready()
    track.succeeded(0)
    track.succeeded(0)
    assert track.take_ready() == [1]
    track.failed(1)
    assert track.failed(1) == []
    assert track.counts() == {P: 0, R: 0, U: 0, D: 1, F: 1, A: 0}


@pytest.mark.parametrize(
    ("setup", "event", "expected"),
    [
        ([], "succeeded", r"job #0 cannot succeed: it is READY"),
        ([], "failed_pending", r"job #1 cannot fail: it is PENDING"),
        (["take", "succeed"], "failed", r"job #0 cannot fail: it is DONE"),
        (["take", "fail"], "succeeded", r"job #0 cannot succeed: it is FAILED"),
    ],
)
def test_impossible_events_raise_a_tracker_error(
    setup: list[str], event: str, expected: str
) -> None:
    track = tracker(2, [(0, 1)])
    for step in setup:
        if step == "take":
            track.take_ready()
        elif step == "succeed":
            track.succeeded(0)
        else:
            track.failed(0)
    with pytest.raises(TrackerError, match=expected):
        if event == "succeeded":
            track.succeeded(0)
        elif event == "failed":
            track.failed(0)
        else:
            track.failed(1)


def test_an_empty_workflow_is_finished() -> None:
    track = tracker(0, [])
    assert track.is_finished() and track.take_ready() == []


# -- resuming from stored states --------------------------------------------------------


def test_resume_keeps_running_jobs_and_releases_what_done_parents_allow() -> None:
    # 0 -> 2, 1 -> 3: 0 DONE, 1 RUNNING
    track = tracker(4, [(0, 2), (1, 3)], states=[D, U, P, P])
    assert states(track, 4) == [D, U, R, P]
    assert track.take_ready() == [2]
    track.succeeded(1)
    assert track.take_ready() == [3]
    assert track.aborted == []


def test_resume_hands_out_stored_ready_jobs() -> None:
    track = tracker(2, [(0, 1)], states=[D, R])
    assert track.take_ready() == [1]


def test_resume_aborts_what_a_stored_failure_had_not_yet_aborted() -> None:
    track = tracker(4, [(0, 1), (1, 2), (0, 3)], states=[F, P, P, A])
    assert track.aborted == [1, 2]
    assert states(track, 4) == [F, A, A, A]
    assert track.is_finished()
    assert track.counts() == recount(track, 4)


def test_resume_with_the_wrong_number_of_states_is_refused() -> None:
    with pytest.raises(TrackerError, match="3 states for 2 jobs"):
        tracker(2, [], states=[P, P, P])


def test_resume_with_an_unknown_state_value_is_refused() -> None:
    with pytest.raises(TrackerError, match="unknown state 9"):
        ReadyTracker([[]], [[]], [9])  # type: ignore[list-item]
    with pytest.raises(TrackerError, match="states must be NodeState values"):
        ReadyTracker([[]], [[]], ["done"])  # type: ignore[list-item]
