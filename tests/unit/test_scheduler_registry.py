"""SCHEDULER_TYPE -> factory through the ``swf.schedulers`` entry points."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

from swf_adapters.config import load_config
from swf_adapters.schedulers import registry
from swf_adapters.schedulers.local.adapter import LocalScheduler
from swf_adapters.schedulers.registry import (
    Availability,
    UnknownSchedulerError,
    installed,
    scheduler_factory,
    survey,
)
from swf_app.ports import Capacity, CapacityUnit
from swf_domain.errors import ConfigurationError


class PluggedFactory:
    """What a third-party package would register."""

    description = "a test scheduler"

    def can_run_here(self) -> Availability:
        return Availability(False, "no such cluster here")

    def create(self, config: Any) -> Any:
        raise AssertionError("not built in these tests")


def plug(monkeypatch: pytest.MonkeyPatch, **targets: str) -> None:
    entries = [
        metadata.EntryPoint(name, target, registry.ENTRY_POINT_GROUP)
        for name, target in targets.items()
    ]

    def entry_points(group: str) -> list[metadata.EntryPoint]:
        return entries if group == registry.ENTRY_POINT_GROUP else []

    monkeypatch.setattr(metadata, "entry_points", entry_points)


def test_swf_schedulers_are_installed_and_local_runs_here(tmp_path: Path) -> None:
    assert {"local_basic", "slurm"} <= set(installed())
    factory = scheduler_factory("local_basic")
    assert factory.can_run_here().ok
    config = load_config(None, None, isolated_dir=tmp_path)
    built = factory.create(config)
    assert isinstance(built, LocalScheduler)
    assert built.capacity() == Capacity(CapacityUnit.CPUS, config.cpu_nb)


def test_an_unknown_type_is_a_typed_error_listing_what_is_installed() -> None:
    with pytest.raises(UnknownSchedulerError) as raised:
        scheduler_factory("condor")
    message = str(raised.value)
    assert "'condor'" in message and "local_basic" in message and "swf.schedulers" in message
    assert isinstance(raised.value, ConfigurationError)


def test_a_third_party_scheduler_plugs_in_by_entry_point(monkeypatch: pytest.MonkeyPatch) -> None:
    plug(monkeypatch, acme=f"{__name__}:PluggedFactory")
    assert isinstance(scheduler_factory("acme"), PluggedFactory)
    rows = {name: (description, availability) for name, description, availability in survey()}
    assert rows["acme"] == ("a test scheduler", Availability(False, "no such cluster here"))
    assert rows["local_basic"][1].ok


def test_a_broken_plugin_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    plug(monkeypatch, broken="no_such_module_swf:Factory")
    with pytest.raises(ConfigurationError, match=r"'broken'.*cannot be loaded"):
        scheduler_factory("broken")
    rows = {name: availability for name, _, availability in survey()}
    assert not rows["broken"].ok and "ModuleNotFoundError" in rows["broken"].reason


def test_swf_names_cannot_be_taken_over(monkeypatch: pytest.MonkeyPatch) -> None:
    plug(monkeypatch, local_basic=f"{__name__}:PluggedFactory")
    assert not isinstance(scheduler_factory("local_basic"), PluggedFactory)


def test_the_configuration_accepts_a_plugged_scheduler_type(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config_file = tmp_path / "swf.cfg"
    config_file.write_text("[acme-cluster]\nSCHEDULER_TYPE = acme\nLIGHT_MODE = 1\n")
    with pytest.raises(ConfigurationError, match="SCHEDULER_TYPE must be one of"):
        load_config(config_file, "acme-cluster", isolated_dir=tmp_path / "state")
    plug(monkeypatch, acme=f"{__name__}:PluggedFactory")
    config = load_config(config_file, "acme-cluster", isolated_dir=tmp_path / "state")
    assert config.scheduler_type == "acme"
