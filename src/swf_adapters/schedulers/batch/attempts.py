"""Cluster resources that grow with each attempt of a retried job.

A native specification (the job's or the resource's NATIVE_SPECIFICATION) may say
``{attempt}`` or ``{attempt*N}``: each attempt is submitted with it replaced by the
attempt number (1, 2...) times N, so ``--mem={attempt*4}G --time={attempt*30}`` asks
4 GB and 30 minutes first, 8 GB and an hour on the retry — what Snakemake users write
with ``attempt`` in ``resources`` and Nextflow users with ``task.attempt``. soma-workflow
has no retries (hence no such thing); a specification without the placeholder is
passed unchanged.
"""

from __future__ import annotations

import re

_PLACEHOLDER = re.compile(r"\{attempt(?:\s*\*\s*(\d+))?\}")


def for_attempt(options: tuple[str, ...], attempt: int) -> tuple[str, ...]:
    """``options`` with every ``{attempt}`` / ``{attempt*N}`` replaced for ``attempt``."""
    if not any("{attempt" in option for option in options):
        return options

    def value(match: re.Match[str]) -> str:
        return str(attempt * int(match.group(1) or 1))

    return tuple(_PLACEHOLDER.sub(value, option) for option in options)
