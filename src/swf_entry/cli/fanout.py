"""``swf map``: a workflow of one job per input, from a command template (GNU Parallel's
way), without writing a workflow file.

The template is split into words like a shell would (``shlex``) and each input is put
into the words, never through a shell: an input with spaces, quotes or ``;`` stays one
piece of one argument. Replacement strings are GNU Parallel's:

``{}`` the input, ``{.}`` without its extension, ``{/}`` its basename, ``{//}`` its
directory (``.`` when it has none), ``{/.}`` the basename without extension, ``{#}`` the
job's sequence number (from 1); with several input sources, ``{1}``, ``{2}``... (and
``{1.}``, ``{2/}``...) name one input each. A template without any gets `` {}`` appended.

Inputs: ``::: a b c`` (arguments), ``:::: FILE`` or ``-a FILE`` (one input per line;
``-`` is stdin). Several sources combine as GNU Parallel does: every combination.
"""

from __future__ import annotations

import itertools
import os
import re
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from swf_domain.errors import SerializationError
from swf_domain.model import Job, Workflow

ARGUMENTS = ":::"
FILES = "::::"
#: ``{}``, ``{#}``, ``{.}``, ``{/}``, ``{//}``, ``{/.}`` and the same with a source number.
_REPLACEMENT = re.compile(r"\{(\d*)(#|\.|/|//|/\.|)\}")


@dataclass(frozen=True, slots=True)
class MapJob:
    """One job of a map: its sequence number, its inputs and its command words."""

    seq: int
    inputs: tuple[str, ...]
    argv: list[str]


def split_command_and_sources(words: Sequence[str]) -> tuple[list[str], list[list[str]]]:
    """The template words before the first ``:::``/``::::``, and the argument sources after
    it (each a list of ``:::`` values, or ``[FILES, path, ...]`` for ``::::``)."""
    index = next((i for i, word in enumerate(words) if word in (ARGUMENTS, FILES)), len(words))
    sources: list[list[str]] = []
    for word in words[index:]:
        if word in (ARGUMENTS, FILES):
            sources.append([word])
        else:
            sources[-1].append(word)
    return list(words[:index]), sources


def read_sources(
    sources: Sequence[list[str]], arg_files: Sequence[str], stdin: TextIO
) -> list[list[str]]:
    """Each source's inputs, in order: ``:::`` values, lines of ``::::`` files and ``-a``."""
    found: list[list[str]] = []
    for source in sources:
        kind, values = source[0], source[1:]
        if not values:
            raise SerializationError(f"'{kind}' is followed by no {_what(kind)}")
        found.append(values if kind == ARGUMENTS else _lines_of(values, stdin))
    found.extend(_lines_of([path], stdin) for path in arg_files)
    return found


def _what(kind: str) -> str:
    return "argument" if kind == ARGUMENTS else "file"


def _lines_of(paths: Iterable[str], stdin: TextIO) -> list[str]:
    lines: list[str] = []
    for path in paths:
        if path == "-":
            lines += stdin.read().splitlines()
            continue
        try:
            lines += Path(path).read_text().splitlines()
        except OSError as error:
            raise SerializationError(f"{path}: cannot read: {error.strerror}") from error
    return lines


def template_words(command: Sequence[str]) -> list[str]:
    """One word is a command line to split like a shell would; several are already split
    (the shell did it). Without a replacement string, ``{}`` goes at the end."""
    if not command:
        raise SerializationError("no command given before ':::'")
    try:
        words = shlex.split(command[0]) if len(command) == 1 else list(command)
    except ValueError as error:
        raise SerializationError(f"command {command[0]!r}: {error}") from error
    if not words:
        raise SerializationError("the command is empty")
    if not any(_REPLACEMENT.search(word) for word in words):
        words.append("{}")
    return words


def expand(words: Sequence[str], sources: Sequence[list[str]]) -> list[MapJob]:
    """Every job: one per combination of inputs (one per input with one source)."""
    jobs = []
    for seq, inputs in enumerate(itertools.product(*sources), start=1):
        argv = [_fill(word, inputs, seq) for word in words]
        jobs.append(MapJob(seq, tuple(inputs), argv))
    return jobs


def _fill(word: str, inputs: Sequence[str], seq: int) -> str:
    def replace(match: re.Match[str]) -> str:
        number, form = match.group(1), match.group(2)
        if form == "#":
            return str(seq) if not number else match.group(0)
        if number:
            position = int(number)
            if not 1 <= position <= len(inputs):
                return match.group(0)  # no such source: left as written, as GNU Parallel does
            return transform(inputs[position - 1], form)
        return transform(" ".join(inputs), form)

    return _REPLACEMENT.sub(replace, word)


def transform(value: str, form: str) -> str:
    """An input as a replacement string ``form`` asks: "", ".", "/", "//" or "/."."""
    if form == "":
        return value
    if form == ".":
        return _without_extension(value)
    if form == "/":
        return value.rsplit("/", 1)[-1]
    if form == "//":
        return value.rsplit("/", 1)[0] if "/" in value else "."
    return _without_extension(value.rsplit("/", 1)[-1])  # "/."


def _without_extension(value: str) -> str:
    """``dir/a.tar.gz`` -> ``dir/a.tar``; a dot in a directory name is not an extension."""
    return re.sub(r"\.[^/.]+$", "", value)


def map_workflow(jobs: Sequence[MapJob], name: str, working_directory: str | None) -> Workflow:
    """The workflow of a map: independent jobs, named by their inputs, run where the user
    typed the command."""
    cwd = working_directory or os.getcwd()
    built = [
        Job(list(job.argv), name=" ".join(job.inputs) or str(job.seq), working_directory=cwd)
        for job in jobs
    ]
    return Workflow(built, name=name)
