"""The configuration reference, rendered from the models' own field descriptions.

The descriptions in :mod:`syncd.config` are the one place a key is documented; the README's
reference table and `syncd config reference` are both this rendering of them, so they cannot
drift apart (a test compares the README with it).
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from syncd.config import Config, ConnectionConfig, SourceConfig

# Tables whose key is a user-chosen name, shown as `<name>` in the dotted key.
_NAMED = {SourceConfig: "sources.<name>", ConnectionConfig: "connections.<name>"}


def _model_in(annotation: Any) -> tuple[type[BaseModel] | None, str]:
    """The model a field holds (directly, in a list, dict value or Optional) and the suffix."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, ""
    if origin in (list, tuple) and args:
        model, _ = _model_in(args[0])
        return model, "[]"
    if origin is dict and len(args) == 2:
        model, _ = _model_in(args[1])
        return model, ".<name>"
    if origin in (typing.Union, types.UnionType):
        for arg in args:
            model, suffix = _model_in(arg)
            if model is not None:
                return model, suffix
    return None, ""


def _type_name(annotation: Any) -> str:
    if typing.get_origin(annotation) is typing.Literal:
        return " or ".join(repr(arg) for arg in typing.get_args(annotation))
    text = repr(annotation) if not isinstance(annotation, type) else annotation.__name__
    for noise in ("typing.", "pydantic.types.", "syncd.config.", "<class '", "'>"):
        text = text.replace(noise, "")
    return text.replace("NoneType", "None")


def _default(info: FieldInfo) -> str:
    if info.default_factory is not None:
        value = info.default_factory()  # type: ignore[call-arg]
        if isinstance(value, BaseModel):
            return "(table)"
        return f"`{value!r}`" if value not in ({}, []) else "empty"
    if info.default is PydanticUndefined:
        return "**required**"
    return f"`{info.default!r}`" if info.default is not None else "none"


def rows(model: type[BaseModel] = Config, prefix: str = "") -> Iterator[tuple[str, str, str, str]]:
    """(dotted key, type, default, description) for every key, depth first, in file order."""
    for name, info in model.model_fields.items():
        if info.exclude:
            continue
        key = f"{prefix}{info.alias or name}"
        child, suffix = _model_in(info.annotation)
        if child in _NAMED:
            yield from rows(child, _NAMED[child] + ".")
            continue
        description = (info.description or "").replace("|", "\\|").replace("\n", " ")
        if child is not None:
            yield key + suffix, "table", _default(info), description
            yield from rows(child, f"{key}{suffix}.")
        else:
            kind = _type_name(info.annotation).replace("|", "\\|")
            yield key, f"`{kind}`", _default(info), description


def markdown() -> str:
    """The reference as a Markdown table."""
    lines = ["| key | type | default | meaning |", "|---|---|---|---|"]
    lines += [f"| `{key}` | {kind} | {default} | {text} |" for key, kind, default, text in rows()]
    return "\n".join(lines) + "\n"
