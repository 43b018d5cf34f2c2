"""What a remote resource's client needs from its section: the remote side's own options
and the remote python.

soma-workflow's remote section mixes the client's options (how to log in) with the
resource's own (its SCHEDULER_TYPE, queues, paths on the cluster). The client keeps the
first kind and sends the second to the remote agent, which writes them as the remote
engine's configuration: one section in one file describes the whole resource. Where
the resource has its own configuration file (its ``~/.soma-workflow.cfg``, as soma's
server side reads) with a section of the same name, that section's options win over the
client's: the resource's administrator knows its scheduler and paths better than a
laptop's copy (``swf_entry.remote_agent``).
"""

from __future__ import annotations

import ast
import shlex
from pathlib import Path

from swf_domain.errors import ConfigurationError

from .ini import read_ini
from .options import RAW_OPTIONS
from .resource import ResourceConfig

#: Options that only say how the client reaches the resource (never sent to it).
CLIENT_ONLY_OPTIONS: frozenset[str] = frozenset(
    {
        "CLUSTER_ADDRESS",
        "SUBMITTING_MACHINES",
        "LOGIN",
        "SSHPort",
        "INSTALLPATH",
        "ALLOWED_PYTHON_VERSIONS",
        "LIGHT_MODE",
        "SSH_KEY_FILE",
        "SSH_KNOWN_HOSTS",
        "SSH_HOST_KEY",
    }
)
DEFAULT_REMOTE_PYTHON = "python3"


def remote_side_options(config: ResourceConfig) -> dict[str, str]:
    """The section's options for the remote engine (values interpolated here, ``%``
    escaped again so the remote reader takes them verbatim)."""
    if config.config_file is None:
        return {}
    return section_options(config.config_file, config.resource_id)


def section_options(path: Path, section: str) -> dict[str, str]:
    """A section's options but the client-only ones, as ``remote_side_options`` says (the
    client's file, or the resource's own, read there by the remote agent)."""
    document = read_ini(path)
    if not document.has_section(section):
        return {}
    options: dict[str, str] = {}
    for key in document.keys(section):
        value = document.value(section, key)
        if value is None or value.name in CLIENT_ONLY_OPTIONS:
            continue
        text = value.text if value.name in RAW_OPTIONS else value.text.replace("%", "%%")
        options[value.name] = text
    return options


def remote_python(config: ResourceConfig) -> list[str]:
    """``PYTHON_COMMAND`` as an argument list: words (``bv python``) or soma's list literal
    (``['bv', 'python']``); ``python3`` by default."""
    text = (config.python_command or DEFAULT_REMOTE_PYTHON).strip()
    if text.startswith("["):
        try:
            words = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            words = None
        if not isinstance(words, list) or not all(isinstance(w, str) for w in words) or not words:
            raise ConfigurationError(
                f"resource {config.resource_id!r}: PYTHON_COMMAND {text!r} is not a list of words"
            )
        return list(words)
    words = shlex.split(text)
    if not words:
        raise ConfigurationError(f"resource {config.resource_id!r}: PYTHON_COMMAND is empty")
    return words


def remote_host(config: ResourceConfig) -> str:
    """The host to log into: ``CLUSTER_ADDRESS``, else the first submitting machine."""
    host = config.cluster_address or next(iter(config.submitting_machines), None)
    if not host:
        raise ConfigurationError(
            f"resource {config.resource_id!r} is remote but names no host: set CLUSTER_ADDRESS"
        )
    return host
