"""Reading the translation files of a resource: ``(namespace, uuid) -> path`` on it.

A SharedResourcePath names a directory by ``(namespace, uuid)``; each resource's files
(``PATH_TRANSLATION_FILES``) say where that directory is there. The file format is
soma-workflow's, parsed by :func:`swf_domain.translation.parse_translation_text`. Later
files of a namespace override earlier ones for the same uuid.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from swf_domain.errors import ConfigurationError
from swf_domain.translation import parse_translation_text

from .resource import ResourceConfig
from .values import expand_variables


def translation_table(
    config: ResourceConfig, env: Mapping[str, str] | None = None
) -> dict[str, dict[str, str]]:
    """``namespace -> uuid -> path`` from every translation file of ``config``.

    Paths have ``$VARIABLES`` expanded (from ``env``, default the process environment),
    as soma-workflow does. A missing or unreadable file is a :class:`ConfigurationError`
    naming the file and where it was configured: jobs using it could not run anyway.
    """
    environ: Mapping[str, str] = os.environ if env is None else env
    configured_at = config.sources.get("path_translation_files", "default")
    tables: dict[str, dict[str, str]] = {}
    for namespace, files in config.path_translation_files.items():
        table = tables.setdefault(namespace, {})
        for path in files:
            text = _read(path, namespace, configured_at)
            table.update(
                parse_translation_text(
                    text, str(path), lambda root: expand_variables(root, environ)
                )
            )
    return tables


def _read(path: Path, namespace: str, configured_at: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = "no such file" if isinstance(exc, FileNotFoundError) else str(exc)
        raise ConfigurationError(
            f"{configured_at}: PATH_TRANSLATION_FILES: translation file {str(path)!r} of "
            f"namespace {namespace!r} cannot be read ({reason})"
        ) from None
