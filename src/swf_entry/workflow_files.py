"""Reading a workflow from a file: soma-workflow JSON, or a Python file that builds one.

A Python file exposes either a ``workflow`` object or a ``build()`` function returning a
Workflow, so users write workflows in Python exactly as they do with the API.
"""

from __future__ import annotations

import runpy
from pathlib import Path

from swf_domain import serialization
from swf_domain.errors import SerializationError
from swf_domain.model import Workflow


def load_workflow_file(path: str | Path) -> Workflow:
    """The workflow described by ``path`` (``.py`` -> Python, anything else -> JSON)."""
    file = Path(path)
    if not file.exists():
        raise SerializationError(f"{file}: no such file")
    if file.suffix == ".py":
        return _load_python(file)
    try:
        text = file.read_text()
    except OSError as error:
        raise SerializationError(f"{file}: cannot read: {error.strerror}") from error
    return serialization.loads(text, source=str(file))


def _load_python(file: Path) -> Workflow:
    try:
        namespace = runpy.run_path(str(file), run_name="__swf_workflow__")
    except SyntaxError as error:
        raise SerializationError(f"{file}:{error.lineno}: syntax error: {error.msg}") from error
    except Exception as error:  # the user's code failed: say where, keep the cause chained
        raise SerializationError(
            f"{file}: running it raised {type(error).__name__}: {error}"
        ) from error
    candidate = namespace.get("workflow")
    if candidate is None and callable(namespace.get("build")):
        try:
            candidate = namespace["build"]()
        except Exception as error:
            raise SerializationError(
                f"{file}: build() raised {type(error).__name__}: {error}"
            ) from error
    if not isinstance(candidate, Workflow):
        found = type(candidate).__name__ if candidate is not None else "nothing"
        raise SerializationError(
            f"{file}: expected a 'workflow' Workflow object or a build() function returning one,"
            f" found {found}"
        )
    return candidate
