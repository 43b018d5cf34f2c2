"""Pyro5 transport: an engine served on a private Unix socket, reached by ``PyroEngineLink``."""

from swf_adapters.transport.pyro.client import (
    EngineKeyRefused,
    EngineProtocolMismatch,
    PyroEngineLink,
)
from swf_adapters.transport.pyro.connector import Connector, LocalSocketConnector
from swf_adapters.transport.pyro.private_files import (
    ensure_private_dir,
    load_or_create_key,
    read_key,
)
from swf_adapters.transport.pyro.protocol import OBJECT_ID, engine_uri
from swf_adapters.transport.pyro.server import EngineObject, EngineServer

__all__ = [
    "OBJECT_ID",
    "Connector",
    "EngineKeyRefused",
    "EngineObject",
    "EngineProtocolMismatch",
    "EngineServer",
    "LocalSocketConnector",
    "PyroEngineLink",
    "engine_uri",
    "ensure_private_dir",
    "load_or_create_key",
    "read_key",
]
