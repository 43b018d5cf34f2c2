"""Configuration of computing resources, compatible with soma-workflow's INI file.

One section per resource id in ``~/.soma-workflow.cfg`` (or the file named by
``$SWF_CONFIG`` / ``$SOMA_WORKFLOW_CONFIG``); options use soma-workflow's names, plus a
few of swf's own (``DATABASE_URL``, ``STATE_DIR``, ``ENGINE_IDLE_TIMEOUT``). Any option
can be overridden by an ``SWF_<OPTION>`` environment variable.
"""

from __future__ import annotations

from swf_domain.errors import ConfigurationError
from swf_domain.translation import parse_translation_text

from .loader import load_config, load_config_text
from .locate import find_config_file, local_host_names
from .options import (
    SOMA_KEPT_OPTIONS,
    SOMA_TYPED_OPTIONS,
    SWF_OPTIONS,
    UnknownOptionWarning,
)
from .resource import LIGHT_MODE, LOCAL_MODE, REMOTE_MODE, ResourceConfig
from .translation import translation_table
from .values import SCHEDULER_TYPES

__all__ = [
    "LIGHT_MODE",
    "LOCAL_MODE",
    "REMOTE_MODE",
    "SCHEDULER_TYPES",
    "SOMA_KEPT_OPTIONS",
    "SOMA_TYPED_OPTIONS",
    "SWF_OPTIONS",
    "ConfigurationError",
    "ResourceConfig",
    "UnknownOptionWarning",
    "find_config_file",
    "load_config",
    "load_config_text",
    "local_host_names",
    "parse_translation_text",
    "translation_table",
]
