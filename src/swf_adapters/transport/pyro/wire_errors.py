"""Typed swf errors across the Pyro5 wire.

Pyro5 only rebuilds built-in and Pyro exceptions on the client side; any other class arrives
as an opaque ``SerializeError``. Users of the facade catch ``UnknownObjectError``,
``WorkflowError``... whatever process raised them, so every ``SomaWorkflowError`` is encoded
as a small dict (class name, args, plain-data attributes) and decoded back to the same class.

Decoding never imports a module named by the peer: the class is looked up among
``swf_domain.errors`` and the classes already loaded in this process, so a forged name can
only ever produce a known swf error.
"""

from __future__ import annotations

import sys
from typing import Any

import Pyro5.serializers

from swf_domain import errors as domain_errors
from swf_domain.errors import EngineError, SomaWorkflowError

#: ``__class__`` marker of the encoded form (no double underscore: Pyro refuses those).
WIRE_CLASS = "swf.RemoteError"

_PLAIN_SCALARS = (str, int, float, bool, type(None))


def _is_plain(value: object, depth: int = 0) -> bool:
    """True for data serpent carries faithfully (so an attribute survives the trip)."""
    if isinstance(value, _PLAIN_SCALARS):
        return True
    if depth > 8:
        return False
    if isinstance(value, list | tuple):
        return all(_is_plain(item, depth + 1) for item in value)
    if isinstance(value, dict):
        return all(
            isinstance(key, str | int) and _is_plain(item, depth + 1) for key, item in value.items()
        )
    return False


def _qualified_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def encode_error(error: BaseException) -> dict[str, Any]:
    """The dict form of a swf error: class name, args and plain-data attributes."""
    attributes = {name: value for name, value in vars(error).items() if _is_plain(value)}
    args = [arg if _is_plain(arg) else str(arg) for arg in error.args]
    lineage = [
        _qualified_name(cls) for cls in type(error).__mro__ if issubclass(cls, SomaWorkflowError)
    ]
    return {
        "__class__": WIRE_CLASS,
        "type": lineage[0] if lineage else _qualified_name(type(error)),
        "lineage": lineage,
        "message": str(error),
        "args": args,
        "attributes": attributes,
    }


def _domain_classes() -> dict[str, type[SomaWorkflowError]]:
    found: dict[str, type[SomaWorkflowError]] = {}
    for value in vars(domain_errors).values():
        if isinstance(value, type) and issubclass(value, SomaWorkflowError):
            found[_qualified_name(value)] = value
    return found


def _loaded_class(name: str) -> type[SomaWorkflowError] | None:
    """The swf error class called ``name`` if it is in swf_domain.errors or already loaded."""
    known = _domain_classes()
    if name in known:
        return known[name]
    module_name, _, qualname = name.rpartition(".")
    module = sys.modules.get(module_name)
    candidate = getattr(module, qualname, None) if module is not None else None
    if isinstance(candidate, type) and issubclass(candidate, SomaWorkflowError):
        return candidate
    return None


def _resolve_class(data: dict[str, Any]) -> type[SomaWorkflowError] | None:
    """The error's own class, else its nearest known base (its lineage is sent along)."""
    lineage = data.get("lineage")
    names = [str(name) for name in lineage] if isinstance(lineage, list | tuple) else []
    for name in [str(data.get("type", "")), *names]:
        found = _loaded_class(name)
        if found is not None:
            return found
    return None


def decode_error(data: dict[str, Any]) -> SomaWorkflowError:
    """Rebuild the error without calling its ``__init__`` (whose signature may differ)."""
    cls = _resolve_class(data)
    args = data.get("args")
    if cls is None:
        error: SomaWorkflowError = EngineError(f"{data.get('type')}: {data.get('message', '')}")
        return error
    error = cls.__new__(cls)
    error.args = tuple(args) if isinstance(args, list | tuple) else (str(data.get("message")),)
    attributes = data.get("attributes")
    if isinstance(attributes, dict):
        for name, value in attributes.items():
            if isinstance(name, str) and not name.startswith("__"):
                setattr(error, name, value)
    return error


def _decode_hook(classname: str, data: dict[str, Any]) -> SomaWorkflowError:
    return decode_error(data)


def register_error_codec() -> None:
    """Teach Pyro5's serializers (both directions) about swf errors; idempotent."""
    Pyro5.serializers.SerializerBase.register_class_to_dict(SomaWorkflowError, encode_error)
    Pyro5.serializers.SerializerBase.register_dict_to_class(WIRE_CLASS, _decode_hook)


register_error_codec()
