"""``swf --resource NAME`` for a remote resource that takes a password (the test sshd's
password port, no key configured): on a terminal (a pseudo-terminal, pexpect) it asks
for the password without echoing it, and a wrong one is refused by name; without a
terminal it asks nothing and the refusal stands."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pexpect  # type: ignore[import-untyped]
import pytest

from swf_entry.client import WorkflowController
from tests.integration.ssh_fixtures import SshService, require_sshd, write_remote_config

pytestmark = pytest.mark.timeout(180)

SWF = [sys.executable, "-m", "swf_entry.cli"]


@pytest.fixture
def sshd() -> SshService:
    return require_sshd()


@pytest.fixture
def config(sshd: SshService, tmp_path: Path) -> Iterator[Path]:
    path = write_remote_config(sshd, tmp_path, SSHPort=sshd.password_port, SSH_KEY_FILE=None)
    yield path
    with contextlib.suppress(Exception):
        controller = WorkflowController("remote", sshd.user, sshd.password, config=str(path))
        link: Any = controller.link
        state_dir = link.connector.endpoint.state_dir
        link.stop_engine()
        link.connector.session.run(["rm", "-rf", state_dir])
        controller.disconnect()


def _env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"  # no key in ~/.ssh, never root's real HOME
    home.mkdir(exist_ok=True)
    scrubbed = ("SWF_HOME", "SWF_CONFIG", "SOMA_WORKFLOW_CONFIG", "SSH_AUTH_SOCK")
    env = {k: v for k, v in os.environ.items() if k not in scrubbed}
    return {**env, "HOME": str(home), "NO_COLOR": "1", "TERM": "dumb"}


def _spawn(config: Path, tmp_path: Path) -> pexpect.spawn:
    arguments = [*SWF[1:], "--config", str(config), "--resource", "remote", "list"]
    return pexpect.spawn(
        SWF[0], arguments, env=_env(tmp_path), encoding="utf-8", timeout=90, dimensions=(40, 160)
    )


def _answer_prompt(config: Path, tmp_path: Path, prompt: str, answer: str) -> pexpect.spawn:
    """Run ``swf list`` on a terminal, type ``answer`` at ``prompt``, wait for the end."""
    child = _spawn(config, tmp_path)
    child.expect(prompt)
    child.sendline(answer)
    child.expect(pexpect.EOF)
    child.close()
    return child


def test_the_password_is_asked_on_a_terminal_and_not_echoed(
    sshd: SshService, config: Path, tmp_path: Path
) -> None:
    prompt = f"password of {sshd.user}@{sshd.host}: "
    child = _answer_prompt(config, tmp_path, prompt, sshd.password)
    assert child.exitstatus == 0, child.before
    assert sshd.password not in child.before


def test_a_wrong_password_typed_is_refused(sshd: SshService, config: Path, tmp_path: Path) -> None:
    child = _answer_prompt(config, tmp_path, "password of ", "not the password")
    assert child.exitstatus != 0
    assert "refused the login" in child.before
    assert "not the password" not in child.before


def test_without_a_terminal_nothing_is_asked(config: Path, tmp_path: Path) -> None:
    command = [*SWF, "--config", str(config), "--resource", "remote", "list"]
    answer = subprocess.run(
        command,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=_env(tmp_path),
        timeout=90,
    )
    assert answer.returncode != 0
    assert "refused the login" in answer.stderr
    assert "password of" not in answer.stdout + answer.stderr


@pytest.fixture
def encrypted_config(sshd: SshService, tmp_path: Path) -> Iterator[Path]:
    """The key-only port, logging in with the encrypted key (no passphrase configured)."""
    path = write_remote_config(sshd, tmp_path, SSH_KEY_FILE=sshd.encrypted_key)
    yield path
    with contextlib.suppress(Exception):
        controller = WorkflowController(
            "remote", config=str(path), rsa_key_pass=sshd.key_passphrase
        )
        link: Any = controller.link
        state_dir = link.connector.endpoint.state_dir
        link.stop_engine()
        link.connector.session.run(["rm", "-rf", state_dir])
        controller.disconnect()


def test_an_encrypted_keys_passphrase_is_asked_on_a_terminal(
    sshd: SshService, encrypted_config: Path, tmp_path: Path
) -> None:
    prompt = f"passphrase of key {sshd.encrypted_key}: "
    child = _answer_prompt(encrypted_config, tmp_path, prompt, sshd.key_passphrase)
    assert child.exitstatus == 0, child.before
    assert sshd.key_passphrase not in child.before
    assert "password of" not in child.before
