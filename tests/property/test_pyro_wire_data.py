"""wire_data.pack/unpack give back exactly the plain data an in-process call would see."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from swf_adapters.transport.pyro.wire_data import pack, unpack
from swf_domain.errors import SerializationError

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text()
    | st.sampled_from(["~t", "~d"])
)
keys = st.text() | st.integers() | st.sampled_from(["~t", "~d"])
plain_data = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=4).map(tuple)
        | st.dictionaries(keys, inner, max_size=4)
    ),
    max_leaves=30,
)


def _shape(value: Any) -> Any:
    """Value with its container types spelled out (== alone treats 1 == True == 1.0)."""
    if isinstance(value, list | tuple):
        return (type(value).__name__, [_shape(item) for item in value])
    if isinstance(value, dict):
        return ("dict", sorted((repr(k), _shape(v)) for k, v in value.items()))
    return (type(value).__name__, value)


@settings(max_examples=300, deadline=None)
@given(plain_data)
def test_round_trip_keeps_values_and_container_types(value: Any) -> None:
    assert _shape(unpack(pack(value))) == _shape(value)


def test_a_value_that_is_not_plain_data_is_named() -> None:
    document = {"jobs": [{"command": ["echo", Path("/x")]}]}
    with pytest.raises(SerializationError, match=r"document\['jobs'\]\[0\]\['command'\]\[1\]"):
        pack(document, "document")


def test_corrupt_text_is_a_serialization_error() -> None:
    with pytest.raises(SerializationError, match="corrupt"):
        unpack("{not json", "workflow list")
