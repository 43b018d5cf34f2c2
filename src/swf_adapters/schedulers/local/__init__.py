"""The local scheduler: jobs run as processes of this machine, through a job host.

See ``host.py`` for why a separate host process runs the jobs (it outlives the engine).
``LocalScheduler`` is imported lazily so that the host process, started as
``python -m swf_adapters.schedulers.local.host``, does not load the engine-side modules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from swf_adapters.schedulers.local.adapter import LocalScheduler

__all__ = ["LocalScheduler"]


def __getattr__(name: str) -> Any:
    if name == "LocalScheduler":
        from swf_adapters.schedulers.local.adapter import LocalScheduler

        return LocalScheduler
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
