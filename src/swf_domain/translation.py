"""Translation tables: where a SharedResourcePath's directory is on a computing resource.

A SharedResourcePath names a directory by ``(namespace, uuid)`` plus a path relative to
it, so one workflow runs on machines that mount the same data under different roots.
Each resource lists, per namespace, translation files mapping uuids to roots there.

File format (soma-workflow's): one ``uuid root`` pair per line, separated by
whitespace; the root is the rest of the line (it may contain spaces; trailing blanks
are dropped); a later line for the same uuid wins. soma-workflow skips any line with
fewer than two fields; swf skips only blank lines and ``#`` comments and reports other
one-field lines as errors, since they are always a mistake. ``$VAR`` expansion in roots
needs the environment, so it is the caller's business (``expand`` hook).
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

from .errors import ConfigurationError, JobError
from .model import SharedResourcePath


class UntranslatablePathError(JobError):
    """A SharedResourcePath whose namespace or uuid the resource's tables do not know."""


def parse_translation_text(
    text: str, source: str, expand: Callable[[str], str] | None = None
) -> dict[str, str]:
    """``uuid -> root`` from the text of one translation file.

    ``source`` names the file in errors (``ConfigurationError: <source>, line 3: ...``);
    ``expand`` (e.g. ``os.path.expandvars``) is applied to each root.
    """
    roots: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split(None, 1)
        if not fields or fields[0].startswith("#"):
            continue
        if len(fields) < 2 or not fields[1].strip():
            raise ConfigurationError(
                f"{source}, line {number}: expected 'uuid path', got {line.strip()!r}"
            )
        root = fields[1].rstrip()
        roots[fields[0]] = expand(root) if expand is not None else root
    return roots


@dataclass(frozen=True)
class TranslationTable:
    """``(namespace, uuid) -> root`` for one computing resource."""

    roots: Mapping[tuple[str, str], str] = field(default_factory=dict)

    @classmethod
    def from_namespaces(cls, nested: Mapping[str, Mapping[str, str]]) -> TranslationTable:
        """From ``{namespace: {uuid: root}}`` (the shape configuration readers produce)."""
        return cls(
            {
                (namespace, uuid): root
                for namespace, by_uuid in nested.items()
                for uuid, root in by_uuid.items()
            }
        )

    def with_file(self, namespace: str, text: str, source: str) -> TranslationTable:
        """A copy with one more translation file of ``namespace`` (its lines win)."""
        added = parse_translation_text(text, source)
        merged = dict(self.roots)
        merged.update({(namespace, uuid): root for uuid, root in added.items()})
        return TranslationTable(merged)

    def root(self, namespace: str | None, uuid: str | None) -> str:
        """The root of ``(namespace, uuid)``; UntranslatablePathError names what is missing."""
        if namespace is None or uuid is None:
            raise UntranslatablePathError(
                f"shared resource path needs a namespace and a uuid, got namespace "
                f"{namespace!r}, uuid {uuid!r}"
            )
        found = self.roots.get((namespace, uuid))
        if found is not None:
            return found
        if not any(known == namespace for known, _ in self.roots):
            raise UntranslatablePathError(
                f"shared resource path: namespace {namespace!r} has no translation on this "
                f"resource (uuid {uuid!r})"
            )
        raise UntranslatablePathError(
            f"shared resource path: uuid {uuid!r} is not in the translation files of "
            f"namespace {namespace!r}"
        )

    def namespaces(self) -> set[str]:
        return {namespace for namespace, _ in self.roots}

    def __contains__(self, key: object) -> bool:
        return key in self.roots

    def __len__(self) -> int:
        return len(self.roots)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self.roots)


def translated_root_path(path: SharedResourcePath, table: TranslationTable) -> str:
    """The path's location on the resource, before its pattern: root / relative_path."""
    return posixpath.join(table.root(path.namespace, path.uuid), path.relative_path)


def translate(path: SharedResourcePath, table: TranslationTable) -> str:
    """The path as a job sees it on the resource: root / relative_path, pattern applied."""
    return path.apply_pattern(translated_root_path(path, table))
