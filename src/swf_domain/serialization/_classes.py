"""soma-workflow job class names <-> swf Job classes (``"class"`` of a job entry).

Job and BarrierJob are known from the start; the custom jobs of ``swf_domain.custom_jobs``
(``soma_workflow.custom_jobs.MapJob``...) are registered on first need, from that
module's ``CUSTOM_JOB_CLASSES``: most workflows never use them, and importing the module
here at import time would tie the two modules in a cycle.
"""

from __future__ import annotations

import importlib
from typing import Final

from ..model import BarrierJob, Job

JOB_CLASS: Final = "soma_workflow.client_types.Job"
BARRIER_CLASS: Final = "soma_workflow.client_types.BarrierJob"
CLIENT_TYPES: Final = "soma_workflow.client_types."


class JobClasses:
    """soma-workflow class names <-> swf Job classes.

    The custom jobs module is imported on first need only: most workflows never use it,
    and importing it here at module level would tie the two modules in a cycle.
    """

    def __init__(self) -> None:
        self.by_name: dict[str, type[Job]] = {JOB_CLASS: Job, BARRIER_CLASS: BarrierJob}
        self.names: dict[type[Job], str] = {Job: JOB_CLASS, BarrierJob: BARRIER_CLASS}
        self.name_cache: dict[type, str] = {}
        self.custom_loaded = False

    def register(self, soma_name: str, job_class: type[Job]) -> None:
        if not (isinstance(job_class, type) and issubclass(job_class, Job)):
            raise TypeError(f"{job_class!r} is not a Job class")
        self.by_name[soma_name] = job_class
        self.names.setdefault(job_class, soma_name)
        self.name_cache.clear()

    def lookup(self, soma_name: str) -> type[Job] | None:
        if "." not in soma_name:  # soma resolves a bare name in its client_types module
            soma_name = CLIENT_TYPES + soma_name
        found = self.by_name.get(soma_name)
        if found is None and self._load_custom_jobs():
            found = self.by_name.get(soma_name)
        return found

    def name_of(self, job_class: type) -> str:
        """The registered name of ``job_class`` or of its nearest registered ancestor."""
        cached = self.name_cache.get(job_class)
        if cached is not None:
            return cached
        if job_class not in self.names:
            self._load_custom_jobs()
        name = next(self.names[base] for base in job_class.__mro__ if base in self.names)
        self.name_cache[job_class] = name
        return name

    def _load_custom_jobs(self) -> bool:
        if self.custom_loaded:
            return False
        self.custom_loaded = True
        module = importlib.import_module("..custom_jobs", __package__)
        for soma_name, job_class in getattr(module, "CUSTOM_JOB_CLASSES", {}).items():
            self.register(soma_name, job_class)
        return True


CLASSES = JobClasses()


def register_job_class(soma_name: str, job_class: type[Job]) -> None:
    """Read documents whose job ``"class"`` is ``soma_name`` as ``job_class``.

    The first name registered for a class is the one written for it.
    """
    CLASSES.register(soma_name, job_class)


def job_class_for(soma_name: str) -> type[Job] | None:
    """The Job class registered for a soma-workflow class name, if any."""
    return CLASSES.lookup(soma_name)


def soma_class_name(job_class: type[Job]) -> str:
    """The class name written for ``job_class`` (its nearest registered ancestor's)."""
    return CLASSES.name_of(job_class)
