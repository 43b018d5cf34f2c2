"""Which configuration file, and which of its sections, describe the resource to use.

The lookup order is soma-workflow's, with swf's own variable first:

1. ``$SWF_CONFIG`` (swf's name; must exist when set: a typo should not go unnoticed),
2. ``$SOMA_WORKFLOW_CONFIG`` (skipped when it names no file, as soma-workflow does),
3. ``$HOME/.soma-workflow.cfg``,
4. ``/etc/soma-workflow.cfg``.

soma-workflow also looks inside its own installed package (``etc/soma-workflow.cfg``);
swf ships no such file. It does not look in XDG directories, and neither does swf.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Mapping
from pathlib import Path

from swf_domain.errors import ConfigurationError

from .ini import IniDocument
from .values import BadValue, parse_bool, parse_python_versions

SWF_CONFIG_VARIABLE = "SWF_CONFIG"
SOMA_CONFIG_VARIABLE = "SOMA_WORKFLOW_CONFIG"
USER_CONFIG_NAME = ".soma-workflow.cfg"
#: System-wide files, last in the lookup order (a module attribute so tests can swap it).
SYSTEM_CONFIG_FILES: tuple[Path, ...] = (Path("/etc/soma-workflow.cfg"),)
#: Options whose presence makes a section a cluster/remote resource for soma-workflow.
_REMOTE_MARKERS = ("scheduler_type", "submitting_machines", "cluster_address")


def home_directory(env: Mapping[str, str]) -> str:
    """``$HOME`` from ``env`` (tests pass a fake one), else the account's home."""
    home = env.get("HOME")
    return home if home else os.path.expanduser("~")


def find_config_file(env: Mapping[str, str] | None = None) -> Path | None:
    """The configuration file to read, or None when there is none (defaults apply)."""
    env = os.environ if env is None else env
    explicit = env.get(SWF_CONFIG_VARIABLE)
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise ConfigurationError(
                f"{SWF_CONFIG_VARIABLE}={explicit}: no such configuration file"
            )
        return path
    candidates: list[Path] = []
    soma = env.get(SOMA_CONFIG_VARIABLE)
    if soma:
        candidates.append(Path(soma).expanduser())
    candidates.append(Path(home_directory(env)) / USER_CONFIG_NAME)
    candidates.extend(SYSTEM_CONFIG_FILES)
    return next((path for path in candidates if path.is_file()), None)


def local_host_names() -> tuple[str, ...]:
    """Names that all mean "this machine": the host name, its short form, ``localhost``."""
    full = socket.gethostname()
    names = [full, full.split(".")[0], "localhost"]
    return tuple(dict.fromkeys(names))


def is_local_resource(document: IniDocument | None, resource_id: str) -> bool:
    """soma-workflow's rule: a local resource runs on this machine with the local scheduler.

    True when the id names this machine, when its section asks for light mode, or when
    the section has none of the options that describe a cluster.
    """
    if resource_id in local_host_names():
        return True
    if document is None or not document.has_section(resource_id):
        return False
    light = document.raw_text(resource_id, "light_mode")
    if light is not None and _bool_or_false(light):
        return True
    return not set(document.keys(resource_id)) & set(_REMOTE_MARKERS)


def default_resource_id(document: IniDocument | None) -> str:
    """The resource used when none is named, following soma-workflow's choice.

    The first section (in file order, among those allowing this Python) that is a local
    resource, or whose ``SUBMITTING_MACHINES`` name this machine without describing a
    remote cluster. A cluster section without ``SUBMITTING_MACHINES`` ends the search on
    this machine, as in soma-workflow. ``localhost`` stands for this machine.
    """
    if document is None:
        return socket.gethostname()
    for section in document.sections:
        if not python_version_allowed(document, section):
            continue
        if is_local_resource(document, section):
            return section
        machines = document.raw_text(section, "submitting_machines")
        if machines is None:
            return "localhost"
        keys = document.keys(section)
        names_this_machine = bool(set(machines.split()) & set(local_host_names()))
        if names_this_machine and ("light_mode" in keys or "cluster_address" not in keys):
            return section
    return "localhost"


def resolve_section(document: IniDocument | None, resource_id: str) -> str | None:
    """The section describing ``resource_id``; local host names are aliases of each other."""
    if document is None:
        return None
    if document.has_section(resource_id):
        return resource_id
    if resource_id in local_host_names():
        return next((n for n in local_host_names() if document.has_section(n)), None)
    return None


def python_version_allowed(document: IniDocument, section: str) -> bool:
    """``ALLOWED_PYTHON_VERSIONS`` lets a section target another interpreter; absent: yes."""
    text = document.raw_text(section, "allowed_python_versions")
    if text is None:
        return True
    try:
        return sys.version_info.major in parse_python_versions(text)
    except BadValue:
        return True  # reported with its location when that section is loaded


def _bool_or_false(text: str) -> bool:
    try:
        return parse_bool(text)
    except BadValue:
        return False
