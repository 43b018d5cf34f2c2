"""write_while_checking: the rows are committed only when the checks pass."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from swf_app.overlap import write_while_checking


class Journal:
    """A store call that records what its transaction did."""

    def __init__(self, fail: Exception | None = None) -> None:
        self.committed: list[str] = []
        self.rolled_back = False
        self.thread: str | None = None
        self._fail = fail

    def write(self, approve: Callable[[], None]) -> str:
        self.thread = threading.current_thread().name
        if self._fail is not None:
            raise self._fail
        try:
            approve()
        except BaseException:
            self.rolled_back = True
            raise
        self.committed.append("rows")
        return "stored"


def test_passing_checks_commit_and_both_results_come_back() -> None:
    journal = Journal()
    assert write_while_checking(journal.write, lambda: 42) == ("stored", 42)
    assert journal.committed == ["rows"]
    assert journal.thread != threading.current_thread().name


def test_failing_checks_roll_back_and_their_error_propagates() -> None:
    journal = Journal()

    def check() -> int:
        raise ValueError("job 'x': bad priority")

    with pytest.raises(ValueError, match="bad priority"):
        write_while_checking(journal.write, check)
    assert journal.committed == [] and journal.rolled_back


def test_a_failed_write_is_raised_once_the_checks_pass() -> None:
    journal = Journal(fail=RuntimeError("disk full"))
    with pytest.raises(RuntimeError, match="disk full"):
        write_while_checking(journal.write, lambda: 1)


def test_the_checks_error_wins_over_the_write_error() -> None:
    journal = Journal(fail=RuntimeError("disk full"))

    def check() -> int:
        raise ValueError("cycle")

    with pytest.raises(ValueError, match="cycle"):
        write_while_checking(journal.write, check)
