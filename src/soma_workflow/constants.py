"""``soma_workflow.constants``: swf_entry.constants's names (see the package docstring)."""

from __future__ import annotations

from swf_entry.constants import *  # noqa: F403
from swf_entry.constants import __all__ as __all__
