"""Hypothesis settings shared by every fuzz test (reader, validate, constructors, facade).

Two profiles: ``ci`` (the default: a few hundred examples per target, so the whole fuzz
suite stays within a couple of minutes on two loaded cores) and ``long`` (tens of
thousands, for nightly runs and benchmarks), chosen with ``HYPOTHESIS_PROFILE=long``.

Each example runs under a hard wall-clock limit (``no_hang``): Hypothesis' own
``deadline`` only judges an example after it returns, so a real hang would stall the run
until pytest-timeout kills the whole session without naming the input. An alarm turns
a hang into a failure of that one example, with the input shown by Hypothesis. The
limit is generous (a loaded CI machine must not make it flaky): it catches hangs, not
slowness, which bench/ measures.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from hypothesis import HealthCheck, settings

#: Environment variable naming the profile (Hypothesis' usual name for it).
PROFILE_VARIABLE = "HYPOTHESIS_PROFILE"
CI_PROFILE = "ci"
LONG_PROFILE = "long"

#: Seconds one example may take before it counts as a hang.
EXAMPLE_DEADLINE = 20.0

_COMMON: dict[str, Any] = {
    "deadline": None,  # no_hang() is the deadline: see the module docstring
    "suppress_health_check": [
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
        HealthCheck.function_scoped_fixture,
    ],
    "print_blob": True,
}

settings.register_profile(CI_PROFILE, max_examples=300, **_COMMON)
settings.register_profile(LONG_PROFILE, max_examples=20_000, **_COMMON)


def profile_name() -> str:
    """The profile chosen by ``HYPOTHESIS_PROFILE`` (``ci`` when unset or unknown here)."""
    chosen = os.environ.get(PROFILE_VARIABLE, CI_PROFILE)
    return chosen if chosen in (CI_PROFILE, LONG_PROFILE) else CI_PROFILE


def fuzz_settings(**overrides: Any) -> settings:
    """Settings for one fuzz target: the chosen profile, with per-target ``overrides``
    (e.g. fewer examples for a target that starts processes)."""
    return settings(settings.get_profile(profile_name()), **overrides)


class Hang(AssertionError):
    """An example ran longer than EXAMPLE_DEADLINE seconds."""


@contextmanager
def no_hang(seconds: float = EXAMPLE_DEADLINE) -> Iterator[None]:
    """Fail with ``Hang`` if the block runs longer than ``seconds`` (main thread only:
    elsewhere, where no alarm can be set, the block just runs)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum: int, frame: object) -> None:
        raise Hang(f"the example ran for more than {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
