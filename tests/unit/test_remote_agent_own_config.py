"""The remote agent's engine configuration: what the client sent, with the resource's own
configuration file's section of the same name over it (soma's server side reads its own
file; the resource's administrator knows its scheduler better than a laptop's copy)."""

from __future__ import annotations

import configparser
from pathlib import Path

import pytest

from swf_entry import remote_agent


@pytest.fixture
def agent_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(remote_agent, "REMOTE_CONFIG_DIR", tmp_path / "remote")
    monkeypatch.delenv("SOMA_WORKFLOW_CONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path


def _written(path: Path, section: str) -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(path)
    return dict(parser[section])


def test_the_resources_own_section_wins_over_what_the_client_sent(
    agent_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    own = agent_home / "own.cfg"
    own.write_text(
        "[r]\nSCHEDULER_TYPE = slurm\nSTATE_DIR = /data/swf\nLOGIN = nobody\n[other]\nCPU_NB = 99\n"
    )
    monkeypatch.setenv("SWF_CONFIG", str(own))
    sent = {"STATE_DIR": "~/swf-from-client", "CPU_NB": "4"}
    path = remote_agent.write_config("r", sent)
    assert _written(path, "r") == {
        "STATE_DIR": "/data/swf",
        "CPU_NB": "4",
        "SCHEDULER_TYPE": "slurm",
    }
    assert path == remote_agent.config_path("r", sent)  # ``stop`` finds it from what it sent


def test_without_a_file_of_its_own_the_clients_options_stand(agent_home: Path) -> None:
    sent = {"STATE_DIR": "~/swf-from-client"}
    assert _written(remote_agent.write_config("r", sent), "r") == sent


def test_a_file_without_the_section_changes_nothing(
    agent_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (agent_home / "home").mkdir()
    (agent_home / "home" / ".soma-workflow.cfg").write_text("[elsewhere]\nCPU_NB = 2\n")
    sent = {"CPU_NB": "4"}
    assert _written(remote_agent.write_config("r", sent), "r") == sent
