"""``soma_workflow.configuration``: swf_entry.configuration's names (see the package docstring)."""

from __future__ import annotations

from swf_entry.configuration import *  # noqa: F403
from swf_entry.configuration import __all__ as __all__
