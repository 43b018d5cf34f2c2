"""Reading an INI file exactly as soma-workflow does, but remembering where each value is.

soma-workflow reads its file with :class:`configparser.ConfigParser` and its defaults
(``%`` interpolation, ``DEFAULT`` section, strict duplicates, ``=`` or ``:``); using the same
parser guarantees the same values. configparser forgets line numbers, so a light second
pass over the text finds the line of each option: error messages and ``swf config show``
can then point at ``file:[section]:line N``.
"""

from __future__ import annotations

import configparser
import re
from dataclasses import dataclass
from pathlib import Path

from swf_domain.errors import ConfigurationError

from .options import RAW_OPTIONS, canonical_name

_SECTION_LINE = re.compile(r"\[(?P<header>.+)\]")
_OPTION_LINE = re.compile(r"(?P<option>.*?)\s*[=:]")
_COMMENT_PREFIXES = ("#", ";")
#: Locations of values taken from the environment start with this.
ENV_SOURCE_PREFIX = "env "


@dataclass(frozen=True, slots=True)
class RawValue:
    """One option's text and a human-readable place it came from."""

    name: str
    text: str
    location: str

    @property
    def from_environment(self) -> bool:
        """Relative paths from a file are relative to it; from the environment, to cwd."""
        return self.location.startswith(ENV_SOURCE_PREFIX)


class IniDocument:
    """A parsed configuration file: sections in file order, values with their locations."""

    def __init__(self, path: Path, parser: configparser.ConfigParser, lines: LineIndex) -> None:
        self.path = path
        self._parser = parser
        self._lines = lines

    @property
    def sections(self) -> list[str]:
        """Section names (resource ids) in file order, ``DEFAULT`` excluded."""
        return self._parser.sections()

    def has_section(self, section: str) -> bool:
        return self._parser.has_section(section)

    def section_location(self, section: str) -> str:
        line = self._lines.section_line(section)
        suffix = f":line {line}" if line is not None else ""
        return f"{self.path}:[{section}]{suffix}"

    def option_location(self, section: str, key: str) -> str:
        """``file:[section]:line N`` of an option, from ``DEFAULT`` if inherited from it."""
        for where in (section, configparser.DEFAULTSECT):
            line = self._lines.option_line(where, key)
            if line is not None:
                return f"{self.path}:[{where}]:line {line}"
        return f"{self.path}:[{section}]"

    def inherited(self, section: str, key: str) -> bool:
        """True when the section gets the option from ``DEFAULT`` (not written in it)."""
        return not self._parser.has_option(section, key) or (
            self._lines.option_line(section, key) is None and key in self._parser.defaults()
        )

    def keys(self, section: str) -> list[str]:
        """Lowercase option names of a section in file order, ``DEFAULT`` ones included."""
        return self._parser.options(section)

    def raw_text(self, section: str, key: str) -> str | None:
        """An option's text without interpolation (never fails), None when absent."""
        if not self._parser.has_option(section, key):
            return None
        return self._parser.get(section, key, raw=True)

    def spelling(self, section: str, key: str) -> str:
        """The documented name of an option, else the name as the user wrote it."""
        return canonical_name(key) or self._lines.spelling(section, key) or key

    def value(self, section: str, key: str) -> RawValue | None:
        """An option's value (``DEFAULT`` inherited), interpolated unless it is a format.

        Interpolation errors become a :class:`ConfigurationError` naming the option.
        """
        if not self._parser.has_option(section, key):
            return None
        location = self.option_location(section, key)
        name = self.spelling(section, key)
        try:
            text = self._parser.get(section, key, raw=name in RAW_OPTIONS)
        except configparser.Error as exc:
            message = str(exc).replace("\n", " ")
            raise ConfigurationError(f"{location}: option {name}: {message}") from None
        return RawValue(name=name, text=text, location=location)


class LineIndex:
    """Line numbers of section headers and option names, found by a tolerant scan.

    It mirrors configparser's rules (comments, indented continuation lines) closely
    enough for locations; a line it cannot place only loses its ``line N`` suffix.
    """

    def __init__(self, text: str) -> None:
        self._sections: dict[str, int] = {}
        self._options: dict[tuple[str, str], tuple[int, str]] = {}
        self._scan(text)

    def section_line(self, section: str) -> int | None:
        return self._sections.get(section)

    def option_line(self, section: str, key: str) -> int | None:
        found = self._options.get((section, key.lower()))
        return found[0] if found else None

    def spelling(self, section: str, key: str) -> str | None:
        """The option name as the user wrote it (configparser lowercases it)."""
        for where in (section, configparser.DEFAULTSECT):
            found = self._options.get((where, key.lower()))
            if found:
                return found[1]
        return None

    def _scan(self, text: str) -> None:
        section: str | None = None
        option_indent: int | None = None
        for number, line in enumerate(text.splitlines(), start=1):
            stripped = line.strip()
            if not stripped or stripped.startswith(_COMMENT_PREFIXES):
                continue
            indent = len(line) - len(line.lstrip())
            if option_indent is not None and indent > option_indent:
                continue  # continuation of the previous option's value
            header = _SECTION_LINE.match(stripped)
            if header:
                section = header.group("header")
                self._sections.setdefault(section, number)
                option_indent = None
                continue
            option = _OPTION_LINE.match(stripped)
            if option and section is not None:
                name = option.group("option").strip()
                self._options[(section, name.lower())] = (number, name)
                option_indent = indent


def read_ini(path: Path) -> IniDocument:
    """Parse ``path``; any unreadable or malformed file is a :class:`ConfigurationError`."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigurationError(f"{path}: configuration file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"{path}: cannot read configuration file: {exc}") from None
    return parse_ini(text, path)


def parse_ini(text: str, path: Path) -> IniDocument:
    """Parse configuration text; ``path`` is only used to name the file in messages."""
    parser = configparser.ConfigParser()
    try:
        parser.read_string(text, source=str(path))
    except configparser.Error as exc:
        raise ConfigurationError(_syntax_message(path, text, exc)) from None
    return IniDocument(path, parser, LineIndex(text))


def _syntax_message(path: Path, text: str, exc: configparser.Error) -> str:
    """One line naming file and line: configparser's own texts span several lines."""
    lines = text.splitlines()

    def line_text(number: int) -> str:
        return lines[number - 1].strip() if 0 < number <= len(lines) else ""

    if isinstance(exc, configparser.DuplicateOptionError):
        return (
            f"{path}:[{exc.section}]:line {exc.lineno}: option {exc.option!r} is set twice "
            "in this section"
        )
    if isinstance(exc, configparser.DuplicateSectionError):
        return f"{path}:line {exc.lineno}: section [{exc.section}] appears twice"
    if isinstance(exc, configparser.MissingSectionHeaderError):
        return (
            f"{path}:line {exc.lineno}: option line before any [section] header: "
            f"{line_text(exc.lineno)!r}"
        )
    if isinstance(exc, configparser.ParsingError):
        bad = ", ".join(f"line {number}: {line_text(number)!r}" for number, _ in exc.errors)
        return f"{path}: cannot parse {bad} (expected 'OPTION = value')"
    return f"{path}: {exc}"
