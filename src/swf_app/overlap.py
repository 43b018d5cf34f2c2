"""Writing a submission's rows while the submission is checked, committed only if it passes.

A million-job submission spends seconds in the store (rows into B-trees, a document of
hundreds of MB into the database file, the commit) and seconds validating its model. The
database driver works with the GIL released (``sqlite3``'s steps, psycopg's COPY), so on
two cores the writes run beside the checks instead of after them. The transaction is held
open until the checks have spoken: a workflow that fails them is rolled back, never seen.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

Stored = TypeVar("Stored")
Checked = TypeVar("Checked")


class _Verdict:
    """The checks' outcome, awaited by the writer just before its commit."""

    def __init__(self) -> None:
        self._given = threading.Event()
        self._approved = False

    def give(self, approved: bool) -> None:
        self._approved = approved
        self._given.set()

    def await_approval(self) -> None:
        """The writer's ``approve``: returns if the checks passed, else raises (rollback)."""
        self._given.wait()
        if not self._approved:
            raise _Refused()


class _Refused(Exception):
    """The checks failed: the writer rolls back (never seen by callers)."""


class _Writer(Generic[Stored]):
    """The store call on its own thread, its result or error kept for the caller."""

    def __init__(self, write: Callable[[Callable[[], None]], Stored], verdict: _Verdict) -> None:
        self._write = write
        self._verdict = verdict
        self._result: list[Stored] = []
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="swf-submit-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._result.append(self._write(self._verdict.await_approval))
        except BaseException as error:  # handed to the caller by ``result``
            self._error = error

    def result(self) -> Stored:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._result[0]

    def abandon(self) -> None:
        """Wait for the rollback; the writer's own error, if any, is not the one to show."""
        self._thread.join()


def write_while_checking(
    write: Callable[[Callable[[], None]], Stored], check: Callable[[], Checked]
) -> tuple[Stored, Checked]:
    """``write(approve)`` on a worker thread while ``check()`` runs on this one.

    ``write`` must call ``approve`` inside its transaction before committing (the store's
    ``add_workflow(new, approve)``). If ``check`` raises, ``approve`` raises in the writer
    (rolled back, nothing stored) and ``check``'s error propagates; if the checks pass and
    the write fails, the write's error propagates.
    """
    verdict = _Verdict()
    writer = _Writer(write, verdict)
    try:
        checked = check()
    except BaseException:
        verdict.give(False)
        writer.abandon()
        raise
    verdict.give(True)
    return writer.result(), checked
