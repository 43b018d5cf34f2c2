"""swf's versions of soma-workflow's ``scheduler`` and ``configuration`` helpers and of
``attributs_equal`` (the oracle comparisons are in tests/integration/test_soma_scripts.py)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from swf_adapters.config import SCHEDULER_TYPES
from swf_adapters.schedulers.local.adapter import LocalScheduler
from swf_adapters.schedulers.registry import scheduler_factory, survey
from swf_domain.errors import ConfigurationError
from swf_entry import scheduler
from swf_entry.client import Group, Job, Workflow
from swf_entry.configuration import Configuration, LocalSchedulerCfg


def test_schedulers_list_says_which_swf_can_run() -> None:
    listed = dict(scheduler.get_schedulers_list())
    assert listed["local_basic"] is True
    # pbspro: enabled exactly where qsub/qstat/qdel answer (never here but on the stand-ins)
    assert listed["pbspro"] is scheduler_factory("pbspro").can_run_here().ok
    # drmaa is installed: enabled exactly when a Grid Engine cell answers here
    assert listed["drmaa"] is scheduler_factory("drmaa").can_run_here().ok
    assert set(SCHEDULER_TYPES) <= set(listed)
    assert {row[0] for row in survey()} <= set(listed)


def test_scheduler_implementation_and_errors() -> None:
    factory = scheduler.get_scheduler_implementation("local")  # soma's alias
    assert factory.can_run_here().ok
    assert "PBS Pro" in scheduler.get_scheduler_implementation("pbspro").description
    with pytest.raises(ConfigurationError, match=r"drmaa2.*not an installed scheduler"):
        scheduler.get_scheduler_implementation("drmaa2")
    with pytest.raises(NameError):
        scheduler.get_scheduler_implementation("nosuch")


def test_build_scheduler_from_a_configuration(tmp_path: Path) -> None:
    config = Configuration("localhost", "light", "local_basic", str(tmp_path / "db.db"), None)
    built = scheduler.build_scheduler("local_basic", config)
    assert isinstance(built, LocalScheduler) and (built.capacity().total or 0) >= 1
    with pytest.raises(ConfigurationError, match="Configuration"):
        scheduler.build_scheduler("local_basic", object())


def test_a_configuration_built_as_soma_isolated_mode_does(tmp_path: Path) -> None:
    database = tmp_path / "iso" / "soma-workflow.db"
    config = Configuration("localhost", "light", "local_basic", str(database), None)
    resolved = config.resource_config()
    assert resolved.database_file == database and resolved.state_dir == database.parent
    assert config.get_mode() == "light" and config.get_scheduler_type() == "local_basic"
    assert config.get_database_file() == str(database)
    config.change_queue_limits("long", 3)
    config.change_queue_limits(None, 5)
    assert config.get_queue_limits() == {"long": 3, None: 5}
    config.change_queue_limits("long", 0)  # 0: unlimited
    assert config.get_queue_limits() == {None: 5}
    config.disable_queue_limits()
    assert config.get_queue_limits() == {}


def test_local_scheduler_settings_round_trip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    settings = LocalSchedulerCfg(proc_nb=3, interval=1, max_proc_nb=5)
    settings.save_to_file()
    written = tmp_path / ".soma-workflow-scheduler.cfg"
    assert f"[{socket.gethostname()}]" in written.read_text()
    assert LocalSchedulerCfg.search_config_path() == str(written)
    loaded = LocalSchedulerCfg.load_from_file()
    assert (loaded.get_proc_nb(), loaded.get_interval(), loaded.get_max_proc_nb()) == (3, 1.0, 5)
    applied: list[int] = []
    loaded.on_proc_nb_change = applied.append
    loaded.set_proc_nb(2)
    assert loaded.get_proc_nb() == 2 and applied == [2]
    with pytest.raises(ConfigurationError, match="proc_nb"):
        loaded.set_proc_nb("4")  # type: ignore[arg-type]


def _built(command_tail: str, name: str = "wf") -> Workflow:
    a, b = Job(["echo", "a"], name="a"), Job(["echo", command_tail], name="b")
    return Workflow(
        [a, b],
        dependencies=[(a, b)],
        root_group=[Group([a, b], name="g")],
        param_links={b: {"x": [(a, "out")]}},
        name=name,
    )


def test_attributs_equal_compares_structure_not_identity() -> None:
    assert _built("b").attributs_equal(_built("b"))
    assert not _built("b").attributs_equal(_built("c"))
    assert not _built("b").attributs_equal(_built("b", name="other"))
    assert not _built("b").attributs_equal("not a workflow")
    first, second = _built("b"), _built("b")
    assert first.jobs[0].attributs_equal(second.jobs[0])
    assert first.groups[0].attributs_equal(second.groups[0])
    second.dependencies = [(second.jobs[1], second.jobs[0])]
    assert not first.attributs_equal(second)
