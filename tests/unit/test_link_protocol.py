"""The link protocol check: who may talk to whom, and when an engine may be replaced."""

from __future__ import annotations

import pytest

from swf_adapters.transport.pyro import protocol
from swf_adapters.transport.pyro.client import EngineProtocolMismatch, check_hello
from swf_adapters.transport.pyro.protocol import (
    LEGACY_PROTOCOL,
    WIRE_PROTOCOL,
    Peer,
    compatible,
    local_peer,
    peer_of,
)

HERE = local_peer()


def test_same_release_and_protocol_are_compatible() -> None:
    assert compatible(Peer("1.4.0", 3), Peer("1.4.7", 3))


@pytest.mark.parametrize(
    ("remote", "local"),
    [
        (Peer("1.4.0", 2), Peer("1.4.0", 3)),  # one release, the wire changed
        (Peer("1.5.0", 3), Peer("1.4.0", 3)),  # another minor release
        (Peer("2.4.0", 3), Peer("1.4.0", 3)),
    ],
)
def test_another_protocol_or_release_is_not(remote: Peer, local: Peer) -> None:
    assert not compatible(remote, local)


def test_an_answer_without_a_number_is_the_legacy_protocol() -> None:
    assert peer_of("swf") == Peer("unknown", LEGACY_PROTOCOL)  # engines before the number
    assert peer_of({"swf": "1.2.3"}) == Peer("1.2.3", LEGACY_PROTOCOL)
    assert peer_of({"swf": "1.2.3", "protocol": True}).protocol == LEGACY_PROTOCOL
    assert peer_of({"swf": "1.2.3", "protocol": 7}) == Peer("1.2.3", 7)


def test_the_number_is_newer_than_the_legacy_one() -> None:
    assert WIRE_PROTOCOL > LEGACY_PROTOCOL


def test_a_matching_engine_passes() -> None:
    check_hello("the engine", {"swf": HERE.version, "protocol": WIRE_PROTOCOL, "idle": False})


def _mismatch(hello: object) -> EngineProtocolMismatch:
    with pytest.raises(EngineProtocolMismatch) as refused:
        check_hello("the engine at /s", hello)
    return refused.value


def test_an_idle_older_engine_is_replaceable() -> None:
    mismatch = _mismatch({"swf": HERE.version, "protocol": WIRE_PROTOCOL - 1, "idle": True})
    assert mismatch.replaceable


def test_a_busy_older_or_an_idle_newer_engine_is_not() -> None:
    busy = _mismatch({"swf": HERE.version, "protocol": WIRE_PROTOCOL - 1, "idle": False})
    newer = _mismatch({"swf": HERE.version, "protocol": WIRE_PROTOCOL + 1, "idle": True})
    assert not busy.replaceable
    assert not newer.replaceable


def test_a_legacy_engine_is_refused_with_what_to_do() -> None:
    mismatch = _mismatch("swf")
    message = str(mismatch)
    assert not mismatch.replaceable  # its idleness is unknown
    assert f"link protocol {LEGACY_PROTOCOL}" in message
    assert f"swf {HERE.version} (link protocol {WIRE_PROTOCOL})" in message
    assert "the engine at /s" in message and "swf engine stop" in message


def test_the_local_peer_reads_the_number_at_call_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(protocol, "WIRE_PROTOCOL", 99)
    assert local_peer().protocol == 99


def test_the_remote_agent_refuses_a_client_of_another_protocol() -> None:
    from swf_entry.remote_agent import _refusal, ensure

    same = {"client_version": HERE.version, "client_protocol": WIRE_PROTOCOL}
    other = {"client_version": HERE.version, "client_protocol": WIRE_PROTOCOL + 1}
    assert _refusal(same) is None
    assert f"link protocol {WIRE_PROTOCOL + 1}" in str(_refusal(other))
    assert _refusal({"client_version": HERE.version}) is not None  # a client before the number
    answer = ensure("r", other)
    assert answer["protocol"] == WIRE_PROTOCOL and "cannot serve" in answer["error"]
