"""A client meets an engine of another link protocol (a daemon left running across an
upgrade): it refuses before sending anything, replaces the engine when it is idle and
older, and says what to do otherwise. Real daemons; the fake service advertises the
number it is told (``SWF_FAKE_PROTOCOL``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from swf_adapters.transport.pyro import PyroEngineLink, protocol
from swf_adapters.transport.pyro.client import EngineProtocolMismatch
from swf_entry.daemon import EngineEndpoint, engine_status, ensure_engine, local_engine_link
from tests.integration.engine_daemon_fixtures import FAKE_FACTORY, engine_state_dir

pytestmark = pytest.mark.timeout(120)

DOCUMENT: dict[str, object] = {"jobs": [], "dependencies": []}
OLDER = protocol.WIRE_PROTOCOL - 1


@pytest.fixture
def state_dir(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    with engine_state_dir(monkeypatch) as path:
        yield path


def _engine_of(
    number: int, state_dir: Path, monkeypatch: pytest.MonkeyPatch, busy: bool = False
) -> EngineEndpoint:
    """An engine advertising ``number``, started by a client of ``number`` (with a
    workflow in progress if ``busy``)."""
    with monkeypatch.context() as patch:
        patch.setenv("SWF_FAKE_PROTOCOL", str(number))
        patch.setattr(protocol, "WIRE_PROTOCOL", number)
        endpoint = ensure_engine(state_dir, FAKE_FACTORY, idle_timeout=0)
        if busy:
            with PyroEngineLink(endpoint.socket_path, endpoint.key_file) as link:
                link.submit_workflow(DOCUMENT, "running", None, None)
    return endpoint


def _calls_seen_by(endpoint: EngineEndpoint, monkeypatch: pytest.MonkeyPatch) -> int:
    """The engine's call count, asked as a client of its own protocol."""
    with monkeypatch.context() as patch:
        patch.setattr(protocol, "WIRE_PROTOCOL", OLDER)
        with PyroEngineLink(endpoint.socket_path, endpoint.key_file) as link:
            calls: int = link.stats()["engine"]["calls"]
    return calls


def test_a_busy_older_engine_is_refused_before_anything_is_sent(
    state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = _engine_of(OLDER, state_dir, monkeypatch, busy=True)
    calls = _calls_seen_by(old, monkeypatch)

    with pytest.raises(EngineProtocolMismatch) as refused:
        ensure_engine(state_dir, FAKE_FACTORY, idle_timeout=0)
    with (
        pytest.raises(EngineProtocolMismatch),
        PyroEngineLink(old.socket_path, old.key_file) as link,
    ):
        link.submit_workflow(DOCUMENT, "sent?", None, None)

    message = str(refused.value)
    assert f"link protocol {OLDER}" in message
    assert f"link protocol {protocol.WIRE_PROTOCOL}" in message
    assert "swf engine stop" in message
    assert _calls_seen_by(old, monkeypatch) == calls  # nothing reached the old engine
    status = engine_status(state_dir)
    assert status is not None
    assert status["pid"] == old.pid
    assert status["protocol"] == OLDER
    assert "swf engine stop" in status["incompatible"]


def test_an_idle_older_engine_is_replaced_transparently(
    state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = _engine_of(OLDER, state_dir, monkeypatch)

    with local_engine_link(state_dir, FAKE_FACTORY, idle_timeout=0) as link:
        workflow = link.submit_workflow(DOCUMENT, "after upgrade", None, None)
        pid = link.ping()

    assert pid != old.pid
    assert workflow > 0
    status = engine_status(state_dir)
    assert status is not None
    assert status["pid"] == pid
    assert status["protocol"] == protocol.WIRE_PROTOCOL
    assert "incompatible" not in status


def test_an_idle_newer_engine_is_left_alone(
    state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    newer = _engine_of(protocol.WIRE_PROTOCOL + 1, state_dir, monkeypatch)

    with pytest.raises(EngineProtocolMismatch, match="swf engine stop"):
        ensure_engine(state_dir, FAKE_FACTORY, idle_timeout=0)

    status = engine_status(state_dir)
    assert status is not None and status["pid"] == newer.pid
