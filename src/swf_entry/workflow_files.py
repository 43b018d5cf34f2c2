"""Reading a workflow from a file: soma-workflow JSON, or a Python file that builds one.

A Python file exposes either a ``workflow`` object or a ``build()`` function returning a
Workflow, so users write workflows in Python exactly as they do with the API.

One validation path for both: ``check_workflow_file`` gives the same report (a list of
``Problem``, each naming its culprit) whatever the file's language. A JSON file's own
problems (a job that cannot be read, a reference to an unknown id) come first, all of
them, then the workflow's (``find_problems``), numbered and worded as for Python.
"""

from __future__ import annotations

import runpy
from pathlib import Path

from swf_domain import serialization
from swf_domain.errors import SerializationError
from swf_domain.model import Workflow
from swf_domain.validation import Problem, check_document, find_problems, raise_problems


def check_workflow_file(path: str | Path) -> tuple[Workflow, list[Problem]]:
    """The workflow described by ``path`` (``.py`` -> Python, anything else -> JSON) and
    every problem of it. Raises SerializationError when there is nothing to check (no
    such file, not JSON or not UTF-8, not a workflow document, the Python file fails)."""
    file = Path(path)
    if not file.exists():
        raise SerializationError(f"{file}: no such file")
    if file.suffix == ".py":
        workflow = _load_python(file)
        return workflow, find_problems(workflow)
    try:
        data = file.read_bytes()  # decoded by parse, which names a bad byte's line
    except OSError as error:
        raise SerializationError(f"{file}: cannot read: {error.strerror}") from error
    return check_document(serialization.parse(data, str(file)), str(file))


def load_workflow_file(path: str | Path) -> Workflow:
    """The workflow of ``path``, valid: else the first problem's typed error, carrying
    every problem (see ``check_workflow_file``)."""
    workflow, problems = check_workflow_file(path)
    raise_problems(problems)
    return workflow


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
