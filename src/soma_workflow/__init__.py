"""soma-workflow's module layout on swf, so soma scripts run unchanged after ``pip install swf``.

Each module is a thin alias of swf's own (``soma_workflow.client`` is
``swf_entry.client``'s names, ``soma_workflow.configuration`` is
``swf_entry.configuration``'s...): same classes, so objects and exceptions are
interchangeable between the two spellings. This package takes the import name of the
real soma-workflow; the two are not meant to share one environment (README: "soma-workflow
scripts on swf").
"""

from __future__ import annotations

#: The soma-workflow API version these aliases follow.
__version__ = "6.0.13+swf"
