"""What a remote client runs on the resource, over SSH: ``python -m swf_entry.remote_agent``.

Each command prints one JSON line on stdout (nothing else), so the client reads a plain
answer whatever the remote shell prints around it:

- ``hello``: swf's version and the interpreter, checked by the client before anything else;
- ``ensure RESOURCE`` (stdin: ``{"options": {NAME: TEXT}, "client_version": V}``): answers
  as ``hello`` does and, when the versions are compatible, writes the remote side's own
  configuration of RESOURCE (the client's section without the client-only options, with
  the RESOURCE section of this side's own configuration file, if any, over it: the
  resource's file wins) to ``~/.swf/remote/RESOURCE-*.cfg``, starts the engine daemon if
  none answers, and says where its socket and key are;
- ``stop RESOURCE`` (stdin as for ``ensure``): stops that engine (its jobs go on).

The client is already authenticated by sshd when this runs; the JSON it reads is data.
"""

from __future__ import annotations

import configparser
import hashlib
import json
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

#: Where the remote side keeps the configuration a client sent for each resource.
REMOTE_CONFIG_DIR = Path("~/.swf/remote")


def swf_version() -> str:
    return version("swf")


def config_path(resource_id: str, options: dict[str, str]) -> Path:
    """A file per resource id and options: clients with different configurations of one
    resource id (another STATE_DIR...) never overwrite each other's file."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in resource_id)[:64]
    identity = json.dumps([resource_id, sorted(options.items())])
    digest = hashlib.sha256(identity.encode()).hexdigest()[:12]
    return REMOTE_CONFIG_DIR.expanduser() / f"{safe}-{digest}.cfg"


def write_config(resource_id: str, options: dict[str, str]) -> Path:
    """The engine's configuration file; named after what the client sent (``stop`` finds
    it again from that), holding it with this side's own options over it."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser[resource_id] = {**options, **own_options(resource_id)}
    path = config_path(resource_id, options)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_suffix(".tmp")
    with open(temporary, "w", encoding="utf-8") as file:
        parser.write(file)
    temporary.chmod(0o600)
    temporary.replace(path)
    return path


def own_options(resource_id: str) -> dict[str, str]:
    """The RESOURCE section of this side's configuration file ($SWF_CONFIG,
    $SOMA_WORKFLOW_CONFIG, ~/.soma-workflow.cfg, /etc/soma-workflow.cfg), client-only
    options left out; {} without one."""
    from swf_adapters.config.locate import find_config_file
    from swf_adapters.config.remote import section_options

    found = find_config_file()
    return section_options(found, resource_id) if found is not None else {}


def hello() -> dict[str, Any]:
    """Who answers: the client checks its swf version and link protocol (``compatible``)."""
    from swf_adapters.transport.pyro.protocol import WIRE_PROTOCOL

    return {
        "swf": swf_version(),
        "protocol": WIRE_PROTOCOL,
        "python": sys.executable,
        "python_version": sys.version,
    }


def ensure(resource_id: str, request: dict[str, Any]) -> dict[str, Any]:
    """The engine's endpoint, and this side's ``hello``; nothing is started for a client
    that cannot talk to this side (``client_version``, ``client_protocol``)."""
    refusal = _refusal(request)
    if refusal is not None:
        return {**hello(), "error": refusal}
    return {**hello(), **_ensure_engine(resource_id, request)}


def _refusal(request: dict[str, Any]) -> str | None:
    """Why this side cannot serve the requesting client (None: it can)."""
    from swf_adapters.transport.pyro.protocol import compatible, local_peer, peer_of

    if not isinstance(request.get("client_version"), str):
        return None  # an older client that said nothing: its engine link will check
    here = local_peer()
    client = peer_of({"swf": request["client_version"], "protocol": request.get("client_protocol")})
    if compatible(here, client):
        return None
    return f"{here.describe()} here cannot serve {client.describe()}"


def _ensure_engine(resource_id: str, request: dict[str, Any]) -> dict[str, Any]:
    from swf_adapters.config import load_config
    from swf_adapters.transport.pyro.local_daemon import ensure_engine

    config_file = write_config(resource_id, dict(request.get("options", {})))
    config = load_config(config_file, resource_id)
    idle = config.engine_idle_timeout
    endpoint = ensure_engine(
        config.state_dir,
        idle_timeout=idle if idle is not None else 0.0,
        config_file=config_file,
        resource_id=resource_id,
    )
    return {
        "socket": str(endpoint.socket_path),
        "key_file": str(endpoint.key_file),
        "pid": endpoint.pid,
        "state_dir": str(config.state_dir),
    }


def stop(resource_id: str, request: dict[str, Any]) -> dict[str, Any]:
    from swf_adapters.config import load_config
    from swf_adapters.transport.pyro.local_daemon import stop_engine

    config_file = config_path(resource_id, dict(request.get("options", {})))
    if not config_file.exists():
        return {"stopped": False}
    config = load_config(config_file, resource_id)
    return {"stopped": stop_engine(config.state_dir)}


def main(argv: list[str]) -> int:
    try:
        answer = _run(argv)
    except Exception as error:  # the client shows it: one line, typed
        answer = {"error": f"{type(error).__name__}: {error}"}
    print(json.dumps(answer), flush=True)
    return 1 if "error" in answer else 0


def _run(argv: list[str]) -> dict[str, Any]:
    command, *rest = argv or ["hello"]
    if command == "hello":
        return hello()
    if command in ("ensure", "stop") and len(rest) == 1:
        request = json.loads(sys.stdin.read() or "{}")
        return (ensure if command == "ensure" else stop)(rest[0], request)
    raise ValueError(f"unknown remote agent command {argv!r}")


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
