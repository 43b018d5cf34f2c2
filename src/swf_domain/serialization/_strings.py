"""The strings a read job keeps, copied out of the decoded document.

``json.loads`` allocates a job's name and command words among the document's other,
short-lived objects (about 1.4 KB of them per job). Kept as they are, one surviving
string every few hundred bytes pins every memory page of the document once it is
freed: the engine daemon kept 458 MB for a 200,000-job submission, 307 MB once these
strings are copies made after it. Equal command words become one object, too.
"""

from __future__ import annotations

from ..model import Job


def own_strings(job: Job, words: dict[str, str]) -> None:
    """Give ``job`` its own name and command words (``words``: one reader's table)."""
    name = job.name
    if type(name) is str:
        job.name = _copy(name)
    command = job.command
    if type(command) is list:
        job.command = [_word(words, item) if type(item) is str else item for item in command]


def _word(words: dict[str, str], item: str) -> str:
    found = words.get(item)
    if found is None:
        found = words[item] = _copy(item)
    return found


def _copy(text: str) -> str:
    """A new object equal to ``text``: ``str(text)`` and ``text[:]`` return ``text``."""
    return "".join((text, ""))
