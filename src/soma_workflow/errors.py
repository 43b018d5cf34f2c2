"""``soma_workflow.errors``: swf_entry.errors's names (see the package docstring)."""

from __future__ import annotations

from swf_entry.errors import *  # noqa: F403
from swf_entry.errors import __all__ as __all__
