"""The resource's transfer directory on its local disk (``TransferArea``).

Layout: ``<root>/<workflow id>/<rank>/`` holds a transfer's data, ``<rank>.json`` its
state. Every name is built from integers, so nothing a client sends can steer a path.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from swf_domain.errors import TransferError


class LocalTransferArea:
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self._root = Path(root)

    def directory(self, workflow_id: int, rank: int) -> str:
        return str(self._root / str(int(workflow_id)) / str(int(rank)))

    def make(self, workflow_id: int, rank: int) -> str:
        path = self.directory(workflow_id, rank)
        os.makedirs(path, mode=0o700, exist_ok=True)
        return path

    def state(self, workflow_id: int, rank: int) -> dict[str, Any] | None:
        try:
            text = self._state_file(workflow_id, rank).read_text()
        except FileNotFoundError:
            return None
        try:
            found = json.loads(text)
        except ValueError as error:
            where = self._state_file(workflow_id, rank)
            raise TransferError(f"transfer state {where}: {error}") from None
        return found if isinstance(found, dict) else None

    def write_state(self, workflow_id: int, rank: int, state: dict[str, Any]) -> None:
        target = self._state_file(workflow_id, rank)
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
        with os.fdopen(handle, "w") as stream:
            json.dump(state, stream)
        os.replace(temporary, target)

    def remove(self, workflow_id: int, rank: int) -> None:
        shutil.rmtree(self.directory(workflow_id, rank), ignore_errors=True)
        self._state_file(workflow_id, rank).unlink(missing_ok=True)

    def remove_workflow(self, workflow_id: int) -> None:
        shutil.rmtree(self._root / str(int(workflow_id)), ignore_errors=True)

    def new_standalone(self) -> int:
        """The next free rank of workflow 0, claimed by an exclusive ``mkdir``."""
        base = self._root / "0"
        base.mkdir(mode=0o700, parents=True, exist_ok=True)
        rank = max(self.standalone(), default=0) + 1
        while True:
            try:
                (base / str(rank)).mkdir(mode=0o700)
                return rank
            except FileExistsError:
                rank += 1

    def standalone(self) -> list[int]:
        base = self._root / "0"
        if not base.is_dir():
            return []
        return sorted(int(name) for name in os.listdir(base) if name.isdigit())

    def _state_file(self, workflow_id: int, rank: int) -> Path:
        return self._root / str(int(workflow_id)) / f"{int(rank)}.json"
