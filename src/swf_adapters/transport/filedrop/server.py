"""The runner's end: pick up command files, run them, drop the answers."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from swf_adapters.transport.filedrop.layout import (
    ANSWER_SUFFIX,
    HEARTBEAT_EVERY,
    REQUEST_SUFFIX,
    ControlLayout,
    write_runner,
)
from swf_adapters.transport.pyro.private_files import write_private_json
from swf_adapters.transport.pyro.wire_errors import encode_error
from swf_app.link import OPERATIONS, Kind
from swf_domain.errors import EngineError

_log = logging.getLogger("swf.control")

#: What a dropped request may ask for: the link table's commands (queries and waits are
#: answered by the client from the store).
COMMANDS = frozenset(name for name, op in OPERATIONS.items() if op.kind is Kind.COMMAND)


class ControlServer:
    """Serves ``service`` (an ``EngineService``) to the requests dropped in ``layout``.

    ``begin`` may come before the service exists (``service`` set later): clients must
    learn at once that a runner drives the directory, not start an engine of their own.
    """

    def __init__(
        self, layout: ControlLayout, service: Any, kind: str, details: dict[str, Any]
    ) -> None:
        self._layout = layout
        self.service = service
        self._kind = kind
        self._details = details
        self._started_at = time.time()
        self._next_heartbeat = 0.0
        self.served = 0

    def begin(self) -> None:
        self._layout.ensure()
        self._heartbeat()

    def update(self, details: dict[str, Any]) -> None:
        """Say more in ``runner.json`` (written at once)."""
        self._details.update(details)
        self._heartbeat()

    def poll(self) -> int:
        """Answer every request waiting now, and beat the heart when due; how many."""
        if time.monotonic() >= self._next_heartbeat:
            self._heartbeat()
        try:
            names = sorted(
                entry.name
                for entry in self._layout.control_dir.iterdir()
                if entry.name.endswith(REQUEST_SUFFIX)
            )
        except OSError as error:
            _log.warning("cannot list %s: %s", self._layout.control_dir, error)
            return 0
        for name in names:
            self._serve(self._layout.control_dir / name)
        return len(names)

    def end(self) -> None:
        write_runner(self._layout, self._kind, self._started_at, self._details, time.time())

    def _heartbeat(self) -> None:
        write_runner(self._layout, self._kind, self._started_at, self._details)
        self._next_heartbeat = time.monotonic() + HEARTBEAT_EVERY

    def _serve(self, request_file: Path) -> None:
        answer_file = request_file.with_name(
            request_file.name[: -len(REQUEST_SUFFIX)] + ANSWER_SUFFIX
        )
        try:
            request = json.loads(request_file.read_text(encoding="utf-8"))
            answer = {"ok": True, "result": self._run(request)}
        except Exception as error:  # the client gets it; the runner goes on
            answer = {"ok": False, "error": encode_error(_as_swf_error(error))}
        try:
            write_private_json(answer_file, answer)
        except (OSError, TypeError, ValueError) as error:
            _log.error("cannot answer %s: %s", request_file.name, error)
        request_file.unlink(missing_ok=True)
        self.served += 1

    def _run(self, request: Any) -> Any:
        if not isinstance(request, dict) or request.get("op") not in COMMANDS:
            raise EngineError(f"not a command this runner serves: {str(request)[:200]!r}")
        args = request.get("args")
        if not isinstance(args, list):
            raise EngineError(f"{request['op']}: its arguments must be a list")
        _log.info("command %s from a client", request["op"])
        if self.service is None:
            raise EngineError("the runner is still starting: try again in a moment")
        return getattr(self.service, request["op"])(*args)


def _as_swf_error(error: Exception) -> Exception:
    from swf_domain.errors import SomaWorkflowError

    if isinstance(error, SomaWorkflowError):
        return error
    return EngineError(f"{type(error).__name__}: {error}")
