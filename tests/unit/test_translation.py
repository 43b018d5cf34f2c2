"""Translation files and tables for SharedResourcePath."""

from __future__ import annotations

import pytest

from swf_domain.errors import ConfigurationError, JobError
from swf_domain.model import SharedResourcePath
from swf_domain.translation import (
    TranslationTable,
    UntranslatablePathError,
    parse_translation_text,
    translate,
    translated_root_path,
)

FILE_TEXT = """\
# brainvisa databases on this cluster
db1   /neurospin/data/db1

db2\t/home/me/my data/db2   \n\
   db1 /override/db1
"""


def test_parse_skips_blank_lines_and_comments_and_keeps_spaces_in_paths() -> None:
    assert parse_translation_text(FILE_TEXT, "tr.sjtr") == {
        "db1": "/override/db1",  # a later line wins, as in soma-workflow
        "db2": "/home/me/my data/db2",
    }


def test_parse_error_names_file_and_line() -> None:
    with pytest.raises(ConfigurationError, match=r"^tr\.sjtr, line 2: expected 'uuid path'"):
        parse_translation_text("a /x\nlonely\n", "tr.sjtr")


def test_parse_applies_expand_hook() -> None:
    text = "u $HOME/data\n"
    assert parse_translation_text(text, "f", expand=lambda s: s.replace("$HOME", "/h")) == {
        "u": "/h/data"
    }


def test_table_from_namespaces_and_with_file() -> None:
    table = TranslationTable.from_namespaces({"ns": {"u1": "/r1"}})
    table = table.with_file("ns2", "u2 /r2\n", "f2")
    assert len(table) == 2
    assert ("ns2", "u2") in table
    assert set(table) == {("ns", "u1"), ("ns2", "u2")}
    assert table.namespaces() == {"ns", "ns2"}
    assert table.root("ns2", "u2") == "/r2"


def test_translate_joins_root_and_relative_path_and_applies_pattern() -> None:
    table = TranslationTable.from_namespaces({"ns": {"u1": "/r1"}})
    path = SharedResourcePath("sub/file.nii", "ns", "u1")
    assert translated_root_path(path, table) == "/r1/sub/file.nii"
    assert translate("--in=" + path + ".gz", table) == "--in=/r1/sub/file.nii.gz"  # type: ignore[arg-type]


def test_unknown_namespace_is_named() -> None:
    table = TranslationTable.from_namespaces({"ns": {"u1": "/r1"}})
    with pytest.raises(UntranslatablePathError, match="namespace 'other' has no translation"):
        translate(SharedResourcePath("x", "other", "u1"), table)


def test_unknown_uuid_is_named() -> None:
    table = TranslationTable.from_namespaces({"ns": {"u1": "/r1"}})
    with pytest.raises(UntranslatablePathError, match=r"uuid 'u9' is not in .* namespace 'ns'"):
        translate(SharedResourcePath("x", "ns", "u9"), table)


def test_missing_namespace_or_uuid() -> None:
    with pytest.raises(UntranslatablePathError, match="needs a namespace and a uuid"):
        translate(SharedResourcePath("x"), TranslationTable())


def test_untranslatable_is_a_job_error() -> None:
    assert issubclass(UntranslatablePathError, JobError)
