"""``soma_workflow.custom_jobs``: swf_entry.custom_jobs's names (see the package docstring)."""

from __future__ import annotations

from swf_entry.custom_jobs import *  # noqa: F403
from swf_entry.custom_jobs import __all__ as __all__
