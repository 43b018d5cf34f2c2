"""Keys of a document that the model has no field for, kept with the loaded workflow.

They live in a private attribute of the Workflow (jobs and special paths have
``__slots__``), keyed by element identity, and are written back verbatim.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from ..model import Workflow

EXTRAS_ATTRIBUTE: Final = "_swf_soma_unknown_keys"


@dataclass(slots=True)
class UnknownKeys:
    """Keys of a document that the model has no field for, to write them back."""

    workflow: dict[str, Any]
    #: By element (Job, Group or SpecialPath, compared by identity).
    elements: dict[object, dict[str, Any]]


def unknown_keys_of(workflow: Workflow) -> UnknownKeys | None:
    found = getattr(workflow, EXTRAS_ATTRIBUTE, None)
    return found if isinstance(found, UnknownKeys) else None
