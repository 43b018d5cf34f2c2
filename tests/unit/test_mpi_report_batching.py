"""When a worker rank sends what it recorded (ReportBatching): few messages per job,
ends never held long, never a worker left to run dry."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from swf_adapters.schedulers.mpi.worker import ReportBatching

RULE = ReportBatching(batch=20, delay=0.05, longest=0.25)


def test_a_starving_worker_reports_at_once() -> None:
    assert RULE.due(ends=1, queued=0, starving=True, age=0.0)


def test_a_queue_drained_to_the_ends_held_asks_for_more_at_once() -> None:
    assert RULE.due(ends=5, queued=5, starving=False, age=0.0)
    assert not RULE.due(ends=5, queued=6, starving=False, age=0.0)


def test_a_few_ends_wait_for_a_batch_until_the_longest_delay() -> None:
    assert not RULE.due(ends=3, queued=50, starving=False, age=0.2)
    assert RULE.due(ends=3, queued=50, starving=False, age=0.25)
    assert RULE.wait(ends=3, age=0.2) == 0.25 - 0.2


def test_a_full_batch_goes_after_the_short_delay() -> None:
    assert not RULE.due(ends=20, queued=50, starving=False, age=0.04)
    assert RULE.due(ends=20, queued=50, starving=False, age=0.05)
    assert RULE.wait(ends=20, age=0.01) == 0.05 - 0.01


@given(
    ends=st.integers(0, 1000),
    queued=st.integers(0, 1000),
    age=st.floats(0, 10, allow_nan=False),
)
def test_a_report_before_the_longest_delay_carries_a_batch_or_feeds_the_queue(
    ends: int, queued: int, age: float
) -> None:
    """The messages per job stay under 1/batch on the hot path: an early report is
    either a full batch or a queue about to run dry."""
    if RULE.due(ends, queued, starving=False, age=age) and age < RULE.longest:
        assert ends >= RULE.batch or queued <= ends
