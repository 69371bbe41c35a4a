"""Text no service can store: a NUL character or a lone surrogate, found in a value or a document with its path.

Neither fits a PostgreSQL `text` column (the driver fails, which was a 500) nor a UTF-8 log line. Paths are what a
caller sees in `extensions.field`: the argument path for a literal (`filter.regionPrefix`, `input.partners.0.title`)
and the variable path for a variable (`regionPrefix` for `$regionPrefix`), as graphql-core names variables.

Both walks have a fast path in C for the common case of clean input (orjson for values, `str` methods for the
document's text) and walk the structure in Python only when that sees something suspicious.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import orjson
from graphql import (
    ArgumentNode,
    DocumentNode,
    ListValueNode,
    ObjectValueNode,
    StringValueNode,
    ValueNode,
    VariableDefinitionNode,
)

from demimas_common.errors import BadUserInput

__all__ = ["document_problem", "text_problem", "value_problem"]

Path = tuple[str | int, ...]


def text_problem(text: str) -> str | None:
    """What makes `text` unstorable, or None."""
    if "\x00" in text:
        return "a NUL character (U+0000)"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return "a lone surrogate (U+D800 to U+DFFF), which is not a character"
    return None


def value_problem(value: Any, path: Path = ()) -> BadUserInput | None:
    """The first NUL or lone surrogate in a JSON-like value (object keys included), or None."""
    try:
        # orjson refuses surrogates and writes NUL as \u0000; a clean value (the usual case) costs one C call
        if b"\\u0000" not in orjson.dumps(value):
            return None
    except (TypeError, orjson.JSONEncodeError):
        pass
    stack: list[tuple[Any, Path]] = [(value, path)]
    while stack:
        item, at = stack.pop()
        if isinstance(item, str):
            what = text_problem(item)
            if what:
                return _refused(at, what)
        elif isinstance(item, Mapping):
            for key, child in item.items():
                what = text_problem(str(key))
                if what:
                    return _refused(at, what, " has a key that")
                stack.append((child, (*at, key)))
        elif isinstance(item, list | tuple):
            stack.extend((child, (*at, index)) for index, child in enumerate(item))
    return None


def document_problem(document: DocumentNode) -> BadUserInput | None:
    """The first string literal (an argument's, a variable default's) with a NUL or lone surrogate, or None."""
    source = document.loc.source.body if document.loc is not None else None
    if source is not None and source.isascii() and "\x00" not in source and "\\u" not in source:
        return None  # no literal can hold either: no raw NUL, no escape, nothing beyond ASCII
    for definition in document.definitions:
        for node, path in _literals(definition):
            what = text_problem(node.value)
            if what:
                return _refused(path, what)
    return None


def _refused(path: Path, what: str, where: str = "") -> BadUserInput:
    name = ".".join(str(part) for part in path)
    return BadUserInput(f"{name or 'a value'}{where} contains {what}; remove it", field=name or None)


def _literals(root: Any) -> Iterator[tuple[StringValueNode, Path]]:
    """Every string literal under `root` with its path: argument name, then object fields and list indices."""
    stack: list[tuple[Any, Path]] = [(root, ())]
    while stack:
        node, path = stack.pop()
        if isinstance(node, StringValueNode):
            yield node, path
        elif isinstance(node, ListValueNode):
            stack.extend((item, (*path, index)) for index, item in enumerate(node.values))
        elif isinstance(node, ObjectValueNode):
            stack.extend((item.value, (*path, item.name.value)) for item in node.fields)
        elif isinstance(node, ArgumentNode):
            stack.append((node.value, (node.name.value,)))
        elif isinstance(node, VariableDefinitionNode):
            if node.default_value is not None:
                stack.append((node.default_value, (node.variable.name.value,)))
            stack.extend((directive, ()) for directive in node.directives or ())
        elif not isinstance(node, ValueNode):
            # operations, fragments, fields, directives: their arguments and children
            for attribute in ("variable_definitions", "directives", "arguments"):
                stack.extend((child, ()) for child in getattr(node, attribute, None) or ())
            selection_set = getattr(node, "selection_set", None)
            if selection_set is not None:
                stack.extend((child, ()) for child in selection_set.selections)
