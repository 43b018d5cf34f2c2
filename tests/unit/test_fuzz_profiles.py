"""The shared fuzz settings: profile chosen by HYPOTHESIS_PROFILE, hangs caught."""

from __future__ import annotations

import time

import pytest

from tests.fuzz_profiles import Hang, fuzz_settings, no_hang, profile_name


def test_the_ci_profile_is_the_default_and_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HYPOTHESIS_PROFILE", raising=False)
    assert profile_name() == "ci"
    assert 100 <= fuzz_settings().max_examples <= 1000


def test_the_long_profile_is_chosen_by_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HYPOTHESIS_PROFILE", "long")
    assert fuzz_settings().max_examples >= 10_000
    assert fuzz_settings(max_examples=7).max_examples == 7


def test_a_hanging_example_fails_instead_of_stalling_the_run() -> None:
    started = time.monotonic()
    with pytest.raises(Hang), no_hang(0.2):
        time.sleep(5)
    assert time.monotonic() - started < 2


def test_a_quick_example_is_left_alone() -> None:
    with no_hang(5):
        pass
