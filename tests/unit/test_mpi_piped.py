"""The socket-pair channel of rank 0's own job slots (piped.py)."""

from __future__ import annotations

import socket

from swf_adapters.schedulers.mpi import wire
from swf_adapters.schedulers.mpi.channel import LocalChannels
from swf_adapters.schedulers.mpi.piped import OrphanGuard, PipeChannel, RoutedChannel


def _pair() -> tuple[PipeChannel, PipeChannel]:
    left, right = socket.socketpair()
    return PipeChannel(left, 0, 0), PipeChannel(right, 0, 0)


def test_frames_arrive_whole_in_order_even_past_the_socket_buffer() -> None:
    parent, child = _pair()
    big = b"x" * 3_000_000  # more than a socket buffer: the sender keeps the rest
    parent.send(0, wire.ORDERS, b"first")
    parent.send(0, wire.ORDERS, big)
    parent.send(0, wire.REPORT, b"")
    received = []
    while len(received) < 3:
        received += child.receive()
        parent.flush()
    assert received == [(0, wire.ORDERS, b"first"), (0, wire.ORDERS, big), (0, wire.REPORT, b"")]
    assert parent.flush()


def test_the_child_is_told_to_stop_once_rank0_is_gone() -> None:
    parent, child = _pair()
    guarded = OrphanGuard(child)
    parent.send(0, wire.ORDERS, wire.orders([], [], ack=[4]))
    parent.close()

    first = guarded.receive()

    assert [wire.decode(payload)["stop"] for _, _, payload in first] == [False, True]
    assert guarded.receive() == []  # told once
    guarded.send(0, wire.REPORT, b"[]")  # nobody listens: no error
    assert guarded.flush()


def test_rank0_s_channel_routes_its_own_slots_to_the_socket() -> None:
    mpi = LocalChannels(2)
    parent, child = _pair()
    routed = RoutedChannel(mpi.channel(0), {0: parent})
    routed.send(0, wire.ORDERS, b"to-child")
    routed.send(1, wire.ORDERS, b"to-rank1")
    child.send(0, wire.REPORT, b"from-child")
    mpi.channel(1).send(0, wire.REPORT, b"from-rank1")

    assert child.receive() == [(0, wire.ORDERS, b"to-child")]
    assert mpi.channel(1).receive() == [(0, wire.ORDERS, b"to-rank1")]
    assert sorted(routed.receive()) == [
        (0, wire.REPORT, b"from-child"),
        (1, wire.REPORT, b"from-rank1"),
    ]
    assert routed.flush()


def test_a_local_worker_whose_process_ended_says_goodbye_once() -> None:
    parent, child = _pair()
    routed = RoutedChannel(LocalChannels(1).channel(0), {0: parent})
    child.close()  # the child process died

    goodbye = routed.receive()

    assert goodbye == [(0, wire.REPORT, wire.encode([[wire.BYE]]))]
    assert routed.receive() == []
