"""The DRMAA adapter's pure parts: what libdrmaa needs (typed errors naming the missing
piece), and the translation between the batch machinery and the DRMAA agent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from swf_adapters.schedulers.batch.system import Shape, TaskState
from swf_adapters.schedulers.drmaa import (
    DrmaaUnavailableError,
    GridEngineDrmaa,
    drmaa_environment,
    drmaa_task_id,
)
from swf_domain.errors import DRMError


def test_no_sge_root_is_named(tmp_path: Path) -> None:
    with pytest.raises(DrmaaUnavailableError, match="SGE_ROOT"):
        drmaa_environment({"SGE_ROOT": str(tmp_path)})


def test_no_libdrmaa_is_named(tmp_path: Path) -> None:
    (tmp_path / "default").mkdir()
    missing = tmp_path / "nowhere.so"
    env = {"SGE_ROOT": str(tmp_path), "DRMAA_LIBRARY_PATH": str(missing)}
    with pytest.raises(DrmaaUnavailableError, match="libdrmaa not found") as raised:
        drmaa_environment(env)
    assert isinstance(raised.value, DRMError) and str(missing) in str(raised.value)


def test_jemalloc_is_preloaded_only_when_libdrmaa_links_it(tmp_path: Path) -> None:
    (tmp_path / "default").mkdir()
    plain = tmp_path / "libdrmaa.so"
    plain.write_bytes(b"\x7fELF no allocator here")
    env = drmaa_environment({"SGE_ROOT": str(tmp_path), "DRMAA_LIBRARY_PATH": str(plain)})
    assert "LD_PRELOAD" not in env
    assert env["SGE_CELL"] == "default" and env["DRMAA_LIBRARY_PATH"] == str(plain)


def test_what_drmaa_cannot_express_goes_as_native_specification(tmp_path: Path) -> None:
    system = GridEngineDrmaa()
    op, text = system.submit_command(
        tmp_path / "batch.sh", 5, Shape("short", 4, ("-l", "h_rt=60")), "swf-x"
    )
    request = json.loads(text)
    assert op == "runBulkJobs" and request["count"] == 5 and request["name"] == "swf-x"
    assert request["native"] == ["-l", "h_rt=60", "-q", "short", "-pe", "smp", "4"]


def test_status_and_ids_translate_between_one_and_zero_based() -> None:
    view = GridEngineDrmaa().parse_status(
        json.dumps({"7": {"0": ["pending", "qw"], "1": ["running", "r"], "2": ["finished", "x"]}})
    )
    assert view["7"].is_pending(0) and view["7"].tasks[1].state is TaskState.RUNNING
    assert view["7"].tasks[2].state is TaskState.FINISHED
    assert drmaa_task_id("7_0") == "7.1" and drmaa_task_id("7") == "7"
    assert GridEngineDrmaa().cancel_command(["7_2"]) == ["control", "7_2"]


def test_a_libdrmaa_that_does_not_load_is_a_typed_error_at_start(tmp_path: Path) -> None:
    """Not an OSError from ctypes in the engine: the agent says why, start raises it."""
    from swf_adapters.schedulers.batch import BatchSettings
    from swf_adapters.schedulers.drmaa import AgentRunner, DrmaaScheduler

    (tmp_path / "default").mkdir()
    broken = tmp_path / "libdrmaa.so"
    broken.write_bytes(b"not a shared object")
    env = drmaa_environment({"SGE_ROOT": str(tmp_path), "DRMAA_LIBRARY_PATH": str(broken)})
    job_dir = tmp_path / "jobs"
    runner = AgentRunner(job_dir / "drmaa-session", env, timeout=60)
    scheduler = DrmaaScheduler(BatchSettings(job_dir=job_dir), runner)
    try:
        with pytest.raises(DrmaaUnavailableError, match=r"cannot start.*libdrmaa\.so"):
            scheduler.start(lambda events: None)
    finally:
        scheduler.close()
