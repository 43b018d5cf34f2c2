"""The hub's pacing: a follower's work per second is bounded by design."""

from __future__ import annotations

import time

from swf_entry.monitor import hub
from swf_entry.monitor.hub import _Channel, _rest


class _RecordingEvent:
    """Records how long a follower chose to rest, instead of resting."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def wait(self, timeout: float) -> bool:
        self.waits.append(timeout)
        return False


def _channel() -> tuple[_Channel, _RecordingEvent]:
    channel = _Channel("workflow:1", lambda _channel: None)
    event = _RecordingEvent()
    channel.stopping = event  # type: ignore[assignment]
    return channel, event


def test_a_cheap_round_rests_the_event_gap() -> None:
    channel, event = _channel()
    _rest(channel, time.monotonic(), cpu=0.001)
    assert hub.MIN_EVENT_GAP - 0.1 < event.waits[0] <= hub.MIN_EVENT_GAP


def test_a_costly_round_rests_in_proportion_to_its_cpu() -> None:
    """At most 1 / (1 + FEED_COST_FACTOR) of a core per watched workflow."""
    channel, event = _channel()
    _rest(channel, time.monotonic() - 5.0, cpu=0.2)
    assert event.waits == [hub.FEED_COST_FACTOR * 0.2]
