"""Giving freed memory back after a submission (glibc's malloc_trim)."""

from __future__ import annotations

import platform

import pytest

from swf_adapters.process import memory


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's")
def test_glibc_trim_is_found_and_runs() -> None:
    assert memory._malloc_trim() is not None
    memory.release_freed_memory()


def test_without_malloc_trim_it_does_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory, "_malloc_trim", lambda: None)
    memory.release_freed_memory()
