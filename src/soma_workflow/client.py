"""``soma_workflow.client``: swf_entry.client's names (see the package docstring)."""

from __future__ import annotations

# soma-workflow's client module also exposes the modules it imports.
from soma_workflow import configuration, constants, scheduler  # noqa: F401
from swf_entry.client import *  # noqa: F403
from swf_entry.client import __all__ as __all__
