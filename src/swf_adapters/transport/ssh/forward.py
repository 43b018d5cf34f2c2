"""Reach a Unix socket of the remote host through an SSH connection.

``open_streamlocal`` opens OpenSSH's ``direct-streamlocal@openssh.com`` channel to a remote
socket path (paramiko's ``open_channel`` only packs TCP destinations, so the channel-open
message is built here, the rest being paramiko's own machinery). ``SocketForwarder`` serves a
private local Unix socket whose every connection is pumped to a fresh channel: a Pyro proxy
dials the local socket and never knows about SSH.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paramiko
from paramiko.common import cMSG_CHANNEL_OPEN
from paramiko.message import Message

STREAMLOCAL = "direct-streamlocal@openssh.com"
_CHUNK = 65536


def open_streamlocal(
    transport: paramiko.Transport, remote_path: str, timeout: float = 15.0
) -> paramiko.Channel:
    """A channel connected to ``remote_path`` on the server (refused: SSHException)."""
    if not transport.is_active():
        raise paramiko.SSHException("SSH session not active")
    channel, event = _register_channel(transport)
    message = Message()
    message.add_byte(cMSG_CHANNEL_OPEN)
    message.add_string(STREAMLOCAL)
    message.add_int(channel.chanid)
    message.add_int(transport.default_window_size)
    message.add_int(transport.default_max_packet_size)
    message.add_string(remote_path)
    message.add_string("")  # reserved
    message.add_int(0)  # reserved
    transport._send_user_message(message)  # type: ignore[attr-defined]
    return _wait_open(transport, channel, event, timeout)


def _register_channel(transport: paramiko.Transport) -> tuple[paramiko.Channel, threading.Event]:
    """Book a channel id and its open event, as paramiko's open_channel does."""
    t: Any = transport  # paramiko's private channel bookkeeping (not in its type stubs)
    with t.lock:
        chanid = t._next_channel()
        channel: Any = paramiko.Channel(chanid)
        t._channels.put(chanid, channel)
        event = t.channel_events[chanid] = threading.Event()
        t.channels_seen[chanid] = True
        channel._set_transport(t)
        channel._set_window(t.default_window_size, t.default_max_packet_size)
    return channel, event


def _wait_open(
    transport: paramiko.Transport, channel: paramiko.Channel, event: threading.Event, timeout: float
) -> paramiko.Channel:
    deadline = time.monotonic() + timeout
    while not event.wait(0.05):
        if not transport.is_active():
            raise transport.get_exception() or paramiko.SSHException("SSH session closed")
        if time.monotonic() > deadline:
            raise paramiko.SSHException(f"timeout opening a channel to {STREAMLOCAL}")
    if transport._channels.get(channel.chanid) is None:  # type: ignore[attr-defined]
        raise transport.get_exception() or paramiko.ChannelException(
            2, "the server refused to connect to the remote socket"
        )
    return channel


class SocketForwarder:
    """A local Unix socket (in a fresh 0700 directory) forwarded to a remote socket.

    ``channel_to_remote`` opens the channel of one connection (it may reconnect SSH first);
    a connection it cannot serve is closed at once, which the Pyro client sees as an
    engine that is not there.
    """

    def __init__(self, channel_to_remote: Callable[[], paramiko.Channel]) -> None:
        self._open_channel = channel_to_remote
        self._directory = Path(tempfile.mkdtemp(prefix="swf-ssh-"))
        self.path = self._directory / "engine.sock"
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(str(self.path))
        os.chmod(self.path, 0o600)
        self._server.listen(64)
        self._closed = False
        threading.Thread(target=self._accept_loop, name="swf-ssh-forward", daemon=True).start()

    def _accept_loop(self) -> None:
        while not self._closed:
            try:
                local, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(local,), daemon=True).start()

    def _serve(self, local: socket.socket) -> None:
        try:
            channel = self._open_channel()
        except Exception:
            local.close()
            return
        try:
            _pump(local, channel)
        finally:
            channel.close()
            local.close()

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self._server.close()
        with contextlib.suppress(OSError):
            self.path.unlink()
            self._directory.rmdir()


def _pump(local: socket.socket, channel: paramiko.Channel) -> None:
    """Copy bytes both ways until either side closes."""
    while True:
        sources: list[Any] = [local, channel]
        readable, _, _ = select.select(sources, [], [])
        for source in readable:
            data = source.recv(_CHUNK)
            if not data:
                return
            (channel if source is local else local).sendall(data)
