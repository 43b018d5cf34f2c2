"""``soma_workflow.scheduler``: swf_entry.scheduler's names (see the package docstring)."""

from __future__ import annotations

from swf_entry.scheduler import *  # noqa: F403
from swf_entry.scheduler import __all__ as __all__
